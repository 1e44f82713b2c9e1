"""Pinned passages of the default corpus and the real council PDFs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest import ingest_files

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
# ../shared beside the project root, as in every checkout and in CI.
EXTERNAL = Path(__file__).resolve().parents[2].parent / "shared" / "external"

CARLISLE = "carlisle-city-council-member-officer-protocol-2006-draft.txt"
LGA = "lga-model-councillor-code-of-conduct-2020.txt"
NEWTON = "newton-abbot-town-council-member-officer-protocol-2022.pdf"
UNNAMED = "protocol-on-councillor-officer-relations.txt"
WATFORD = "watford-borough-council-code-of-conduct-protocols.txt"
WOKINGHAM = "wokingham-borough-council-constitution-9-3-member-officer-protocol.pdf"


@pytest.fixture(scope="module")
def corpus():
    started = time.perf_counter()
    result = ingest_files([CORPUS])
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"ingest of the default corpus took {elapsed:.1f} s"
    return result


def find(result, source, clause, phrase=""):
    hits = [p for p in result.passages if p.source == source and p.clause == clause and phrase in p.text]
    assert hits, f"no passage {clause!r} containing {phrase!r} in {source}"
    return hits[0]


def test_every_document_ingested(corpus):
    assert not corpus.skipped
    assert sorted(d.source for d in corpus.documents) == sorted([CARLISLE, LGA, NEWTON, UNNAMED, WATFORD, WOKINGHAM])
    for doc in corpus.documents:
        assert len(doc.passages) >= 25, doc.source
        assert doc.inferred == {}


@pytest.mark.parametrize("source,clause,phrase,section", [
    (CARLISLE, "117", "Disputes as to the validity", "Members' Access to Documents and Information"),
    (CARLISLE, "14", "respect the roles and duties", "Principles"),
    (CARLISLE, "59", "respect the position of Mayor", "Mayor and Officers"),
    (CARLISLE, "1.1", "Members will be aware", "1. BACKGROUND INFORMATION AND OPTIONS"),
    (CARLISLE, "2.1", "subject of consultation already", "2. CONSULTATION"),
    (LGA, "1.1", "I treat other councillors and members of the public with respect", "1. Respect"),
    (LGA, "3.1", "impartiality", "3. Impartiality of officers of the council"),
    (LGA, "10.2", "£50 within 28 days", "10. Gifts and hospitality"),
    (LGA, "9.1", "I register and disclose my interests", "9. Interests"),
    (UNNAMED, "3(c)", "undue pressure", "3. Undue pressure"),
    (UNNAMED, "6(h)", "appropriate Director", "6. Provision of information/advice"),
    (UNNAMED, "10(a)", "Excellent Authority", "10. Conclusion"),
    (WATFORD, "2", "Mayor and Cabinet", "Definitions"),
    (WATFORD, "113", "need to know basis", "Members' Access to Documents and Information"),
    (WATFORD, "149", "Standards Committee", "Interpretation, Complaints and Allegations of Breaches"),
    (WOKINGHAM, "3(h)", "with the exception of political assistants", "3 The Relationship Between Members and Officers - General"),
    (WOKINGHAM, "10(m)", "no Member will refer in public", "10 Political Groups and Officers (excluding Political Assistants)"),
    (WOKINGHAM, "5", "Disputes as to the validity", "Supporting Guidance on Members' Access to Documents and Information"),
    (WOKINGHAM, "1(c)", "every elected-Member represents", "1. The Role of Members"),
])
def test_clause_reference_and_section(corpus, source, clause, phrase, section):
    passage = find(corpus, source, clause, phrase)
    assert passage.section.split(" > ")[-1] == section


def test_carlisle_contents_list_is_not_a_passage(corpus):
    carlisle = [p for p in corpus.passages if p.source == CARLISLE]
    assert not any(p.text.strip() in ("Preamble", "Definitions", "Media Relations") for p in carlisle)
    # the real clause 1 sits under the real heading, not the contents list
    assert find(corpus, CARLISLE, "1", "Mutual trust").section.endswith("Preamble")


@pytest.mark.parametrize("source,clause,lead_in,item", [
    (CARLISLE, "137", "When making visits as individual members, members should", "notify the ward member(s) beforehand"),
    (CARLISLE, "30", "Members are not authorised to instruct officers other than", "political assistants"),
    (WATFORD, "134", "When making visits as individual members", "Comply with health and safety"),
    (LGA, "4.1", "I do not disclose information:", "I have consulted the Monitoring Officer"),
])
def test_list_keeps_its_lead_in(corpus, source, clause, lead_in, item):
    passage = find(corpus, source, clause, item)
    assert lead_in in passage.text


def test_lga_clause_carries_as_a_councillor_lead_in(corpus):
    passage = find(corpus, LGA, "2.1")
    assert passage.text.startswith("As a councillor:")
    assert "I do not bully any person." in passage.text
    assert "2.2" not in passage.text


@pytest.mark.parametrize("clause,phrase", [
    ("Table 1: Sponsorship", "Any payment or provision of any other financial benefit"),
    ("Table 1: Contracts", "councillor is living as if they were spouses"),
    ("Table 1: Corporate tenancies", "the landlord is the council"),
    ("Table 1: Securities", "one hundredth of the total issued share capital"),
    ("Table 1: Land and Property", "beneficial interest in land"),
])
def test_lga_interest_table_rows(corpus, clause, phrase):
    passage = find(corpus, LGA, clause, phrase)
    assert passage.text.startswith("Subject: ")
    assert "Description: " in passage.text
    assert "<p>" not in passage.text and "</p>" not in passage.text


@pytest.mark.parametrize("source,phrase,pages", [
    # a clause broken by a page break is rejoined and cites both pages
    (WOKINGHAM, "the process for the consideration of Member Code of Conduct complaints", (2, 3)),
    (NEWTON, "same rights to Council information as members", (7, 8)),
    (WOKINGHAM, "whenever practicable, notify and make advance arrangements", (4, 5)),
    (NEWTON, "Clerk prior to issue", (8, 9)),
])
def test_clause_across_page_break(corpus, source, phrase, pages):
    hits = [p for p in corpus.passages if p.source == source and phrase in p.text]
    assert hits, phrase
    assert hits[0].pages == pages


def test_pdf_running_headers_removed(corpus):
    for doc in corpus.documents:
        if doc.source == NEWTON:
            assert "Adopted February 2022" not in doc.text.replace("Date of adoption February 2022", "")
            assert "Page 3" not in doc.text
        if doc.source == WOKINGHAM:
            assert "Chapter 9.3 Member/Officer Protocol" not in doc.text


def test_passages_are_bounded_and_spans_point_into_text(corpus):
    for doc in corpus.documents:
        for p in doc.passages:
            assert len(p.text) <= 3000
            assert 0 <= p.start < p.end <= len(doc.text)
            assert doc.text[p.start:p.end].strip()
            if doc.source.endswith(".pdf"):
                assert p.pages and all(1 <= n <= doc.pages for n in p.pages)
            else:
                assert p.pages is None
    residue = [p for p in corpus.passages if "**" in p.text or "<p>" in p.text or "\x7f" in p.text]
    assert not residue


def test_ids_are_unique_and_stable(corpus):
    ids = [p.id for p in corpus.passages]
    assert len(ids) == len(set(ids))
    again = ingest_files([CORPUS])
    assert [p.id for p in again.passages] == ids


@pytest.mark.skipif(not EXTERNAL.is_dir(), reason="shared external PDFs not present")
def test_external_pdfs(caplog):
    result = ingest_files(sorted(EXTERNAL.glob("*.pdf")))
    assert not result.skipped
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]
    by_source = {d.source: d for d in result.documents}
    herts = by_source["hertingfordbury-parish-council-standing-orders-2019.pdf"]
    tintern = by_source["tintern-community-council-standing-orders-2018.pdf"]
    assert herts.authority == "Hertingfordbury Parish Council"
    assert tintern.authority == "Tintern Community Council"
    for doc in (herts, tintern):
        assert doc.attribution == "inferred" and doc.inferred["authority"] == doc.authority
        assert not doc.warnings
    clauses = {p.clause for p in herts.passages}
    assert {"1(A)", "1(B)", "2(A)", "3(A)", "12(A)", "19(A)"} <= clauses
    clauses = {p.clause for p in tintern.passages}
    assert {"1(a)", "1(b)", "2(a)", "3(a)"} <= clauses
    complaint = by_source["tintern-community-council-complaints-procedure-2018.pdf"]
    assert {"1", "2", "3"} <= {p.clause for p in complaint.passages}

"""Layout rules pinned on the real council PDFs in ../shared/external and the corpus.

Each test names the general rule it checks; the documents are only where the rule
was seen failing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest import ingest_files

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
# ../shared beside the project root, as in every checkout and in CI.
EXTERNAL = Path(__file__).resolve().parents[2].parent / "shared" / "external"
HERTS = "hertingfordbury-parish-council-standing-orders-2019.pdf"
TINTERN = "tintern-community-council-standing-orders-2018.pdf"

needs_external = pytest.mark.skipif(not EXTERNAL.is_dir(), reason="shared external PDFs not present")


@pytest.fixture(scope="module")
def external():
    result = ingest_files(sorted(EXTERNAL.glob("*.pdf")))
    return {d.source: d for d in result.documents}


def passage(doc, clause, phrase=""):
    hits = [p for p in doc.passages if p.clause == clause and phrase in p.text]
    assert hits, f"no passage {clause!r} containing {phrase!r} in {doc.source}"
    return hits[0]


@needs_external
@pytest.mark.parametrize("source,clause,phrase,section_end", [
    # a bare label before a one-letter word ("H A councillor", "a A resolution") starts a paragraph
    (HERTS, "1(H)", "A councillor may move an amendment to his own motion", "1 Rules of Debate at Meetings"),
    (HERTS, "1(I)", "If there is more than one amendment", "1 Rules of Debate at Meetings"),
    (HERTS, "3(M)", "may not provide an oral report", "3 Meetings Generally"),
    (HERTS, "3(N)", "The press shall be provided", "3 Meetings Generally"),
    (HERTS, "9(A)", "A motion shall relate to the responsibilities",
     "9 Motions for a Meeting that Require Written Notice to be given to the Proper Officer"),
    (TINTERN, "7(a)", "A resolution shall not be reversed", "7 PREVIOUS RESOLUTIONS"),
    (TINTERN, "17(a)", "Proper practices", "17 ACCOUNTS AND ACCOUNTING STATEMENTS"),
])
def test_bare_labelled_paragraphs(external, source, clause, phrase, section_end):
    found = passage(external[source], clause, phrase)
    label = clause.split("(")[-1].rstrip(")")
    assert not re.match(rf"{label} [A-Z\"“]", found.text), "the label stays out of the clause text"
    assert found.section.split(" > ")[-1] == section_end


@pytest.fixture(scope="module")
def corpus():
    result = ingest_files([CORPUS])
    return {d.source: d for d in result.documents}


NEWTON = "newton-abbot-town-council-member-officer-protocol-2022.pdf"
WOKINGHAM = "wokingham-borough-council-constitution-9-3-member-officer-protocol.pdf"


@needs_external
@pytest.mark.parametrize("source,clause,starts,section_end", [
    # a note under a numbered heading ("See also standing order 3(T) above.") is neither a
    # subheading nor the lead-in of the lettered paragraphs after it
    (HERTS, "11(A)", "The Council shall have in place and keep under review", "11 Management of Information"),
    (HERTS, "13(A)", "All councillors and non-councillors", "13 Code of Conduct and Dispensations"),
    (HERTS, "13(F)", "A dispensation request shall confirm:", "13 Code of Conduct and Dispensations"),
    (HERTS, "23(A)", "A legal deed shall not be executed", "23 Execution and Sealing of Legal Deeds"),
    (HERTS, "26(D)", "The decision of the Chairman", "26 Standing Orders Generally"),
    (TINTERN, "13(a)", "Councillors and non-councillors", "13 CODE OF CONDUCT AND DISPENSATIONS"),
    (TINTERN, "21(a)", "The Council may appoint a Data Protection Officer", "21 RESPONSIBILITIES UNDER DATA PROTECTION LEGISLATION"),
])
def test_notes_are_not_headings_or_lead_ins(external, source, clause, starts, section_end):
    found = passage(external[source], clause, starts)
    assert found.text.startswith(starts)
    assert found.section.split(" > ")[-1] == section_end


@needs_external
def test_note_inside_a_list_stays_with_its_item(external):
    herts = external[HERTS]
    # "See standing order 3(B) ..." sits between two bullets of 15(B): part of the list, not its lead-in
    assert not [p for p in herts.passages if p.text.startswith("See standing order 3(B)")]
    found = passage(herts, "15(B)", "See standing order 3(B)")
    assert found.text.startswith("The Proper Officer shall:")
    assert passage(herts, "15(B)", "Facilitate inspection of the minute book").text.startswith("The Proper Officer shall:")


def test_lead_in_is_a_sentence_ending_with_a_colon(corpus):
    newton = corpus[NEWTON]
    # a note under a bullet stays with that bullet, and the list keeps its real lead-in
    found = passage(newton, "", "This includes respecting the decisions made")
    assert "implement decisions of the council" in found.text
    assert passage(newton, "", "treat councillors fairly").text.startswith("Officers' must:")
    # bullets after a complete paragraph (ending with ".") are provisions on their own
    assert passage(newton, "", "Members will endeavour to give timely responses").text.startswith("Members will endeavour")
    # a bullet ending with ":" after a finished list leads in the bullets after it
    found = passage(newton, "", "never canvass support")
    assert found.text.startswith("If participating in the appointment of officers, members should:")
    assert "hearing and determining appeals" not in found.text
    wokingham = corpus[WOKINGHAM]
    found = passage(wokingham, "3(e)", "inform the Monitoring Officer")
    assert found.text.startswith("The conduct of Members and Officers should be such as to instil mutual confidence")
    assert passage(wokingham, "3(d)", "But personal familiarity can damage")
    assert passage(wokingham, "2(b)", "assist and advise all parts of the Council").text.startswith("Officers must assist")


@needs_external
def test_items_after_a_numbered_clause_cite_that_clause(external):
    # "21 Responsibilities ... (Below is not an exclusive list)." reads as a clause, not a
    # heading; the lettered paragraphs after it still belong to 21, not to heading 20
    assert passage(external[HERTS], "21(A)", "appoint a Data Protection Officer")


@needs_external
def test_lettered_paragraphs_after_a_roman_sub_list(external):
    tintern = external[TINTERN]
    # "p During the debate ..." follows "o ..." and its roman sub-list: p continues the letters
    assert passage(tintern, "1(p)", "During the debate on a motion").text.startswith("During the debate")
    assert passage(tintern, "1(t)", "Excluding motions moved under standing order 1(r)")
    assert "During the debate" not in passage(tintern, "1(o)").text


@needs_external
def test_long_sub_list_split_per_entry_with_its_lead_in(external):
    herts = external[HERTS]
    entries = [p for p in herts.passages if p.clause == "5(J)"]
    assert len(entries) > 5
    assert all(p.text.startswith("Following the election of the Chairman") for p in entries)
    # where the layout lost the first sub-item's label, the labels are not used to cite
    tintern = external[TINTERN]
    assert not [p for p in tintern.passages if p.clause.startswith(("15(b)(", "18(c)("))]


@needs_external
def test_contents_list_dropped_entirely(external):
    herts = external[HERTS]
    # the contents list ("CONTENTS", "Introduction", "1 Rules of debate at meetings", ...) yields
    # neither passages nor section headings
    assert not [p for p in herts.passages if "CONTENTS" in p.section or "Introduction" in p.section]
    assert passage(herts, "1(A)", "Motions on the agenda").section.endswith("> 1 Rules of Debate at Meetings")
    assert passage(herts, "26(D)").section.endswith("> 26 Standing Orders Generally")
    # an index with dotted leaders at the end of a document is not text to retrieve
    tintern = external[TINTERN]
    assert not [p for p in tintern.passages if "....." in p.text]


def test_lead_in_glued_to_a_bullet_is_split_off(corpus):
    newton = corpus[NEWTON]
    # "... influence decisions improperly. Officers can expect from councillors:" came out as one line
    found = passage(newton, "", "That officers will not use their contact with councillors")
    assert "Officers can expect from councillors" not in found.text
    found = passage(newton, "", "Not to be bullied or to be put under undue pressure")
    assert found.text.startswith("Officers can expect from councillors:")
    assert "All Councillors can expect" not in found.text
    found = passage(newton, "", "An officer may attend but is not obliged")
    assert found.text.startswith("Provided the meeting has not been arranged on a party political basis:")
    assert "In seeking to deal with constituents" not in found.text
    assert passage(newton, "", "In seeking to deal with constituents").text.startswith("In seeking")


@pytest.mark.parametrize("first,second,joined", [
    ("9.3.4 The Mayor, Deputy Mayor, Members,", "Chairman, Vice-Chairman",
     "9.3.4 The Mayor, Deputy Mayor, Members, Chairman, Vice-Chairman"),
    ("4 Relations with the Press and", "Media", "4 Relations with the Press and Media"),
    ("5 Members /", "Officers", "5 Members / Officers"),
])
def test_wrapped_numbered_heading_is_rejoined(first, second, joined):
    from ingest.cleanup import clean_document
    body = "Members have three main areas of responsibility, set out in the paragraphs below here."
    paras = clean_document([f"{first}\n{second}\n{body}\n"], True)
    assert [p.text for p in paras] == [joined, body]


def test_wokingham_wrapped_heading_section(corpus):
    found = passage(corpus[WOKINGHAM], "", "have additional responsibilities")
    assert found.section.split(" > ")[-1] == \
        "9.3.4 The Mayor, Deputy Mayor, Members of the Executive and Deputy Executive Members, Chairman, Vice-Chairman"
    assert not [p for p in corpus[WOKINGHAM].passages if p.section.endswith("> Chairman, Vice-Chairman")]


CARLISLE = "carlisle-city-council-member-officer-protocol-2006-draft.txt"


def test_front_matter_fields_are_not_headings_or_passages(corpus):
    carlisle = corpus[CARLISLE]
    # "Public", "Inside Policy Framework", "Recorded in Forward Plan: No" on a covering sheet
    # are fields, not section headings
    assert not [p for p in carlisle.passages if p.section.split(" > ")[0] in ("Public", "Inside Policy Framework")]
    # "Key Decision: No", "Ext: 7004" are kept verbatim, inside a neighbouring passage
    assert "Key Decision: No" in passage(carlisle, "", "Key Decision: No").text
    assert "\n" in passage(carlisle, "", "Ext: 7004").text
    for doc in corpus.values():
        # (a lead-in ending with ":" before a run of defined terms is a known remaining case)
        fragments = [p.text for p in doc.passages if len(p.text.split()) <= 3 and not p.text.endswith(":")]
        assert not fragments, (doc.source, fragments)
    newton = corpus[NEWTON]
    assert not [p for p in newton.passages if "Date of adoption" in p.section]


def test_titles_of_numbered_lines_and_wrapped_sentences(corpus):
    # "2.2 Consultation proposed." is a title: the paragraph after it belongs to 2.2
    assert passage(corpus[CARLISLE], "2.2", "Subject to the Executive being satisfied")
    # "... advice requested by" / "a Member." is one wrapped sentence, not a heading and item (a)
    wokingham = corpus[WOKINGHAM]
    assert passage(wokingham, "10", "advice requested by a Member.")
    assert not [p for p in wokingham.passages if p.text == "Member."]


def test_nested_sub_items_cited_with_all_parents(tmp_path):
    filler = "which the councillor should weigh with care before acting on it in any way at all"
    lines = [
        "Example Borough Council Code of Conduct",
        "4. Confidentiality",
        "4.1 As a councillor I do not disclose information:",
        f"(a) given to me in confidence by anyone, {filler}, {filler};",
        "(b) acquired by me which I believe, or ought reasonably to be aware, is of a confidential nature, unless:",
    ] + [f"({r}) case {r} applies, {filler}, {filler}, {filler};" for r in ("i", "ii", "iii", "iv")] + [
        "4.2 I do not improperly use knowledge gained solely as a result of my role.",
    ]
    path = tmp_path / "example-code.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    doc = ingest_files([path]).documents[0]
    found = passage(doc, "4.1(b)(iv)", "case iv applies")
    assert found.text.startswith("As a councillor I do not disclose information:\nacquired by me which I believe")
    assert "case iii applies" not in found.text
    assert {"4.1(a)", "4.1(b)(i)", "4.1(b)(ii)", "4.1(b)(iii)", "4.2"} <= {p.clause for p in doc.passages}


@needs_external
def test_first_entry_after_a_lead_in_stays_with_its_item(external):
    # "j ... shall include:" then an entry whose label the text layer lost: part of 5(j),
    # never a second "5(i)"
    tintern = external[TINTERN]
    assert passage(tintern, "5(j)", "In an election year, delivery by the Chairman")
    assert len([p for p in tintern.passages if p.clause == "5(i)"]) == 1


@pytest.mark.parametrize("line", ["20 AUGUST 2018", "Adopted 13 February 2019", "May 2020"])
def test_a_date_line_is_not_a_heading(line):
    from ingest.markers import heading_like
    assert not heading_like(line)

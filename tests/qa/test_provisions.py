"""Provisions and alignment over the default corpus (bag-of-words fake embedder: copies share words)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from index.embed import FakeEmbedder
from index.hybrid import HybridIndex
from index.provisions import align, group_provisions
from index.update import update_index
from qa import cli

ROOT = Path(__file__).resolve().parents[2]
CARLISLE = "carlisle-city-council-member-officer-protocol-2006-draft.txt"
WATFORD = "watford-borough-council-code-of-conduct-protocols.txt"
LGA = "lga-model-councillor-code-of-conduct-2020.txt"


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("provisions") / "index"
    update_index([ROOT / "corpus"], index_dir, FakeEmbedder())
    return index_dir


@pytest.fixture(scope="module")
def index(corpus_index):
    return HybridIndex.load(corpus_index)


def _provision_holding(index, words: str):
    for provision in index.provisions:
        texts = [index.passages[row].text for row, _likeness, _overlap in provision.members]
        if any(words in text for text in texts):
            return {index.passages[row].authority: (likeness, index.passages[row].text)
                    for row, likeness, _overlap in provision.members}
    raise AssertionError(f"no provision holds {words!r}")


def test_provisions_are_grouped_at_ingest_and_saved(index):
    assert index.provisions, "the ingest saved no provisions"
    def shape(provisions):
        return [(p.id, p.representative, [(row, likeness) for row, likeness, _overlap in p.members])
                for p in provisions]

    assert shape(index.provisions) == shape(group_provisions(index))


@pytest.mark.parametrize("words, councils", [
    # party groups, correspondence, ward members: clauses the four protocols share
    ("Party group meetings are not empowered to make decisions",
     {"Carlisle City Council", "Watford Borough Council", "Newton Abbot Town Council"}),
    ("may initiate correspondence in his/her own name",
     {"Carlisle City Council", "Watford Borough Council", "Wokingham Borough Council", "Newton Abbot Town Council"}),
    ("To enable them to carry out their ward role effectively",
     {"Carlisle City Council", "Wokingham Borough Council"}),
])
def test_clauses_shared_across_councils_are_one_provision(index, words, councils):
    members = _provision_holding(index, words)
    assert councils <= set(members), members


def test_a_reworded_copy_is_told_from_an_identical_one(index):
    members = _provision_holding(index, "may initiate correspondence in his/her own name")
    assert members["Carlisle City Council"][0] == "identical"
    assert members["Newton Abbot Town Council"][0] == "reworded"  # "The Chairperson may ..." for "The Mayor may ..."
    assert "Chairperson" in members["Newton Abbot Town Council"][1]


def test_one_clause_per_document_in_a_provision(index):
    for provision in index.provisions:
        sources = [index.passages[row].source for row, _likeness, _overlap in provision.members]
        assert len(sources) == len(set(sources)) >= 2


def test_align_near_copies_and_different_documents(index):
    near = align(index, CARLISLE, WATFORD)
    statuses = [row.status for row in near]
    assert statuses.count("same") > 80 and statuses.count("same") + statuses.count("reworded") > 120
    assert all(row.b is not None for row in near if row.status in ("same", "reworded", "changed"))
    apart = align(index, LGA, WATFORD)  # the model code and a protocol: little in common
    assert sum(row.status == "same" for row in apart) < 5
    assert sum(row.status in ("missing", "added") for row in apart) > 150


@pytest.fixture
def fake_model(monkeypatch):
    import index.embed as embed
    import qa.service as service

    monkeypatch.setattr(embed, "load_embedder", lambda *a, **k: FakeEmbedder())
    monkeypatch.setattr(service, "load_embedder", lambda *a, **k: FakeEmbedder())


def test_provisions_command_json_contract(corpus_index, capsys, fake_model):
    assert cli.main(["provisions", "--index", str(corpus_index), "--authority", "newton", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records
    for record in records:
        assert set(record) == {"provision", "label", "members"}
        assert any(m["authority"] == "Newton Abbot Town Council" for m in record["members"])
        for member in record["members"]:
            assert {"id", "authority", "document", "clause", "likeness"} <= set(member)
            assert member["likeness"] in ("identical", "reworded", "different")


def test_align_command_formats(corpus_index, capsys, fake_model):
    assert cli.main(["align", "--index", str(corpus_index), "carlisle", "watford", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record) == {"a", "b", "rows"}
    assert record["a"]["authority"] == "Carlisle City Council"
    assert {row["status"] for row in record["rows"]} <= {"same", "reworded", "changed", "missing", "added"}
    reworded = next(row for row in record["rows"] if row["status"] == "reworded")
    assert {piece["op"] for piece in reworded["diff"]} >= {"same"}

    assert cli.main(["align", "--index", str(corpus_index), "carlisle", "watford", "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("## Watford Borough Council")
    assert "### In Carlisle City Council but not in Watford Borough Council" in markdown
    assert cli.main(["align", "--index", str(corpus_index), "carlisle", "watford", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(record["rows"])


def test_align_names_the_documents_when_a_name_is_ambiguous_or_unknown(corpus_index, capsys, fake_model):
    assert cli.main(["align", "--index", str(corpus_index), "council", "watford"]) == 2
    assert "matches" in capsys.readouterr().err
    assert cli.main(["align", "--index", str(corpus_index), "bristol", "watford"]) == 2
    err = capsys.readouterr().err
    assert "no document matches 'bristol'" in err and CARLISLE in err


def test_ask_names_the_other_councils_holding_the_same_clause(corpus_index, capsys, fake_model):
    assert cli.main(["ask", "--index", str(corpus_index), "--json",
                     "Are party group meetings empowered to make decisions on behalf of the Council?"]) == 0
    answer = json.loads(capsys.readouterr().out)
    shared = [r for r in answer["results"] if r.get("provision")]
    assert shared, answer["results"]
    first = shared[0]
    assert first["also_in"] and all(c["authority"] != first["authority"] for c in first["also_in"])


class CountingReranker:
    """Scores every text 0.5 but the preferred one; records each text it is asked to read."""

    def __init__(self, preferred: str = ""):
        self.preferred, self.read = preferred, []

    def scores(self, question, texts, alone=False):
        import numpy as np

        self.read.extend(texts)
        return np.array([0.9 if t == self.preferred else 0.5 for t in texts], dtype=np.float32)


def test_the_reranker_reads_different_clauses_and_each_copy_once(tmp_path):
    from qa.answer import Answerer

    shared = ("Party Groups\n\nOfficers may properly be called upon to support and contribute to party group "
              "deliberations, but party group meetings cannot make decisions on behalf of the Council.\n")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("Ashby", "Bexley", "Corby"):
        (corpus / f"{name.lower()}-borough-council-protocol.txt").write_text(
            f"{name} Borough Council Member Officer Protocol\n\n" + shared
            + f"\nMeetings\n\n{name} party group meetings are held in private and chaired by the group leader.\n",
            encoding="utf-8")
    update_index([corpus], tmp_path / "index", FakeEmbedder())
    index = HybridIndex.load(tmp_path / "index")
    assert index.provisions, "the three copies of the party group clause are one provision"
    reranker = CountingReranker()
    answerer = Answerer(index, FakeEmbedder(), reranker=reranker, rerank_depth=2, rerank_weight=0.5)
    answerer.rerank_pairs = 10
    query = answerer.prepare("Can party group meetings make decisions for the council?")
    ranked, _, _ = answerer.ranked(query)
    head = list(query.reranked)
    groups = {answerer.provision_key(p) or ("clause", p) for p in head}
    assert len(groups) == 2  # two different clauses read, however many copies of them
    assert len(head) > 2  # the copies of the shared clause did not take the second clause's place
    copies = [p for p in head if "cannot make decisions" in index.passages[p].text]
    assert len(copies) == 3
    # the three copies share one text: the reranker read it once and each copy got its score
    assert len(reranker.read) == len(set(reranker.read)) == len({index.passages[p].retrieval_text for p in head})
    assert len({query.reranked[p] for p in copies}) == 1


def test_rewordings_of_one_provision_in_the_head_are_read_once(tmp_path):
    from qa.compare import compare
    """rerank_once_per_provision: three councils' rewordings of one clause cost one reading, and the
    other two take it; with the setting off each wording is read."""
    from qa.answer import Answerer

    from tests.tiny_corpus import write_party_group_councils

    wording = {"Bexley": "Officers may properly be called upon to support and contribute to the deliberations of "
                         "party groups, but party group meetings cannot make decisions on behalf of the Council.",
               "Corby": "Officers may properly be asked to support and contribute to party group deliberations, "
                        "but party group meetings cannot make decisions on behalf of the Council."}
    corpus = write_party_group_councils(tmp_path / "corpus", wording)
    update_index([corpus], tmp_path / "index", FakeEmbedder())
    index = HybridIndex.load(tmp_path / "index")
    question = "Can party group meetings make decisions for the council?"
    read = {}
    for once in (True, False):
        reranker = CountingReranker()
        answerer = Answerer(index, FakeEmbedder(), reranker=reranker, rerank_depth=2, rerank_weight=0.5)
        answerer.rerank_pairs, answerer.rerank_once_per_provision = 10, once
        query = answerer.prepare(question)
        ranked, _, _ = answerer.ranked(query)
        party = [p for p, _ in ranked if "party group meetings cannot" in index.passages[p].text]
        assert len(party) == 3 and len({answerer.provision_key(p) for p in party}) == 1
        read[once] = [t for t in reranker.read if "party group meetings cannot" in t]
    assert len(read[True]) == 1 and len(read[False]) == 3

    # A comparison reads each council's copy of the provision once between them, and each
    # council's copy takes that reading; with the setting off each council's copy is read.
    for once in (True, False):
        reranker = CountingReranker()
        answerer = Answerer(index, FakeEmbedder(), reranker=reranker, rerank_depth=2, rerank_weight=0.5)
        answerer.rerank_pairs, answerer.rerank_once_per_provision = 10, once
        entries = compare(answerer, question).authorities
        party = [r for e in entries for r in e.results + ([e.nearest] if e.nearest else [])
                 if "party group meetings cannot" in r.passage.text]
        assert {r.passage.authority for r in party} == {"Ashby Borough Council", "Bexley Borough Council",
                                                "Corby Borough Council"}
        assert len([t for t in reranker.read if "party group meetings cannot" in t]) == (1 if once else 3)

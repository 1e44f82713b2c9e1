import csv
import io

import pytest

from qa.compare import authority_order, compare, to_csv, to_markdown
from qa.coverage import Topic, coverage_matrix, load_topics
from qa.equivalents import Likeness, classify, find_equivalents, word_diff

GIFTS = "Must gifts and hospitality worth fifty pounds be registered within 28 days?"


def test_model_code_comes_first(answerer):
    order = [name for name, _, _ in authority_order(answerer)]
    assert order[0] == "Model Association"
    assert order[1:] == sorted(order[1:], key=str.lower)


def test_each_council_shows_its_own_copy_of_a_shared_clause(answerer):
    comparison = compare(answerer, GIFTS)
    entries = {e.authority: e for e in comparison.authorities}
    for name in ("Model Association", "Ashford Test Council"):
        assert entries[name].found, name
        assert all(r.passage.authority == name for r in entries[name].results)
        assert "28 days" in entries[name].results[0].passage.text
    ids = [entries[n].results[0].passage.id for n in ("Model Association", "Ashford Test Council")]
    assert ids[0] != ids[1]


def test_a_silent_council_is_not_addressed_and_says_why_with_its_nearest_clause(answerer):
    entries = {e.authority: e for e in compare(answerer, GIFTS).authorities}
    silent = entries["Bexley Test Council"]
    assert not silent.found and silent.results == []
    assert silent.reason and silent.nearest is not None
    assert silent.nearest.passage.authority == "Bexley Test Council"
    data = silent.to_dict()
    assert data["reason"] == silent.reason and data["nearest"]["authority"] == "Bexley Test Council"
    assert "reason" not in entries["Ashford Test Council"].to_dict()


def test_off_topic_question_is_addressed_by_nobody(answerer):
    comparison = compare(answerer, "What is the capital of Australia?")
    assert not any(entry.found for entry in comparison.authorities)


def test_chosen_authorities_only(answerer):
    comparison = compare(answerer, GIFTS, authorities=["Ashford Test Council"])
    assert [e.authority for e in comparison.authorities] == ["Ashford Test Council"]


def test_empty_question_lists_every_authority_unaddressed(answerer):
    comparison = compare(answerer, "  ")
    assert comparison.message and not any(e.found for e in comparison.authorities)


def test_json_shape(answerer):
    data = compare(answerer, GIFTS).to_dict()
    assert set(data) == {"question", "authorities"}
    assert all(set(e) == {"authority", "document", "kind", "found", "results"}
               for e in data["authorities"] if e["found"])
    assert all(set(e) == {"authority", "document", "kind", "found", "results", "reason", "nearest"}
               for e in data["authorities"] if not e["found"])
    assert all(len(entry["results"]) <= 3 for entry in data["authorities"])


def test_exports_carry_full_citations(answerer):
    comparison = compare(answerer, GIFTS)
    rows = list(csv.DictReader(io.StringIO(to_csv([comparison]))))
    found = [r for r in rows if r["found"] == "addressed"]
    assert found and all(r["authority"] and r["document"] and r["status"] and r["clause"] for r in found)
    assert all(r["source"].endswith(".txt") and r["attribution"] in ("stated", "inferred", "unknown") for r in found)
    assert any(r["found"].startswith("not addressed: ") and r["authority"] == "Bexley Test Council" for r in rows)
    markdown = to_markdown([comparison])
    assert "### Bexley Test Council" in markdown and "Not addressed" in markdown
    assert "clause 3" in markdown


def test_markdown_export_escapes_document_text(answerer):
    markdown = to_markdown([compare(answerer, "Must officers keep confidential information confidential?")])
    assert "<script>" not in markdown


def test_word_diff_marks_changed_words():
    pieces, overlap = word_diff("in the immediate run-up to Council elections",
                                "in the six week period before Council elections")
    ops = {(p.op, p.text) for p in pieces}
    assert ("removed", "immediate run-up to") in ops and ("added", "six week period before") in ops
    assert 0.3 < overlap < 0.9


def test_identical_apart_from_case_and_punctuation():
    _, overlap = word_diff("Members must, at all times, observe this protocol.",
                           "members must at all times observe this Protocol")
    assert classify(overlap) is Likeness.IDENTICAL


def test_equivalents_of_a_shared_clause(answerer):
    index = answerer.index
    position = next(i for i, p in enumerate(index.passages)
                    if p.authority == "Ashford Test Council" and "28 days" in p.text)
    equivalents = find_equivalents(index, position)
    by_authority = {eq.passage.authority: eq for eq in equivalents}
    assert "Ashford Test Council" not in by_authority
    model = by_authority["Model Association"]
    assert "28 days" in model.passage.text
    assert model.likeness in (Likeness.IDENTICAL, Likeness.REWORDED)
    assert any(piece.op != "same" for piece in model.diff)  # "You must" against "Members must"


def test_coverage_matrix_and_gaps(answerer):
    topics = [Topic("Gifts and hospitality", GIFTS),
              Topic("Media", "Who issues press releases to the media?")]
    matrix = coverage_matrix(answerer, topics)
    assert matrix.cell("Gifts and hospitality", "Ashford Test Council").found
    assert not matrix.cell("Gifts and hospitality", "Bexley Test Council").found
    assert "Gifts and hospitality" in matrix.gaps("Bexley Test Council")


def test_default_topics_are_the_domain_list():
    names = [t.name for t in load_topics()]
    assert len(names) >= 20 and "Use of council resources" in names


def test_the_markdown_export_flags_a_council_inferred_from_the_text(answerer):
    comparison = compare(answerer, "Must officers keep confidential information confidential?")
    inferred = [e for e in comparison.authorities if e.found and e.results[0].passage.attribution == "inferred"]
    assert inferred, "the tiny corpus's draft is attributed by inference"
    section = to_markdown([comparison]).split(f"### {inferred[0].authority}")[1].split("###")[0]
    assert "council inferred from the text" in section


def test_an_answer_exports_every_flag_of_its_citations(answerer):
    import csv
    import io

    from qa.compare import answer_csv, answer_markdown

    answer = answerer.ask("Officers write their reports impartially; can a member instruct a change?", top_k=3)
    rows = list(csv.DictReader(io.StringIO(answer_csv(answer))))
    assert [int(r["rank"]) for r in rows] == [r.rank for r in answer.results]
    for row, result in zip(rows, answer.results):
        assert row["text"].lstrip("'") == result.passage.text
        assert row["status"] == result.passage.status and row["source"] == result.passage.source
    markdown = answer_markdown(answer)
    first = answer.results[0].passage
    assert first.status in markdown and f"source {first.source}" in markdown.replace("\\_", "_")
    assert "draft" in markdown  # the tiny corpus's draft protocol is flagged


def test_the_coverage_matrix_downloads_with_the_clause_of_each_cell(answerer):
    import csv
    import io

    from qa.coverage import cell_label, coverage_csv

    topics = [Topic("Gifts and hospitality", GIFTS), Topic("Media", "Who issues press releases to the media?")]
    matrix = coverage_matrix(answerer, topics)
    rows = {(r["topic"], r["authority"]): r for r in csv.DictReader(io.StringIO(coverage_csv(matrix)))}
    assert len(rows) == len(topics) * len(matrix.authorities)
    covered = rows[("Gifts and hospitality", "Ashford Test Council")]
    cell = matrix.cell("Gifts and hospitality", "Ashford Test Council")
    assert covered["addressed"] == "yes" and covered["passage_id"] == cell.best.passage.id
    assert covered["clause"] == cell_label(cell) == f"clause {cell.best.passage.clause}"
    assert rows[("Gifts and hospitality", "Bexley Test Council")]["addressed"] == "no"


def test_compare_rows_one_per_council_with_likeness_to_the_model_and_the_silent_councils_nearest(answerer):
    from qa.compare_rows import compare_rows

    comparison = compare(answerer, GIFTS)
    rows = compare_rows(comparison)
    assert [r.authority for r in rows] == [e.authority for e in comparison.authorities]
    model, ashford = rows[0], next(r for r in rows if r.authority == "Ashford Test Council")
    assert model.authority == "Model Association" and model.likeness == ""  # the model is the reference
    assert ashford.reference.startswith("clause 3") and "28 days" in ashford.excerpt
    assert ashford.likeness.startswith("reworded from the model code (")
    silent = next(r for r in rows if r.authority == "Bexley Test Council")
    assert not silent.found and silent.reason and silent.reference and silent.excerpt
    assert silent.likeness == ""  # a silent council is not compared with the model


def test_each_council_s_features_carry_the_evidence_shared_with_the_others(answerer):
    from qa.abstain import BOOSTED_FEATURES, MAX_COPY_RANK
    from qa.compare import authority_order, authority_runs

    runs = authority_runs(answerer, answerer.prepare(GIFTS), authority_order(answerer))
    by_name = {run.name: features for run, features in zip(runs.runs, runs.features)}
    assert set(by_name["Ashford Test Council"].values()) == set(BOOSTED_FEATURES)
    best = max(f.rerank_top for f in by_name.values())
    for features in by_name.values():
        assert features.rerank_gap == pytest.approx(best - features.rerank_top)
        assert features.question_rerank == runs.overall.rerank_top
        assert features.tier_match == 0.0  # the question names no tier of council
    leader = max(zip(runs.runs, runs.features), key=lambda pair: pair[0].evidence)[1]
    assert leader.gap == 0.0 and leader.similarity == 1.0
    assert leader.similarity_head == 1.0 and leader.leader_copy_rank == 1
    for features in by_name.values():
        assert features.best_rerank == pytest.approx(best)
        assert features.similarity_head >= features.similarity  # its first three include its first
        assert features.shares_leader_head >= features.shares_leader
    if answerer.index.provisions is not None:
        # The model code's gifts clause and Ashford's copy of it are one provision.
        assert by_name["Ashford Test Council"].shares_leader
        assert not by_name["Bexley Test Council"].shares_leader
        # Ashford's copy of the model code's clause is its first candidate; Bexley has none.
        assert by_name["Ashford Test Council"].leader_copy_rank == 1
        assert by_name["Bexley Test Council"].leader_copy_rank == MAX_COPY_RANK

"""A passage too short to answer anything (a contents table's page range, "Not applicable.")
stays in the index but is never a candidate answer."""

from __future__ import annotations

from index.hybrid import HybridIndex
from qa.answer import Answerer
from qa.compare import compare
from tests.index.conftest import make_document

CLAUSES = [
    "Not applicable.",
    "10-12",
    "Councillors must declare any gift or hospitality over fifty pounds within 28 days.",
    "Officers give political groups factual briefings only.",
]


def fragment_answerer(fake_embedder) -> Answerer:
    document, passages = make_document("grants.txt", "Gamma Parish Council", "policy", "adopted", CLAUSES)
    other, more = make_document("code.txt", "Delta Town Council", "code_of_conduct", "adopted",
                                ["Members register gifts and hospitality in the register of interests."])
    index = HybridIndex.build(passages + more, [document, other], fake_embedder)
    return Answerer(index, fake_embedder)


def shown(answer) -> list[str]:
    return [result.passage.text for result in answer.results]


def test_a_fragment_is_never_an_answer_even_to_its_own_words(fake_embedder):
    answerer = fragment_answerer(fake_embedder)
    for question in ("Is it not applicable?", "pages 10-12", "gift or hospitality over fifty pounds"):
        texts = shown(answerer.ask(question, top_k=10))
        assert "Not applicable." not in texts and "10-12" not in texts
    assert "Councillors must declare any gift or hospitality over fifty pounds within 28 days." in \
        shown(answerer.ask("gift or hospitality over fifty pounds", top_k=10))
    # Without the floor the same question finds the fragment: the rule, not the data, keeps it out.
    answerer.min_answer_words = 0
    answerer._long_enough.clear()
    assert "Not applicable." in shown(answerer.ask("Is it not applicable?", top_k=10))


def test_a_fragment_stays_in_the_index_and_is_not_a_council_s_clause_in_a_comparison(fake_embedder):
    answerer = fragment_answerer(fake_embedder)
    assert [p.text for p in answerer.index.passages][:2] == ["Not applicable.", "10-12"]
    comparison = compare(answerer, "Is it not applicable?")
    for entry in comparison.authorities:
        texts = [r.passage.text for r in entry.results] + ([entry.nearest.passage.text] if entry.nearest else [])
        assert "Not applicable." not in texts and "10-12" not in texts


def test_words_are_counted_as_written(fake_embedder):
    answerer = fragment_answerer(fake_embedder)
    assert not answerer.answers_alone(0) and not answerer.answers_alone(1)
    assert answerer.answers_alone(2) and answerer.answers_alone(3)

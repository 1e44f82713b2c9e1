"""Retrieval quality on the development questions with the real model: a
regression guard at the figures measured and recorded in the README."""

from pathlib import Path

import pytest

from qa.compare import compare
from qa.coverage import coverage_matrix, load_topics
from qa.evaluate import load_questions, score_answers, score_comparisons

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"
OWN = ROOT / "eval" / "questions.jsonl"

pytestmark = pytest.mark.slow


def answers(answerer, questions):
    return [answerer.ask(q.question, top_k=10).to_dict() for q in questions]


@pytest.mark.skipif(not DEV.exists(), reason="../shared/eval is not beside the project")
def test_development_questions(real_answerer):
    questions = load_questions(DEV)
    scores = score_answers(questions, answers(real_answerer, questions))
    # Measured 0.957 and 0.855 (README "Retrieval quality"): the targets
    # are 0.95 and 0.85; MRR keeps a little room for a rank-1 clause tied with another.
    assert scores.success_at_5 >= 0.95, scores.misses
    assert scores.mrr_at_10 >= 0.84, scores.misses
    assert scores.abstention_accuracy == 1.0, scores.misses
    assert scores.false_abstention <= 1 / 23, scores.misses
    shown = [compare(real_answerer, q.question).to_dict() for q in questions]
    # Each council is shown its own clauses, never another council's copy of them.
    assert all(result["authority"] == entry["authority"]
               for comparison in shown for entry in comparison["authorities"] for result in entry["results"])
    comparisons = score_comparisons(questions, shown)
    # Measured coverage 0.935 over 46 councils, false coverage 0.000 over 10 (target 0.1).
    assert comparisons.coverage >= 0.9 and comparisons.false_coverage <= 0.1, comparisons.misses


def test_own_questions(real_answerer):
    questions = load_questions(OWN)
    scores = score_answers(questions, answers(real_answerer, questions))
    # o18-o149 and n25-n134 were each added before the changes of a session, untuned;
    # o56-o149 and n63-n134 were written by a second author (see README): measured
    # success@5 0.819, 126 of 134 off-topic questions abstain, 12 of 149 answerable ones abstain.
    assert scores.abstention_accuracy >= 126 / 134, scores.misses
    assert scores.success_at_5 >= 0.81, scores.misses
    assert scores.false_abstention <= 12 / 149, scores.misses
    comparisons = score_comparisons(questions, [compare(real_answerer, q.question).to_dict() for q in questions])
    # Measured coverage 0.664 over 458 councils and false coverage 0.089 over 237
    # (targets 0.9 and 0.1: coverage is short of its target, README "Comparison").
    assert comparisons.coverage >= 0.66, comparisons.misses
    assert comparisons.false_coverage <= 21 / 237, comparisons.misses


def test_the_coverage_matrix_decides_as_a_comparison_does(real_answerer):
    # The matrix shows one clause a council; that must not change whether a council
    # is judged to address a topic (it did for four standard topics while the
    # cosine with the best council's clauses was taken over the clauses shown).
    topics = load_topics()
    matrix = coverage_matrix(real_answerer, topics)
    for topic in topics:
        for entry in compare(real_answerer, topic.question).authorities:
            assert matrix.cell(topic.name, entry.authority).found == entry.found, (topic.name, entry.authority)


@pytest.mark.skipif(not DEV.exists(), reason="../shared/eval is not beside the project")
def test_a_council_compared_on_its_own_is_decided_as_among_all(real_answerer):
    # Choosing councils must not change whether one addresses a question: a silent
    # council compared on its own was once the best of one, and always "addressed".
    for question in load_questions(DEV):
        full = {e.authority: e.found for e in compare(real_answerer, question.question).authorities}
        for authority, found in full.items():
            alone = compare(real_answerer, question.question, authorities=[authority]).authorities
            assert [(e.authority, e.found) for e in alone] == [(authority, found)], (question.id, authority)


@pytest.mark.skipif(not DEV.exists(), reason="../shared/eval is not beside the project")
def test_asking_one_council_answers_only_where_it_addresses_the_question(real_answerer):
    # A search restricted to one council always finds its nearest clause; that is
    # no answer when the council is silent. Measured: all ten silent councils of the
    # development questions abstain (before, 2 of 10 were answered), and every
    # expected council is answered.
    for question in load_questions(DEV):
        for authority in question.silent:
            assert not real_answerer.ask(question.question, authorities=[authority]).answered, (question.id, authority)
        for authority in {e.authority for e in question.expect}:
            assert real_answerer.ask(question.question, authorities=[authority]).answered, (question.id, authority)

import json

import pytest

from qa.evaluate import (EvalQuestion, Expectation, load_questions, matches, normalise,
                         score_answers, score_comparisons)


def test_normalise_follows_the_metric_definition():
    assert normalise("  Members’ “need to know”—£50!  ") == "members need to know £50"
    assert normalise("ﬁnance") == "finance"  # NFKC


def result(rank, authority, text):
    return {"rank": rank, "authority": authority, "text": text}


def test_match_needs_authority_and_text():
    e = Expectation("Carlisle City Council", "not authorised to instruct")
    assert matches(result(1, "carlisle city council", "Members are NOT authorised, to instruct officers"), e)
    assert not matches(result(1, "Wokingham Borough Council", "Members are not authorised to instruct"), e)


def test_scores_follow_the_definitions():
    qs = [EvalQuestion("a", "q1", "single", (Expectation("A", "alpha"),)),
          EvalQuestion("b", "q2", "multi", (Expectation("B", "beta"),)),
          EvalQuestion("c", "q3", "single", (Expectation("A", "gamma"),)),
          EvalQuestion("d", "q4", "none", ())]
    answers = [
        {"answered": True, "results": [result(1, "A", "alpha")]},
        {"answered": True, "results": [result(1, "A", "x"), result(2, "A", "beta"), result(3, "B", "beta")]},
        {"answered": False, "results": [result(1, "A", "gamma")]},
        {"answered": False, "results": []},
    ]
    s = score_answers(qs, answers)
    assert s.success_at_1 == pytest.approx(1 / 3)
    assert s.success_at_5 == pytest.approx(2 / 3)
    assert s.mrr_at_10 == pytest.approx((1 + 1 / 3) / 3)
    assert s.abstention_accuracy == 1.0
    assert s.false_abstention == pytest.approx(1 / 3)


def test_comparison_scores():
    qs = [EvalQuestion("m", "q", "multi", (Expectation("A", "alpha"), Expectation("B", "beta")), ("C",))]
    comparison = {"authorities": [
        {"authority": "A", "found": True, "results": [result(1, "A", "alpha")]},
        {"authority": "B", "found": True, "results": [result(1, "B", "other")]},
        {"authority": "C", "found": True, "results": [result(1, "C", "x")]},
    ]}
    s = score_comparisons(qs, [comparison])
    assert s.coverage == 0.5 and s.false_coverage == 1.0


def test_bad_question_line_is_named(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "x", "question": "q", "kind": "none"}) + "\n{broken\n")
    with pytest.raises(ValueError, match="line 2"):
        load_questions(path)


def test_a_council_named_as_holding_the_same_words_counts_but_a_reworded_copy_does_not():
    from qa.evaluate import Expectation, matches

    shown = {"authority": "Watford Borough Council", "text": "Officers are employed by the Council as a whole.",
             "also_in": [{"authority": "Carlisle City Council", "clause": "54", "id": "x", "likeness": "identical"},
                         {"authority": "Newton Abbot Town Council", "clause": "", "id": "y", "likeness": "reworded"}]}
    assert matches(shown, Expectation("Carlisle City Council", "employed by the Council as a whole"))
    assert not matches(shown, Expectation("Newton Abbot Town Council", "employed by the Council as a whole"))
    assert not matches(shown, Expectation("Carlisle City Council", "words not in the shown clause"))

"""Fitting the comparison decision: on made-up examples, and end to end over
the tiny corpus with the fake embedder."""

import json
import random

import pytest

from qa import cli
from qa.abstain import BOOSTED_FEATURES, FEATURE_NAMES, load_comparison_model
from qa.evaluate import EvalQuestion, Expectation
from qa.fit_comparison import Example, fit, held_out_decisions, labelled_examples, summary
from tests.qa.test_compare import GIFTS


def made_up_examples(n=60, seed=3):
    """Councils address a question when their evidence is high and their clause
    stands near the top of the corpus; the other features are noise."""
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        evidence = rng.uniform(0.4, 1.0)
        log_rank = rng.uniform(0.0, 4.6)
        values = {name: rng.uniform(0.0, 1.0) for name in FEATURE_NAMES}
        values.update(evidence=evidence, log_corpus_rank=log_rank)
        examples.append(Example(f"q{i // 3}", f"council {i % 3}", values, evidence - 0.1 * log_rank > 0.45))
    return examples


def test_fitting_finds_the_features_that_decide():
    model = fit(made_up_examples())
    assert model.weights["evidence"] > 0 and model.weights["log_corpus_rank"] < 0
    assert set(model.weights) == set(FEATURE_NAMES)


def test_each_question_is_decided_by_a_model_fitted_without_it(monkeypatch):
    import qa.fit_comparison as fit_comparison

    examples = made_up_examples(n=90)
    question_of = {id(e.features): e.question for e in examples}
    fits: list[set[str]] = []
    leaks: list[str] = []
    real_fit = fit_comparison.fit

    def recording_fit(train, c=fit_comparison.DEFAULT_C, **kwargs):
        seen = {e.question for e in train}
        fits.append(seen)
        model = real_fit(train, c, **kwargs)

        class Spy:
            def score_values(self, features):
                if question_of[id(features)] in seen:
                    leaks.append(question_of[id(features)])
                return model.score_values(features)
        return Spy()

    monkeypatch.setattr(fit_comparison, "fit", recording_fit)
    decisions = held_out_decisions(examples, folds=10)
    assert len(decisions) == len(examples)
    assert len(fits) == 10  # one fit per fold, not one per question
    assert leaks == []


def test_decisions_of_held_out_questions_are_mostly_right():
    examples = made_up_examples(n=180)
    decisions = held_out_decisions(examples)
    right = sum(d == e.addresses for e, d in zip(examples, decisions))
    assert right / len(examples) >= 0.8  # measured 0.88; a coin would be near 0.5
    counts = summary(examples, decisions)
    assert counts["addressing"] + counts["silent"] == len(examples)
    assert counts["found_when_addressing"] > counts["found_when_silent"]


def test_fitting_needs_both_kinds_of_council():
    only_addressing = [e for e in made_up_examples() if e.addresses]
    with pytest.raises(ValueError, match="silent"):
        fit(only_addressing)


def test_examples_come_from_the_expected_and_silent_councils_only(answerer):
    question = EvalQuestion("c1", GIFTS, "multi", (Expectation("Ashford Test Council", "28 days"),),
                            silent=("Bexley Test Council",))
    examples = labelled_examples(answerer, [question])
    assert {(e.authority, e.addresses) for e in examples} == {("Ashford Test Council", True),
                                                              ("Bexley Test Council", False)}
    assert all(set(e.features) == set(BOOSTED_FEATURES) >= set(FEATURE_NAMES) for e in examples)


@pytest.fixture(autouse=True)
def fake_model(monkeypatch):
    import index.embed as embed
    import qa.service as service
    from index.embed import FakeEmbedder

    monkeypatch.setattr(embed, "load_embedder", lambda *a, **k: FakeEmbedder())
    monkeypatch.setattr(service, "load_embedder", lambda *a, **k: FakeEmbedder())


def test_fit_compare_writes_weights_that_load(tiny_index_dir, tmp_path, capsys):
    lines = [{"id": "c1", "question": GIFTS, "kind": "multi",
              "expect": [{"authority": "Ashford Test Council", "contains": "28 days"},
                         {"authority": "Model Association", "contains": "28 days"}],
              "silent": ["Bexley Test Council"]},
             {"id": "c2", "question": "Must officers keep confidential information confidential?", "kind": "multi",
              "expect": [{"authority": "Ashford Test Council", "contains": "confidential"}],
              "silent": ["Model Association"]}]
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    out = tmp_path / "model.toml"
    assert cli.main(["fit-compare", str(questions), "--out", str(out), "--index", str(tiny_index_dir)]) == 0
    printed = capsys.readouterr().out
    assert "3 addressing and 2 silent councils" in printed and str(out) in printed
    model = load_comparison_model(out)
    assert set(model.weights) == set(FEATURE_NAMES)


def test_fit_compare_names_a_missing_question_file(tiny_index_dir, tmp_path, capsys):
    missing = tmp_path / "nowhere.jsonl"
    assert cli.main(["fit-compare", str(missing), "--index", str(tiny_index_dir)]) == 2
    assert "nowhere.jsonl" in capsys.readouterr().err

"""The learned comparison decision: gradient-boosted trees over every council's features,
saved with skops; the tier a question names; and the hand rules applying only before
the logistic decision."""

import random

import pytest

from ingest.infer import council_tier
from qa.abstain import (BOOSTED_FEATURES, AbstentionSignals, BoostedComparison, ComparisonFeatures,
                        ComparisonModelError, comparison_decision, fitted_comparison_model, question_tier,
                        tier_match)
from qa.fit_comparison import (Example, fit_boosted, held_out_decisions, held_out_scores, summary,
                                threshold_for, write_boosted)


def made_up_examples(n=600, seed=5):
    """A council addresses a question when its reranker reading is high, unless the
    question names the other tier of council; the other features are noise."""
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        values = {name: rng.uniform(0.0, 1.0) for name in BOOSTED_FEATURES}
        values["tier_match"] = rng.choice([-1.0, 0.0, 0.0, 1.0])
        for flag in ("shares_leader", "shares_top", "shares_leader_head"):
            values[flag] = float(rng.random() < 0.5)
        for log_rank in ("log_corpus_rank", "log_leader_copy_rank"):
            values[log_rank] = float(rng.choice([0.0, 1.0, 2.0, 3.0]))
        addresses = values["rerank_top"] > 0.5 and values["tier_match"] >= 0
        examples.append(Example(f"q{i // 4}", f"council {i % 4}", values, addresses))
    return examples


def features_of(values):
    """ComparisonFeatures whose values() are ``values`` (the rank enters as its logarithm)."""
    import math

    fields = {k: v for k, v in values.items() if k not in ("log_corpus_rank", "log_leader_copy_rank")}
    fields["corpus_rank"] = round(math.exp(values["log_corpus_rank"]))
    fields["leader_copy_rank"] = round(math.exp(values["log_leader_copy_rank"]))
    for flag in ("shares_leader", "shares_top", "shares_leader_head"):
        fields[flag] = bool(round(values[flag]))
    return ComparisonFeatures(**fields)


def test_the_trees_learn_an_interaction_a_weighted_sum_cannot():
    examples = made_up_examples()
    model = fit_boosted(examples[:450])
    held = examples[450:]
    scores = model.scores([features_of(e.features) for e in held])
    right = sum((s >= 0) == e.addresses for s, e in zip(scores, held))
    assert right / len(held) >= 0.9  # a coin is near 0.5; most councils here are silent (0.62)
    # A council of the other tier is silent, however high its reading.
    strong = dict(held[0].features, rerank_top=0.95, tier_match=-1.0)
    assert model.score(features_of(strong)) < 0 < model.score(features_of(dict(strong, tier_match=1.0)))


def test_held_out_decisions_with_trees_are_fitted_without_the_question():
    examples = made_up_examples(n=400)
    decisions = held_out_decisions(examples, boosted=True)
    counts = summary(examples, decisions)
    assert counts["found_when_addressing"] > 0.8 and counts["found_when_silent"] < 0.2


def test_the_model_is_saved_and_loaded_without_pickle(tmp_path):
    model = fit_boosted(made_up_examples(n=200), encoder="abc123")
    path = tmp_path / "comparison.skops"
    write_boosted(model, path, ["w01", "record"],
                  {"addressing": 3, "silent": 4, "found_when_addressing": 0.9, "found_when_silent": 0.1})
    loaded = BoostedComparison.load(path)
    assert loaded.features == BOOSTED_FEATURES and loaded.encoder == "abc123"
    assert "w01, record" in loaded.note
    sample = [features_of(e.features) for e in made_up_examples(n=20, seed=9)]
    assert loaded.scores(sample) == pytest.approx(model.scores(sample))
    # Another encoder's scores mean nothing to it: the logistic decision serves instead.
    assert not isinstance(fitted_comparison_model("another", path), BoostedComparison)
    assert fitted_comparison_model("abc123", path).note == loaded.note


def test_the_threshold_shows_at_most_the_allowed_share_of_silent_councils_a_clause():
    examples = made_up_examples(n=400, seed=3)
    scores = held_out_scores(examples)
    silent = [s for e, s in zip(examples, scores) if not e.addresses]
    for share in (0.0, 0.05, 0.2):
        threshold = threshold_for(examples, scores, share)
        shown = sum(s >= threshold for s in silent)
        assert shown <= share * len(silent) < shown + 1 + sum(s == threshold for s in silent)
    # A stricter allowance never lowers the threshold.
    assert threshold_for(examples, scores, 0.05) >= threshold_for(examples, scores, 0.2)
    with pytest.raises(ValueError, match="silent"):
        threshold_for([e for e in examples if e.addresses], scores)


def test_the_model_decides_at_its_threshold_and_keeps_it_when_saved(tmp_path):
    examples = made_up_examples(n=300)
    plain = fit_boosted(examples)
    shifted = fit_boosted(examples, threshold=1.25)
    sample = [features_of(e.features) for e in made_up_examples(n=20, seed=9)]
    assert shifted.scores(sample) == pytest.approx([s - 1.25 for s in plain.scores(sample)])
    path = tmp_path / "comparison.skops"
    write_boosted(shifted, path, ["h01"], {"addressing": 3, "silent": 4, "found_when_addressing": 0.9,
                                           "found_when_silent": 0.1})
    loaded = BoostedComparison.load(path)
    assert loaded.threshold == 1.25 and "+1.2500 log-odds" in loaded.note
    assert loaded.scores(sample) == pytest.approx(shifted.scores(sample))
    # The reason a council is judged silent gives the model's own probability, not the shifted one.
    weak = AbstentionSignals(coverage=0.2, dense_top=0.1, lexical_strength=0.1, agreement=0.0)
    found, reason = comparison_decision(weak, sample[0], model=loaded, score=-1.25)
    assert not found and "probability 0.50" in reason


def test_a_damaged_model_file_names_itself_and_the_fix(tmp_path):
    path = tmp_path / "comparison.skops"
    path.write_bytes(b"not a model")
    with pytest.raises(ComparisonModelError, match=r"comparison\.skops.*protocol-qa train --stage comparison"):
        BoostedComparison.load(path)


def test_the_hand_rules_apply_before_the_logistic_decision_only():
    weak = AbstentionSignals(coverage=0.2, dense_top=0.1, lexical_strength=0.1, agreement=0.0)
    features = ComparisonFeatures(evidence=0.9, gap=0.0, similarity=1.0, corpus_rank=1, lexical_strength=0.5)

    class Yes(BoostedComparison):
        def scores(self, features):
            return [3.0] * len(features)

    found, reason = comparison_decision(weak, features, model=Yes(None, BOOSTED_FEATURES))
    assert found and reason == ""
    from qa.abstain import ComparisonModel

    always = ComparisonModel(intercept=10.0, weights={"evidence": 0.0})
    found, reason = comparison_decision(weak, features, model=always)
    assert not found and "not about this" in reason


@pytest.mark.parametrize("name, tier", [
    ("Hertingfordbury Parish Council", "local"), ("Newton Abbot Town Council", "local"),
    ("Tintern Community Council", "local"), ("Watford Borough Council", "principal"),
    ("Carlisle City Council", "principal"), ("Kent County Council", "principal"),
    ("Local Government Association", ""), ("Unidentified council", ""),
])
def test_a_council_s_tier_comes_from_its_name(name, tier):
    assert council_tier(name) == tier


@pytest.mark.parametrize("question, tier", [
    ("Can our parish council co-opt a new member?", "local"),
    ("who does the Town Clerk report to", "local"),
    ("Does the district council's code cover me?", "principal"),
    ("As a county councillor can I lobby officers?", "principal"),
    ("I sit on the borough council and a parish council: which code applies?", ""),
    ("Can a councillor tell me to change my report?", ""),
    ("Who is the council's monitoring officer?", ""),
])
def test_the_tier_a_question_names(question, tier):
    assert question_tier(question) == tier


def test_tier_match_is_signed():
    assert tier_match("local", "local") == 1.0
    assert tier_match("local", "principal") == -1.0
    assert tier_match("", "principal") == 0.0 and tier_match("local", "") == 0.0

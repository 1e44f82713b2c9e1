"""The verified-question matcher: its rules, its configuration, and its measured separation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.embed import FakeEmbedder
from qa.evaluate_record import PARTS, measure_matcher, split
from qa.question_match import MatchSettings, QuestionMatcher, load_match_settings
from tests.record.test_record import corpus_index  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[2]
PAIRS = ROOT / "eval" / "record-pairs.jsonl"
RECORDED = "My wife owns about £40,000 of shares in a local building firm. Do I have to register it?"


def _settings(**changes) -> MatchSettings:
    values = dict(weights=(8.0, -1.7, -7.9), intercept=-2.4, threshold=0.36, encoder=FakeEmbedder.fingerprint)
    return MatchSettings(**{**values, **changes})


def test_the_same_question_asked_again_matches_and_other_amounts_never_do():
    matcher = QuestionMatcher(FakeEmbedder(), _settings())
    again = "my wife owns about £40,000 of shares in a local building firm - do I have to register it"
    other_amount = RECORDED.replace("40,000", "4,000")
    assert matcher.scores(again, [RECORDED]) == [1.0]
    assert matcher.scores(other_amount, [RECORDED]) == [0.0]
    assert matcher.matches(again, [RECORDED, other_amount]) == [True, False]


@pytest.mark.parametrize("asked, same", [
    ("Could a cllr insist that an officer changes the advice in their report? Thanks", True),
    ("Please can a member insist that staff change the advice in their report?", True),
    ("Can a councillor insist that a councillor changes the advice in their report?", False),
    ("Can a councillor insist that an officer changes the advice in their committee report?", False),
])
def test_the_same_question_asked_again_sets_aside_framing_and_names_of_the_same_people(asked, same):
    from qa.question_match import same_question

    assert same_question(asked, "Can a councillor insist that an officer changes the advice in their report?") is same


def test_a_question_changing_one_fact_of_the_verified_one_scores_below_the_threshold():
    matcher = QuestionMatcher(FakeEmbedder(), _settings())
    near = RECORDED.replace("wife", "adult son")
    score = matcher.scores(near, [RECORDED])[0]
    assert 0.0 < score < matcher.settings.threshold


def test_verified_questions_are_encoded_once():
    embedder = FakeEmbedder()
    matcher = QuestionMatcher(embedder, _settings())
    matcher.scores("Can a councillor instruct an officer?", [RECORDED])
    matcher.scores("Can a member direct staff?", [RECORDED])
    assert embedder.texts_encoded == 3  # the recorded question once, each later question once


def test_the_matcher_is_used_only_with_the_encoder_it_was_fitted_with(tmp_path):
    table = tmp_path / "pipeline.toml"
    table.write_text('[record_match]\nweights = [1.0, 0.0, -1.0]\nintercept = 0.0\nthreshold = 0.5\n'
                     'encoder = "another-encoder"\n', encoding="utf-8")
    assert QuestionMatcher.for_embedder(FakeEmbedder(), table) is None
    with pytest.raises(ValueError, match="fitted with encoder another-encoder"):
        QuestionMatcher(FakeEmbedder(), load_match_settings(table))


@pytest.mark.parametrize("table, message", [
    ('weights = [1.0]\nintercept = 0\nthreshold = 0.5\nencoder = "x"', "weights must have 3 numbers"),
    ('weights = [1, 2, 3]\nintercept = 0\nthreshold = 1.5\nencoder = "x"', "threshold must be between 0 and 1"),
    ('weights = [1, 2, 3]\nthreshold = 0.5\nencoder = "x"', "lacks or mistypes 'intercept'.*--fit"),
])
def test_a_bad_record_match_table_names_the_field(tmp_path, table, message):
    path = tmp_path / "pipeline.toml"
    path.write_text("[record_match]\n" + table + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_match_settings(path)


def test_the_shipped_table_is_valid_and_the_pairs_split_by_recorded_question():
    settings = load_match_settings()
    assert settings is not None and 0 < settings.threshold < 1
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    parts = split(pairs)
    assert split(pairs) == parts  # stable: the held-out part is never chosen again by hand
    recorded = {name: {p["recorded"] for p in parts[name] if p["kind"] != "unrelated"} for name in PARTS}
    assert not recorded["tune"] & recorded["held-out"]
    assert sum(p["kind"] != "unrelated" for name in PARTS for p in parts[name]) == len(pairs)
    assert all(p["recorded"] != p2["recorded"] for name in PARTS for p, p2 in zip(parts[name][::2], parts[name][1::2]))


def test_the_record_offers_an_interpretation_by_the_matcher_when_one_is_given(db_url, corpus_index):
    from index.hybrid import HybridIndex
    from qa.record import Record

    _corpus, index_dir = corpus_index
    index = HybridIndex.load(index_dir)
    record = Record(db_url)
    made = record.verify(RECORDED, [index.passages[0].id], "Yes: a partner's shares over £25,000 are a DPI.",
                         "A. Officer", index)
    matcher = QuestionMatcher(FakeEmbedder(), _settings())
    asked_again = "My wife owns about £40,000 of shares in a local building firm; do I have to register it?"
    # No clause of the answer is needed: the matcher reads the two questions.
    assert [i.id for i in record.matching(asked_again, [], index, matcher=matcher)] == [made.id]
    assert record.matching(asked_again.replace("40,000", "4,000"), [], index, matcher=matcher) == []
    assert record.matching(asked_again.replace("wife", "adult son"), [], index, matcher=matcher) == []


@pytest.mark.slow
def test_the_shipped_matcher_separates_paraphrases_from_near_questions_on_the_held_out_part():
    """docs/record.md: on the held-out half, 19 of 24 paraphrases matched, 1 of 24 near questions, 1 of 48
    unrelated; precision 0.905, recall 0.79 (the twenty-first round's encoder: 18 of 24, recall 0.75; the
    eighteenth round's: 2 of 48 unrelated, precision 0.86; the one before, 20 of 24; the clause rule: 0.38
    and 0.42). The bound stays 18 of 24, the lowest any shipped encoder has given."""
    from index.embed import load_embedder

    embedder = load_embedder("auto", purpose="questions")
    matcher = QuestionMatcher.for_embedder(embedder)
    assert matcher is not None, "qa/data/pipeline.toml's [record_match] was fitted with another encoder"
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    measured = measure_matcher(split(pairs)["held-out"], matcher)
    assert measured["kinds"]["para"]["matched"] >= 18 / 24
    assert measured["kinds"]["near"]["matched"] <= 0.1
    assert measured["kinds"]["unrelated"]["matched"] <= 0.1
    assert measured["precision"] >= 0.85 and measured["recall"] >= 18 / 24


@pytest.mark.slow
def test_the_same_questions_slightly_reworded_baseline():
    """docs/record.md: 5 of the 12 rewordings in eval/record-rewordings.jsonl match (all by the rule for
    the same question asked again; the others are a known limit). A better matcher raises this."""
    from index.embed import load_embedder

    matcher = QuestionMatcher.for_embedder(load_embedder("auto", purpose="questions"))
    rewordings = [json.loads(line) for line in (ROOT / "eval" / "record-rewordings.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    matched = sum(matcher.matches(p["asked"], [p["recorded"]])[0] for p in rewordings)
    assert matched >= 5, matched

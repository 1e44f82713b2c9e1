import math

import pytest

from qa.abstain import (AbstentionPolicy, AbstentionSignals, ComparisonFeatures, ComparisonModel,
                        ComparisonModelError, QuestionFormsError, StemFamilies, addresses_question,
                        agreement, is_long, is_normative, load_comparison_model, should_abstain, weighted_share)
from qa.highlight import best_sentence, split_sentences


def simple_tokens(text):
    return [w.strip(".,;:").lower() for w in text.split()]


def test_split_keeps_words_verbatim():
    text = "Members may ask. Officers must answer; always.\n- a list item"
    assert split_sentences(text) == ["Members may ask.", "Officers must answer; always.", "- a list item"]


def test_best_sentence_prefers_query_words():
    text = "The protocol applies to all. Officers may leave a party group meeting at any time."
    assert best_sentence(text, {"leave": 2.0, "meeting": 1.0}, simple_tokens).startswith("Officers may leave")


def test_weighted_share_counts_rare_words_more():
    assert weighted_share([(1.0, True), (3.0, False)]) == pytest.approx(0.25)
    assert weighted_share([]) == 0.0


def test_agreement_counts_shared_top_passages():
    assert agreement([1, 2, 3, 4, 5], [5, 6, 7, 8, 9]) == pytest.approx(0.2)
    assert agreement([], [1]) == 0.0


def signals(**kw):
    base = dict(coverage=1.0, dense_top=0.7, lexical_strength=0.5, agreement=0.6)
    base.update(kw)
    return AbstentionSignals(**base)


def test_clear_answer_is_not_abstained():
    assert not should_abstain(signals())


@pytest.mark.parametrize("change", [dict(coverage=0.0, dense_top=0.5), dict(dense_top=0.1)])
def test_each_strong_negative_signal_abstains(change):
    assert should_abstain(signals(**change))


def test_policy_is_validated():
    with pytest.raises(ValueError, match="min_dense_top"):
        AbstentionPolicy(min_dense_top=2.0)


def features(**kw):
    base = dict(evidence=0.95, gap=0.03, similarity=0.85, corpus_rank=2, lexical_strength=0.5)
    base.update(kw)
    return ComparisonFeatures(**base)


ALWAYS = ComparisonModel(intercept=10.0, weights={"evidence": 0.0})


def test_the_fitted_model_separates_a_close_council_from_a_far_one():
    assert addresses_question(signals(dense_top=0.78), features())
    far = features(evidence=0.55, gap=0.45, similarity=0.40, corpus_rank=100, lexical_strength=0.1)
    assert not addresses_question(signals(dense_top=0.5, coverage=0.2), far)


@pytest.mark.parametrize("name, low, high", [
    ("evidence", 0.5, 0.9), ("similarity", 0.4, 0.9), ("lexical_strength", 0.1, 0.6),
    ("gap", 0.3, 0.0), ("corpus_rank", 80, 2),
])
def test_each_feature_of_the_fitted_model_pulls_the_way_it_should(name, low, high):
    model = load_comparison_model()
    assert model.score(features(**{name: high})) > model.score(features(**{name: low}))


def test_a_clause_lacking_the_subject_and_unlike_the_best_authority_s_does_not_address_it():
    own = signals(dense_top=0.62, coverage=0.36)
    assert addresses_question(own, features(), model=ALWAYS)
    assert not addresses_question(own, features(coverage_gap=0.64, similarity=0.43), model=ALWAYS)
    assert addresses_question(own, features(coverage_gap=0.64, similarity=0.80), model=ALWAYS)  # says the same thing
    assert addresses_question(own, features(coverage_gap=0.14, similarity=0.43), model=ALWAYS)  # as many of the words


def test_no_authority_addresses_a_question_with_nothing_near():
    assert not addresses_question(signals(dense_top=0.1), features(), model=ALWAYS)


def test_the_model_scores_a_weighted_sum_with_the_rank_as_its_logarithm():
    model = ComparisonModel(intercept=-1.0, weights={"evidence": 2.0, "log_corpus_rank": -0.5})
    assert model.score(features(evidence=0.8, corpus_rank=1)) == pytest.approx(0.6)
    assert model.score(features(evidence=0.8, corpus_rank=500)) == pytest.approx(0.6 - 0.5 * math.log(100))
    with pytest.raises(ComparisonModelError, match="unknown comparison features.*'colour'"):
        ComparisonModel(intercept=0.0, weights={"colour": 1.0})


def test_a_written_model_reads_back(tmp_path):
    model = ComparisonModel(intercept=-2.25, weights={"evidence": 2.5, "gap": -1.5})
    path = tmp_path / "model.toml"
    path.write_text(model.to_toml("fitted in a test"), encoding="utf-8")
    assert load_comparison_model(path) == model
    assert path.read_text(encoding="utf-8").startswith("# fitted in a test")


@pytest.mark.parametrize("text, message", [
    ("intercept = 'high'\n[weights]\nevidence = 1.0\n", "needs a number 'intercept'"),
    ("intercept = 1.0\n", "needs a number 'intercept' and a \\[weights\\] table"),
    ("intercept = 1.0\n[weights]\nshoe_size = 1.0\n", "unknown comparison features"),
    ("intercept = [", "cannot read comparison model"),
])
def test_a_malformed_comparison_model_is_named(tmp_path, text, message):
    path = tmp_path / "bad-model.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ComparisonModelError, match=message) as error:
        load_comparison_model(path)
    assert "bad-model.toml" in str(error.value)


def test_a_missing_comparison_model_says_how_to_restore_it(tmp_path):
    with pytest.raises(ComparisonModelError, match="fit-compare"):
        load_comparison_model(tmp_path / "gone.toml")


def test_a_lead_in_is_not_the_highlight():
    text = "As a councillor:\nI do not disclose information given to me in confidence."
    assert best_sentence(text, {"as": 5.0, "councillor": 5.0, "disclose": 1.0}, simple_tokens).startswith("I do not")


@pytest.mark.parametrize("asked, clause, present", [
    ("financ", ["financi", "interest"], True),      # finances ~ financial
    ("criticis", ["critic"], True),                 # criticise ~ criticism
    ("regist", ["registr"], True),                  # register ~ registration
    ("offic", ["offici"], False),                   # officer is not official: five letters are too few
    ("land", ["landlord"], False),
    ("gift", ["gift"], True),
])
def test_stem_families_match_derivations_of_one_word(asked, clause, present):
    assert StemFamilies(clause).has(asked) is present
    assert StemFamilies(clause).has_any(["unrelated", asked]) is present


@pytest.mark.parametrize("question, normative", [
    ("Can I ask an officer to come to my ward surgery?", True),
    ("Am I allowed to use the council's printer?", True),
    ("Do officers have to attend party group meetings?", True),
    ("Is it OK to cc another councillor?", True),
    ("I can\u2019t get a reply: who should I tell?", True),      # curly apostrophe, contraction
    ("Mustn't officers stay neutral?", True),
    ("How much is a councillor's annual allowance?", False),
    ("What pension scheme do council employees join?", False),
    ("Who canvassed the mayoral candidates?", False),            # a word only begins with "can"
    ("Is the cannery open on Sundays?", False),
])
def test_a_question_about_what_someone_may_or_must_do_is_normative(question, normative):
    assert is_normative(question) is normative


def test_a_normative_question_is_answered_on_less_evidence():
    weak = dict(dense_top=0.5, coverage=0.42)  # evidence 0.605: between the two thresholds
    assert should_abstain(signals(**weak))
    assert not should_abstain(signals(**weak, normative=True))
    off_topic = dict(dense_top=0.45, coverage=0.2)  # evidence 0.50: below both
    assert should_abstain(signals(**off_topic, normative=True))


def test_a_long_question_is_answered_on_a_little_less_evidence():
    story = dict(dense_top=0.5, coverage=0.24, normative=True)  # evidence 0.56: the story dilutes it
    assert should_abstain(signals(**story))
    assert not should_abstain(signals(**story, long=True))
    assert should_abstain(signals(**story, long=True), AbstentionPolicy(long_question_allowance=0.0))
    off_topic = dict(dense_top=0.45, coverage=0.2, normative=True)  # evidence 0.50: still below
    assert should_abstain(signals(**off_topic, long=True))


def test_agreeing_rankings_answer_on_less_evidence():
    # Both retrievers reach the gifts clauses first, but the cosine is low (0.41).
    gifts = dict(dense_top=0.41, coverage=0.54, normative=True)  # evidence 0.545
    assert should_abstain(signals(**gifts, agreement=0.6))
    assert not should_abstain(signals(**gifts, agreement=0.8))
    assert should_abstain(signals(**gifts, agreement=0.8), AbstentionPolicy(agreement_allowance=0.0))
    off_topic = dict(dense_top=0.35, coverage=0.2, normative=True)  # evidence 0.40: still below
    assert should_abstain(signals(**off_topic, agreement=1.0))


@pytest.mark.parametrize("question, long", [
    ("Can a councillor tell me to change my report?", False),
    ("The chief executive came to brief our group last week, and our secretary has written up "
     "what she told us. Should she be given the chance to check it?", True),
])
def test_a_question_that_tells_a_situation_first_is_long(question, long):
    assert is_long(question) is long


def test_a_malformed_question_forms_file_is_named(tmp_path):
    bad = tmp_path / "forms.toml"
    bad.write_text('normative = "may"\n', encoding="utf-8")
    with pytest.raises(QuestionFormsError, match=r"forms\.toml: 'normative' must be a list"):
        is_normative("May I?", bad)
    with pytest.raises(QuestionFormsError, match="cannot read question forms file"):
        is_normative("May I?", tmp_path / "missing.toml")

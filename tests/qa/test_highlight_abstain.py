import pytest

from qa.abstain import (AbstentionPolicy, AbstentionSignals, QuestionFormsError, StemFamilies,
                        addresses_question, agreement, is_normative, should_abstain, weighted_share)
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


def test_an_authority_far_below_the_best_does_not_address_the_question():
    overall = signals(dense_top=0.8)
    assert addresses_question(signals(dense_top=0.78), overall, best=1.03)
    assert not addresses_question(signals(dense_top=0.5, coverage=0.2), overall, best=1.03)


def test_a_clause_lacking_the_subject_and_unlike_the_best_authority_s_does_not_address_it():
    overall, own = signals(dense_top=0.8), signals(dense_top=0.62, coverage=0.36)
    best = 0.73
    assert addresses_question(own, overall, best)  # evidence alone: within the gap of the best
    assert not addresses_question(own, overall, best, best_coverage=1.0, similarity=0.43)
    assert addresses_question(own, overall, best, best_coverage=1.0, similarity=0.80)  # says the same thing
    assert addresses_question(own, overall, best, best_coverage=0.5, similarity=0.43)  # as many of the words


def test_no_authority_addresses_an_off_topic_question():
    off_topic = signals(dense_top=0.2, coverage=0.0)
    assert not addresses_question(signals(), off_topic, best=0.95)


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


def test_a_malformed_question_forms_file_is_named(tmp_path):
    bad = tmp_path / "forms.toml"
    bad.write_text('normative = "may"\n', encoding="utf-8")
    with pytest.raises(QuestionFormsError, match=r"forms\.toml: 'normative' must be a list"):
        is_normative("May I?", bad)
    with pytest.raises(QuestionFormsError, match="cannot read question forms file"):
        is_normative("May I?", tmp_path / "missing.toml")


def test_a_council_saying_what_the_best_council_says_needs_less_evidence():
    overall = signals(dense_top=0.8)
    own = signals(dense_top=0.45, coverage=0.3)  # evidence 0.525: below the usual 0.60
    assert not addresses_question(own, overall, best=0.70, similarity=0.60)
    assert addresses_question(own, overall, best=0.70, similarity=0.75)
    # ...but not when it is far below the best council, nor below its own minimum
    assert not addresses_question(own, overall, best=0.80, similarity=0.75)
    assert not addresses_question(signals(dense_top=0.40, coverage=0.2), overall, best=0.60, similarity=0.9)

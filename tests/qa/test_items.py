"""Lists inside clauses: item-by-item comparison, highlighting and excerpts."""

import pytest

from qa.compare_rows import likeness_label
from qa.equivalents import Likeness, classify, match_parts
from qa.highlight import highlight_spans
from qa.items import comparable_parts, excerpt, split_list
from qa.render import clause_html

# Wokingham's political assistants list (one passage) and Carlisle's clause 101, as in the corpus.
WOKINGHAM_11 = (
    "These Officers have been appointed by the Council exclusively to provide support to each of the party "
    "groups. This is in contrast to all other staff whose duty is to serve the Council as a whole:\n"
    "a) political Assistants will be treated in accordance with and expected to observe all codes, policies "
    "and practices relating to the Council's staff;\n"
    "b) except for their immediate secretarial and clerical support, the assistants will have no line "
    "management responsibility or power of direction over other staff;\n"
    "c) political Assistants are not authorised to comment publicly on behalf of the Council as a whole, or to "
    "commit the Council to any particular course of action, but can comment on behalf of the party group to "
    "which they have been assigned;\n"
    "d) the level of access to Council documents and information shall be that enjoyed by Members.")
CARLISLE_101 = (
    "Political assistants are not authorised to comment publicly on behalf of the Council as a whole, or to "
    "commit the Council to any particular course of action, but can comment on behalf of the party group to "
    "which they have been assigned.")
WATFORD_26 = ("Members are not authorised to instruct Officers other than:\n"
              "Through the formal decision-making process\n"
              "To request the provision of consumable resources provided by the Council for Members' use\n"
              "In the case of the Mayor's Political Assistant")
CUT_ITEM = ("The Chief Executive and Directors may properly be asked to contribute to deliberations of matters "
            "concerning Council business by political groups:\nOfficers will not normally be expected to attend "
            "a meeting of a political group where some of those attending are not Members of the Council;")


def test_a_list_splits_into_its_lead_in_and_items():
    listed = split_list(WOKINGHAM_11)
    assert listed.lead_in.endswith("serve the Council as a whole:")
    assert [i.label for i in listed.items] == ["a", "b", "c", "d"]
    assert listed.items[2].text.startswith("political Assistants are not authorised")
    assert WOKINGHAM_11[listed.items[3].start:listed.items[3].end].startswith("d) the level")
    unlabelled = split_list(WATFORD_26)
    assert [i.label for i in unlabelled.items] == ["", "", ""]


@pytest.mark.parametrize("text", ["One sentence.", "Ends with a colon:", "A heading:\n\n", "Not a list\nat all"])
def test_text_that_is_not_a_list(text):
    assert split_list(text) is None
    assert comparable_parts(text) == [("", text)]


def test_a_list_item_word_for_word_another_councils_clause_is_identical_in_that_item():
    whole_overlap = match_parts(CARLISLE_101, WOKINGHAM_11.replace("\n", " ")).word_overlap  # no list: whole
    match = match_parts(CARLISLE_101, WOKINGHAM_11)
    assert whole_overlap < 0.5 and classify(whole_overlap) is Likeness.DIFFERENT  # the "different, 38%"
    assert match.other_part == "item c)" and match.chosen_part == ""
    assert match.word_overlap == pytest.approx(1.0) and classify(match.word_overlap) is Likeness.IDENTICAL
    assert {piece.op for piece in match.diff} == {"same"}  # case and the closing ";" are not differences
    assert match_parts(WOKINGHAM_11, CARLISLE_101).chosen_part == "item c)"  # and the other way round


def test_a_cut_item_is_compared_without_its_lead_in():
    assert comparable_parts(CUT_ITEM)[1][0] == "the item"
    match = match_parts(CUT_ITEM, "Officers will not normally be expected to attend a meeting of a political "
                                  "group where some of those attending are not Members of the Council.")
    assert match.chosen_part == "the item" and match.word_overlap == pytest.approx(1.0)


def test_likeness_to_the_model_code_reads_item_by_item():
    assert likeness_label(CARLISLE_101, WOKINGHAM_11) == "identical to the model code (100% words in common)"
    assert likeness_label(CARLISLE_101, "Officers keep to their own duties.").startswith(
        "worded differently from the model code (")


def test_an_item_is_highlighted_with_its_lead_in_and_not_its_neighbours():
    item = "To request the provision of consumable resources provided by the Council for Members' use"
    spans = highlight_spans(WATFORD_26, item)
    marked = [WATFORD_26[a:b] for a, b in spans]
    assert marked == ["Members are not authorised to instruct Officers other than:", item]
    html = clause_html(WATFORD_26, item)
    assert html.count('<mark class="pqa-hl">') == 2 and "<mark class=\"pqa-hl\">Through" not in html
    # an ordinary sentence is marked alone; a highlight that does not occur marks nothing
    assert highlight_spans("First. Second one.", "Second one.") == [(7, 18)]
    assert highlight_spans(WATFORD_26, "not in the clause") == []


def test_an_excerpt_of_a_list_shows_its_lead_in_and_the_answering_item():
    item = "c) political Assistants are not authorised to comment publicly"
    shown = excerpt(WOKINGHAM_11, item, limit=220)
    assert "c) political Assistants are not authorised" in shown and "a) political" not in shown
    assert shown.startswith("These Officers have been appointed by the Council… c) political")
    assert len(shown) <= 240
    # without a highlight, the first item; an ordinary clause shows its answering sentence
    assert "a) political Assistants" in excerpt(WOKINGHAM_11)
    assert excerpt("Opening words. The rule itself applies.", "The rule itself applies.") == \
        "… The rule itself applies."
    assert excerpt("word " * 100, limit=50).endswith("…")


def test_a_long_lead_in_is_cut_once():
    lead = "The Chief Executive and Directors may properly be asked to contribute to deliberations of " * 3
    shown = excerpt(lead.strip() + ":\nOfficers will not normally attend.", "Officers will not normally attend.",
                    limit=120)
    assert "… …" not in shown and shown.endswith("Officers will not normally attend.")

"""Equivalent clauses on the default corpus with the real model: clauses the
councils share word for word, clauses that differ in a word or a name, and
clauses on the same subject that differ materially."""

import pytest

from qa.equivalents import Likeness, find_equivalents

pytestmark = pytest.mark.slow


def position(answerer, authority: str, opening: str) -> int:
    """Row of the one passage of ``authority`` that starts with ``opening``."""
    rows = [i for i, p in enumerate(answerer.index.passages)
            if p.authority == authority and p.text.startswith(opening)]
    assert len(rows) == 1, (authority, opening, rows)
    return rows[0]


def equivalents_by_authority(answerer, authority: str, opening: str):
    found = find_equivalents(answerer.index, position(answerer, authority, opening))
    assert all(eq.passage.authority != authority for eq in found)  # never the council's own clause
    return {eq.passage.authority: eq for eq in found}


@pytest.mark.parametrize("authority, opening, sharing", [
    # the correspondence clause
    ("Watford Borough Council", "Correspondence between an individual Member and an Officer",
     ["Carlisle City Council", "Wokingham Borough Council"]),
    # party-group clauses
    ("Carlisle City Council", "Officers will respect the confidentiality of any party group discussions",
     ["Watford Borough Council"]),
    ("Carlisle City Council", "In their dealings with party groups, officers must treat each group",
     ["Watford Borough Council"]),
])
def test_shared_clauses_are_identical(real_answerer, authority, opening, sharing):
    by_authority = equivalents_by_authority(real_answerer, authority, opening)
    for other in sharing:
        equivalent = by_authority[other]
        assert equivalent.likeness is Likeness.IDENTICAL, (other, equivalent.passage.text)
        assert equivalent.passage.text.lower().startswith(opening.lower()[:40])
        assert equivalent.similarity > 0.8


def test_a_clause_differing_in_a_title_is_reworded_and_the_diff_names_the_titles(real_answerer):
    # "Senior officers may properly be asked..." (Carlisle) against "Chief Officers may..." (Watford)
    by_authority = equivalents_by_authority(real_answerer, "Carlisle City Council",
                                            "Senior officers may properly be asked to contribute")
    watford = by_authority["Watford Borough Council"]
    assert watford.passage.text.startswith("Chief Officers may properly be asked")
    assert watford.likeness is Likeness.REWORDED
    changed = {(piece.op, piece.text) for piece in watford.diff if piece.op != "same"}
    assert changed == {("removed", "Senior"), ("added", "Chief")}  # case is not a difference


def test_a_materially_different_clause_is_told_apart(real_answerer):
    # (The previous fine-tuned encoder put Wokingham's clause at cosine 0.576, under the 0.6 floor;
    # the encoder retrained with four more writers lists it again.)
    # The example: "the immediate run-up to Council elections" against
    # "the approximate six week period between the notice of election and the election itself".
    by_authority = equivalents_by_authority(real_answerer, "Carlisle City Council",
                                            "No such meetings should be arranged or held in the immediate run-up")
    watford, wokingham = by_authority["Watford Borough Council"], by_authority["Wokingham Borough Council"]
    assert watford.passage.text.startswith("No such meetings should be arranged or held in the immediate run-up")
    assert watford.likeness is Likeness.REWORDED  # the same sentence, without Carlisle's second one
    assert wokingham.likeness is Likeness.DIFFERENT
    assert watford.word_overlap > wokingham.word_overlap


def test_a_list_item_word_for_word_is_equivalent_item_by_item(real_answerer):
    # The example: Wokingham's political assistants list, item (c), is Carlisle 101 word for word
    # (compared as whole clauses: "different, 38%").
    by_authority = equivalents_by_authority(real_answerer, "Carlisle City Council",
                                            "Political assistants are not authorised to comment publicly")
    wokingham = by_authority["Wokingham Borough Council"]
    assert wokingham.likeness is Likeness.IDENTICAL and wokingham.equivalent
    assert wokingham.other_part == "item c)" and wokingham.word_overlap > 0.98


def test_nothing_sharing_few_words_is_called_an_equivalent(real_answerer):
    # The issue: an "equivalent" of Carlisle 83 in Wokingham shared 8% of its words.
    for opening in ("Officers have the right to refuse such requests",
                    "The Council provides all members with services such as typing"):
        for equivalent in equivalents_by_authority(real_answerer, "Carlisle City Council", opening).values():
            assert equivalent.equivalent == (equivalent.word_overlap >= 0.6), equivalent.to_dict()

"""The cited PDF page drawn with the clause marked (qa/pages.py), on the corpus's own PDFs."""

from pathlib import Path

import pytest

from qa.pages import clause_marks, clause_span, render_page

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
WOKINGHAM = CORPUS / "wokingham-borough-council-constitution-9-3-member-officer-protocol.pdf"
ITEM_F = ("The Chief Executive and Directors may properly be asked to contribute to deliberations of matters "
          "concerning Council business by political groups:\nOfficers will respect the confidentiality of any "
          "political group discussions at which they are present and, unless requested to do so by that party "
          "group, will not relay the content of such discussions to another party group or to any other Members. "
          "This shall not prevent the Chief Executive or a Director providing feedback to other Directors on a "
          "need-to-know basis;")


def test_a_clause_is_found_on_the_page_whatever_its_line_breaks_and_hyphens():
    page = "Header\r\nMembers must not pres-\r\nsure officers.  Next clause."
    start, end = clause_span(page, "Members must not pressure officers.")
    assert page[start:end] == "Members must not pres-\r\nsure officers"
    assert clause_span(page, "Nothing of the kind is printed here.") is None
    assert clause_span("", "anything") is None and clause_span(page, "") is None


def test_a_clause_running_over_the_page_is_marked_to_the_page_end_or_from_its_top():
    opening = "Members must always respect the roles and duties of officers " * 2
    page = "Top of page. " + opening
    start, end = clause_span(page, opening + "and this continues on the next page at length.")
    assert page[start:start + 7] == "Members" and end == len(page)
    closing = "and the clause ends on this page, at the top, with the last of its words printed here."
    start, end = clause_span(closing + " Next.", "It began on the page before, " * 3 + closing)
    assert start == 0 and end == len(closing) - 1  # up to its last letter


def test_a_list_item_is_looked_for_as_its_lead_in_and_item():
    assert clause_marks(ITEM_F) == [ITEM_F.split("\n")[0], ITEM_F.split("\n")[1]]
    assert clause_marks("An ordinary clause.") == ["An ordinary clause."]


def test_the_cited_page_is_drawn_with_its_clause_marked():
    image = render_page(WOKINGHAM, 10, clause_marks(ITEM_F))
    assert image.png.startswith(b"\x89PNG") and image.marked
    assert (image.page, image.pages) == (10, 11) and image.width > 800
    assert not render_page(WOKINGHAM, 1, clause_marks(ITEM_F)).marked  # not on page 1: nothing marked
    with pytest.raises(ValueError, match="page 12 is not in .* which has 11 pages"):
        render_page(WOKINGHAM, 12)

"""A PDF page as the reader would see it printed, with a clause marked on it.

Browse shows the cited page itself, not only its extracted text, so a reader
can check the clause against the document as published. Pages are drawn with
PDFium (``pypdfium2``); the clause is found on the page by its letters and
digits alone (spacing, line breaks, hyphenation and punctuation folded away),
because the indexed clause is the cleaned text, not the page's raw text.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

# Enough of a clause's opening and close to find it on a page, in letters and digits.
ANCHOR_CHARS = 60
SCALE = 1.5  # 108 dots per inch: legible at 1,300 px, about 900 px wide for an A4 page


@dataclass(frozen=True)
class PageImage:
    png: bytes
    page: int            # 1-based
    pages: int           # in the document
    marked: bool         # whether the clause was found and marked on this page
    width: int
    height: int


def _folded(text: str) -> tuple[str, list[int]]:
    """Lower-case letters and digits of ``text`` and, for each, its index in ``text``."""
    kept, where = [], []
    for index, ch in enumerate(text):
        if ch.isalnum():
            kept.append(ch.lower())
            where.append(index)
    return "".join(kept), where


def clause_span(page_text: str, clause: str) -> tuple[int, int] | None:
    """Character span of ``clause`` in ``page_text``, compared by letters and digits only.

    The whole clause when it is on the page; else from its opening to the end
    of the page (it continues overleaf) or from the top of the page to its
    close (it began on the page before); None when neither end is found.
    """
    page, where = _folded(page_text)
    wanted, _ = _folded(clause)
    if not wanted or not page:
        return None
    at = page.find(wanted)
    if at >= 0:
        return where[at], where[at + len(wanted) - 1] + 1
    head, tail = wanted[:ANCHOR_CHARS], wanted[-ANCHOR_CHARS:]
    start, end = page.find(head), page.rfind(tail)
    if start >= 0 and (end < start):
        return where[start], len(page_text)
    if end >= 0 and start < 0:
        return 0, where[end + len(tail) - 1] + 1
    if start >= 0 and end >= start:
        return where[start], where[end + len(tail) - 1] + 1
    return None


def clause_marks(text: str) -> list[str]:
    """What to look for on the page: a clause cut from a list is its lead-in and its item, which
    the page prints apart (often on different pages); any other clause is itself."""
    from .items import split_list

    listed = split_list(text)
    if listed is not None and len(listed.items) == 1:
        return [listed.lead_in, text[listed.items[0].start:listed.items[0].end]]
    return [text]


def render_page(path: Path | str, page: int, marks: Sequence[str] = (), *, scale: float = SCALE) -> PageImage:
    """Page ``page`` (1-based) of the PDF at ``path`` as a PNG, with each text of ``marks`` marked
    where it is found on the page (see :func:`clause_span` and :func:`clause_marks`).

    Raises ValueError naming the page when it is not in the document; PDFium's
    own error when the file cannot be read.
    """
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    document = pdfium.PdfDocument(str(path))
    try:
        if not 1 <= page <= len(document):
            raise ValueError(f"page {page} is not in {Path(path).name}, which has {len(document)} pages")
        pdf_page = document[page - 1]
        image = pdf_page.render(scale=scale).to_pil().convert("RGB")
        text_page = pdf_page.get_textpage()
        page_text = text_page.get_text_range()
        spans = [span for span in (clause_span(page_text, mark) for mark in marks) if span is not None]
        if spans:
            _, height = pdf_page.get_size()
            overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
            draw = ImageDraw.Draw(overlay)
            for span in spans:
                for index in range(text_page.count_rects(span[0], span[1] - span[0])):
                    left, bottom, right, top = text_page.get_rect(index)
                    box = (left * scale - 2, (height - top) * scale - 2, right * scale + 2,
                           (height - bottom) * scale + 2)
                    draw.rectangle(box, fill=(255, 214, 0, 90))
                    draw.rectangle((box[0] - 8, box[1], box[0] - 5, box[3]), fill=(180, 120, 0, 255))
            image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        return PageImage(buffer.getvalue(), page, len(document), bool(spans), image.width, image.height)
    finally:
        document.close()

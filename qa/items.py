"""Lists inside a clause: the lead-in sentence and its items.

A clause cut from a list is stored as its lead-in and the item
("Members are not authorised to instruct Officers other than:\\nthrough the
formal decision-making process"); a list that was not cut keeps every item on a
line of its own under the lead-in. Comparing, highlighting and excerpting work
on the item, not on the whole list: two councils sharing one item word for word
share that item, whatever else their lists hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.markers import BULLET, match_label


@dataclass(frozen=True)
class Item:
    label: str    # as printed without brackets ("c", "iv"), "" for an unlabelled line
    text: str     # the item's own words, its label removed
    start: int    # character span of the whole line in the clause text
    end: int


@dataclass(frozen=True)
class ListParts:
    lead_in: str            # the sentence ending with ":" that introduces the items
    items: tuple[Item, ...]


def split_list(text: str) -> ListParts | None:
    """The lead-in and items of a clause that is a list, else None.

    A list is a first line ending with ":" followed by one or more lines, each
    an item (labelled "a)", "(iv)", a bullet, or not at all).
    """
    first, newline, rest = text.partition("\n")
    if not newline or not first.rstrip().endswith(":") or not rest.strip():
        return None
    items = []
    offset = len(first) + 1
    for line in rest.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        words = line.strip()
        if not words:
            continue
        label = match_label(words)
        if label is not None:
            own, name = words[label.end:].strip(), label.label
        else:
            bullet = BULLET.match(words)
            own, name = (words[bullet.end():].strip() if bullet else words), ""
        lead = len(line) - len(line.lstrip())
        items.append(Item(name, own or words, start + lead, end))
    return ListParts(first.strip(), tuple(items)) if items else None


def comparable_parts(text: str) -> list[tuple[str, str]]:
    """(where, words) pairs a clause can be compared by: the whole clause, and
    for a list each item on its own ("item c)", or "item 2" when unlabelled)."""
    parts = [("", text)]
    listed = split_list(text)
    if listed is None:
        return parts
    for number, item in enumerate(listed.items, start=1):
        where = f"item {item.label})" if item.label else "the item" if len(listed.items) == 1 else f"item {number}"
        parts.append((where, item.text))
    return parts


def excerpt(text: str, highlight: str = "", limit: int = 220) -> str:
    """A short excerpt for a one-line summary: for a list, its lead-in and the
    item that answers (``highlight``, else the first); otherwise the
    best-matching sentence, else the opening, cut at a word with "…"."""
    listed = split_list(text)
    if listed is not None:
        chosen = next((i for i in listed.items if highlight and highlight.strip() in text[i.start:i.end]),
                      listed.items[0])
        item = text[chosen.start:chosen.end].strip()
        lead = _cut(listed.lead_in, max(60, limit - len(item) - 3))
        return lead + (" " if lead.endswith("…") else " … ") + _cut(item, max(60, limit - len(lead) - 3))
    sentence = highlight.strip() if highlight else ""
    if not sentence or sentence not in text:
        return _cut(text, limit)
    before = "… " if not text.lstrip().startswith(sentence) else ""
    return before + _cut(sentence, limit)


def _cut(words: str, limit: int) -> str:
    words = " ".join(words.split())
    if len(words) <= limit:
        return words
    cut = words[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"

"""Clause cutting: clean paragraphs -> clause-level passage drafts with section paths.

One draft per clause: a numbered paragraph ("14.", "1.1", "9.3.7"), a labelled item
that stands on its own ("3(h)"), an unnumbered paragraph or bullet under a heading,
or a table row. Lists stay with their lead-in sentence: the whole list in one draft
when it is short, otherwise one draft per item whose text begins with the lead-in.
Headings never become drafts; they form the section path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.cleanup import Para
from ingest.markers import (
    PART_WORDS, Label, title_words, ends_terminal, heading_like, is_upper, match_bare_label, match_label, match_number,
)

GROUP_LIMIT = 1200  # a list with its lead-in stays one passage up to this many characters


@dataclass
class Draft:
    section: str
    clause: str
    text: str
    start: int
    end: int
    pages: tuple[int, ...]


@dataclass
class _Block:
    kind: str            # heading | clause | item | para | row | toc
    text: str            # paragraph text
    start: int           # offset of the paragraph in the document text
    pages: set[int]
    body: int = 0        # offset within text where the words begin (after number / label)
    ref: str = ""        # clause number or item label
    level_key: str = ""  # heading style
    bullet: bool = False
    super_: bool = False

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass
class _Unit:
    section: str
    clause: str
    blocks: list[_Block]
    prefix: str = ""          # a lead-in shared by several numbered clauses ("As a councillor:")
    items: list[int] = field(default_factory=list)   # indices into blocks of top-level items
    item_refs: list[str] = field(default_factory=list)
    short_title: bool = False
    item_kind: str = ""
    parent: str = ""          # number of the nearest numbered heading, for citing items


def _roman(label: str) -> bool:
    return bool(re.fullmatch(r"[ivxlc]+", label.lower()))


def _next_label(label: str) -> str:
    return chr(ord(label[-1]) + 1) if len(label) == 1 and label.isalpha() else ""


def _item_kind(ref: str, current_kind: str, previous: str) -> str:
    if not ref:
        return "bullet"
    if ref.isdigit():
        return "digit"
    if ref.lower() == "i" and current_kind == "alpha" and previous.lower() == "h":
        return "alpha"
    if _roman(ref) and (ref.lower() != "i" or current_kind == "alpha"):
        if current_kind == "alpha" and len(ref) == 1 and _next_label(previous) == ref:
            return "alpha"
        return "roman"
    return "alpha"


def _heading_key(text: str) -> tuple[str, bool]:
    number = match_number(text)
    body = text[number.end:] if number else text
    if PART_WORDS.match(body) or is_upper(body):
        return "super", True
    return (f"n{number.depth}" if number else "plain"), False


def classify(paras: list[Para], offsets: list[int]) -> list[_Block]:
    blocks: list[_Block] = []
    last_label = ""
    prev_kind = ""
    for para, start in zip(paras, offsets):
        text = para.text
        block = _Block("para", text, start, set(para.pages), bullet=para.bullet)
        number = match_number(text)
        label = match_label(text)
        prev_text = blocks[-1].text if blocks else ""
        in_list = bool(blocks) and (blocks[-1].kind == "item" or prev_text.rstrip().endswith(":"))
        if "\t" in text:
            block.kind = "row"
        elif not para.bullet and heading_like(text) and not (label and not number):
            block.kind = "heading"
            block.level_key, block.super_ = _heading_key(text)
            if number:
                block.ref = number.ref
        elif number and not (para.bullet and number.depth == 1 and in_list) and not (in_list and number.depth == 1 and text[number.end:number.end + 1].islower()):
            block.kind, block.ref, block.body = "clause", number.ref, number.end
        elif label or number:
            mark = label.label if label else number.ref
            end = label.end if label else number.end
            block.kind, block.ref, block.body = "item", mark, end
        elif para.bullet:
            block.kind = "item"
        else:
            bare = match_bare_label(text)
            if bare and _accept_bare(bare, last_label, prev_kind, blocks):
                block.kind, block.ref, block.body = "item", bare.label, bare.end
        if block.kind == "item" and block.ref:
            last_label = block.ref
        elif block.kind in ("heading", "clause"):
            last_label = ""
        prev_kind = block.kind
        blocks.append(block)
    return blocks


def _accept_bare(bare: Label, last_label: str, prev_kind: str, blocks: list[_Block]) -> bool:
    label = bare.label
    recent = [b.ref for b in blocks[-40:] if b.kind == "item" and len(b.ref) == 1]
    if last_label and (_next_label(last_label) == label or (recent and _next_label(recent[-1]) == label)):
        return True
    alpha = [r for r in recent if not (_roman(r) and r.lower() != "i")]
    if alpha and _next_label(alpha[-1]) == label and label.isalpha() and not _roman(label):
        return True
    if label in ("a", "A") and prev_kind == "heading" and blocks and blocks[-1].ref:
        return True
    if _roman(label) and prev_kind in ("item", "para") and last_label:
        prev_roman = _roman(last_label) and not (len(last_label) == 1 and _next_label(last_label) == label)
        return label.lower() == "i" or prev_roman
    return False


def _norm(text: str) -> str:
    number = match_number(text)
    body = text[number.end:] if number else text
    return re.sub(r"[^a-z]+", " ", body.lower()).strip()


def drop_contents(blocks: list[_Block]) -> None:
    """Mark a table of contents (a run of heading-like lines most of which repeat
    later headings) so it yields neither passages nor headings."""
    i = 0
    n = len(blocks)
    while i < n:
        if blocks[i].kind not in ("heading", "row"):
            i += 1
            continue
        j = i
        while j < n and (blocks[j].kind == "heading" or (blocks[j].kind == "row" and len(blocks[j].text) < 120)
                         or (blocks[j].kind == "clause" and heading_like(blocks[j].text))):
            j += 1
        run = blocks[i:j]
        if len(run) >= 2:
            later = {_norm(b.text) for b in blocks[j:] if b.kind in ("heading", "clause")}
            later |= {_norm(b.text[:len(b.text)]) for b in blocks[j:] if b.kind == "heading"}
            hits = [k for k, b in enumerate(run) if _norm(b.text) in later]
            if hits and len(hits) * 2 >= len(run) - hits[0]:
                first = hits[0]
                while first > 0 and (re.fullmatch(r"(?i)\s*(table of )?contents?|index\s*", run[first - 1].text)
                                     or (run[first - 1].kind == "row" and "page" in run[first - 1].text.lower())):
                    first -= 1
                for b in run[first:]:
                    b.kind = "toc"
        i = max(j, i + 1)


def promote_parts(blocks: list[_Block]) -> None:
    """An unnumbered heading after which numbering starts again at 1 begins a new
    part of the document (an appendix, "Supporting Guidance on ..."), not a subsection."""
    seen_depths: set[int] = set()
    seen_clause = False
    for i, block in enumerate(blocks):
        if block.kind == "heading" and block.super_:
            seen_depths, seen_clause = set(), False
        if block.kind == "heading" and block.ref:
            seen_depths.add(block.ref.count(".") + 1)
        if block.kind == "clause":
            seen_clause = True
        if block.kind == "heading" and not block.ref and not block.super_:
            for nxt in blocks[i + 1:i + 4]:
                if nxt.kind in ("heading", "clause") and nxt.ref:
                    number = match_number(nxt.text)
                    if number and number.top == 1 and number.depth == 1 and (
                        seen_clause or (seen_depths and 1 not in seen_depths)
                    ):
                        block.super_, block.level_key = True, "super"
                    break


class _Sections:
    def __init__(self) -> None:
        self.part = ""
        self.stack: list[tuple[str, str, str]] = []  # (key, text, number)

    def push(self, block: _Block) -> None:
        if block.super_:
            self.part, self.stack = block.text, []
            return
        keys = [k for k, _, _ in self.stack]
        if block.level_key in keys:
            del self.stack[keys.index(block.level_key):]
        self.stack.append((block.level_key, block.text, block.ref))

    @property
    def path(self) -> str:
        parts = ([self.part] if self.part else []) + [t for _, t, _ in self.stack]
        return " > ".join(parts)

    @property
    def number(self) -> str:
        for _, _, number in reversed(self.stack):
            if number:
                return number
        number = match_number(self.part)
        return number.ref if number else ""


def build_units(blocks: list[_Block]) -> list[_Unit]:
    sections = _Sections()
    units: list[_Unit] = []
    current: _Unit | None = None
    leadin = ""
    for i, block in enumerate(blocks):
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if block.kind == "toc":
            continue
        if block.kind == "heading":
            sections.push(block)
            current, leadin = None, ""
            continue
        if block.kind == "row":
            units.append(_Unit(sections.path, "", [block]))
            current = None
            continue
        if block.kind == "clause":
            body = block.text[block.body:]
            current = _Unit(sections.path, block.ref, [block], prefix=leadin)
            current.short_title = len(body) <= 40 and len(body.split()) <= 6 and not body.endswith(":") and title_words(body)
            units.append(current)
            continue
        if block.kind == "item":
            kind = _item_kind(block.ref, current.item_kind if current else "", current.item_refs[-1] if current and current.item_refs else "")
            standalone = current is not None and current.clause.endswith(")") and current.items == [0]
            if current is not None and not (standalone and kind == current.item_kind):
                if not current.items:
                    current.item_kind = kind
                if kind == current.item_kind:
                    current.items.append(len(current.blocks))
                    current.item_refs.append(block.ref)
                current.blocks.append(block)
                continue
            # an item that stands on its own under a heading: cited with the heading's number
            parent = sections.number
            clause = f"{parent}({block.ref})" if block.ref else ""
            current = _Unit(sections.path, clause, [block], items=[0], item_refs=[block.ref], item_kind=kind)
            units.append(current)
            continue
        # unnumbered paragraph
        starts_lower = block.text[:1].islower()
        if current is not None and (current.short_title or (starts_lower and (current.items or len(current.blocks) > 0))):
            current.blocks.append(block)
            continue
        if block.text.rstrip().endswith(":") and nxt is not None and nxt.kind == "clause":
            leadin = block.text
            current = None
            continue
        leadin = ""
        current = _Unit(sections.path, "", [block], parent=sections.number)
        units.append(current)
    return units


_SENTENCE_END = re.compile(r"[.!?;][\"'”’)]*\s+(?=[\"'“‘(A-Z0-9])")


def split_long(text: str, limit: int) -> list[tuple[int, int]]:
    """Spans of ``text`` no longer than ``limit``, cut at sentence ends, else at
    spaces; a single unbroken run longer than ``limit`` is the only thing cut mid-word."""
    if len(text) <= limit:
        return [(0, len(text))]
    cuts = [m.end() for m in _SENTENCE_END.finditer(text)]
    spans: list[tuple[int, int]] = []
    start = 0
    k = 0
    while len(text) - start > limit:
        best = -1
        while k < len(cuts) and cuts[k] - start <= limit:
            best = cuts[k]
            k += 1
        if best <= start + limit // 4:
            space = text.rfind(" ", start + limit // 2, start + limit)
            best = space + 1 if space > start else start + limit
        spans.append((start, best))
        start = best
        while k < len(cuts) and cuts[k] <= start:
            k += 1
    spans.append((start, len(text)))
    return [(a, len(text[:b].rstrip())) for a, b in spans if text[a:b].strip()]


def _pages(blocks: list[_Block]) -> tuple[int, ...]:
    pages: set[int] = set()
    for b in blocks:
        pages |= b.pages
    return tuple(sorted(pages))


def _row_text(header: list[str], cells: list[str]) -> str:
    parts = []
    for k, cell in enumerate(cells):
        if not cell:
            continue
        name = header[k] if k < len(header) and header[k] else ""
        cell = cell.rstrip()
        if name:
            parts.append(f"{name}: {cell}" + ("" if ends_terminal(cell) else "."))
        else:
            parts.append(cell)
    return " ".join(parts)


def emit(units: list[_Unit], doc: str, cap: int) -> list[Draft]:
    drafts: list[Draft] = []
    header: list[str] = []
    prev_row_end = -10
    for unit in units:
        blocks = unit.blocks
        first = blocks[0]
        if first.kind == "row":
            cells = [c.strip() for c in first.text.split("\t")]
            if first.start - prev_row_end > 1 or not header:
                header = cells  # the first row of a table names its columns
                prev_row_end = first.end
                continue
            prev_row_end = first.end
            text = _row_text(header, cells)
            table = re.match(r"(?i)(table\s+\w+)", unit.section.split(" > ")[-1])
            clause = f"{table.group(1)}: {cells[0]}" if table and cells[0] else ""
            for a, b in split_long(text, cap):
                drafts.append(Draft(unit.section, clause, text[a:b], first.start, first.end, _pages([first])))
            continue
        start = first.start + first.body
        end = blocks[-1].end
        whole = doc[start:end]
        prefix = unit.prefix + "\n" if unit.prefix else ""
        if len(prefix) + len(whole) <= max(cap if not unit.items else min(cap, GROUP_LIMIT), 1):
            drafts.append(Draft(unit.section, unit.clause, prefix + whole, start, end, _pages(blocks)))
            continue
        if unit.items and unit.items != [0]:
            # lead-in, then each top-level item (with its sub-items) beginning with the lead-in
            head_blocks = blocks[:unit.items[0]]
            head = (prefix + doc[start:head_blocks[-1].end]) if head_blocks else prefix.rstrip("\n")
            bounds = unit.items + [len(blocks)]
            for n, ref in enumerate(unit.item_refs):
                part = blocks[bounds[n]:bounds[n + 1]]
                tail_split = [k for k, b in enumerate(part) if b.kind == "para" and k > 0 and b.text[:1].isupper()]
                part_start = part[0].start + part[0].body
                base = unit.clause or unit.parent
                clause = f"{base}({ref})" if ref and base else unit.clause
                _add_chunks(drafts, unit.section, clause, head, doc, part_start, part[-1].end, _pages(part), cap)
            continue
        _add_chunks(drafts, unit.section, unit.clause, prefix.rstrip("\n"), doc, start, end, _pages(blocks), cap)
    return drafts


def _add_chunks(drafts: list[Draft], section: str, clause: str, head: str, doc: str,
                start: int, end: int, pages: tuple[int, ...], cap: int) -> None:
    lead = head + "\n" if head else ""
    if len(lead) > cap // 2:
        lead = ""  # a lead-in that long would crowd out the item itself
    body = doc[start:end]
    for a, b in split_long(body, cap - len(lead)):
        drafts.append(Draft(section, clause, lead + body[a:b], start + a, start + b, pages))


def cut(paras: list[Para], cap: int) -> tuple[str, list[Draft]]:
    """The cleaned document text and its clause drafts."""
    offsets = []
    position = 0
    for para in paras:
        offsets.append(position)
        position += len(para.text) + 1
    doc = "\n".join(p.text for p in paras)
    blocks = classify(paras, offsets)
    drop_contents(blocks)
    promote_parts(blocks)
    return doc, emit(build_units(blocks), doc, cap)

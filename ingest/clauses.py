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
    FUNCTION_WORDS, PART_WORDS, Label, title_words, ends_terminal, heading_like, is_upper, match_bare_label, match_label, match_number,
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
    loose: bool = False       # an item standing on its own: the next item of its kind starts a new unit
    head_kind: str = ""       # the kind of item that is this unit's lead-in, when one is


def _leads_in(paragraph: str, item: str) -> bool:
    """Whether ``item`` continues the list that ``paragraph`` introduces. A paragraph
    ending with ":" always does; one ending a sentence (".", "!", "?") never does (its
    items are provisions in their own right); one without an ending does when the item
    grammatically completes it (starts in lower case, or ends like a list entry)."""
    end = paragraph.rstrip(" \"'”’)*")
    if end.endswith((":", "\u2013", "\u2014", "-")):
        return True
    if end.endswith((".", "!", "?")):
        return False
    tail = item.rstrip(" \"'”’)*")
    return item[:1].islower() or not ends_terminal(tail) or tail.endswith((";", ",")) \
        or tail.split()[-1:] in (["and"], ["or"])


def _list_goes_on(unit: _Unit, nxt: _Block | None) -> bool:
    """Whether ``nxt`` continues the list whose latest item ends ``unit``."""
    items = [b for b in unit.blocks if b.kind == "item"]
    if nxt is None or nxt.kind != "item" or not items:
        return False
    if not nxt.ref:
        return not items[-1].ref
    return bool(items[-1].ref) and _next_label(items[-1].ref) == nxt.ref


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
    for index, (para, start) in enumerate(zip(paras, offsets)):
        text = para.text
        block = _Block("para", text, start, set(para.pages), bullet=para.bullet)
        number = match_number(text)
        label = match_label(text)
        prev_text = blocks[-1].text if blocks else ""
        in_list = bool(blocks) and (blocks[-1].kind == "item" or prev_text.rstrip().endswith(":"))
        if "\t" in text:
            block.kind = "row"
        elif not para.bullet and heading_like(text) and not (label and not number) \
                and not (not number and _note_not_heading(text, blocks[-1] if blocks else None)):
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
            if bare and (_accept_bare(bare, last_label, prev_kind, blocks) or _confirmed_ahead(bare, paras, index)):
                block.kind, block.ref, block.body = "item", bare.label, bare.end
        if block.kind == "item" and block.ref:
            last_label = block.ref
        elif block.kind in ("heading", "clause"):
            last_label = ""
        prev_kind = block.kind
        blocks.append(block)
    return blocks


def _is_body(text: str) -> bool:
    """A sentence of running text: eight words or more, at least three in lower case."""
    words = text.split()
    return len(words) >= 8 and sum(1 for w in words if w[:1].islower()) >= 3


def front_matter_fields(blocks: list[_Block]) -> None:
    """Before the first numbered heading or clause, a covering sheet lists fields ("Public",
    "Inside Policy Framework", "Date of adoption February 2022"): a heading-like line
    there heads a section only when running text follows it."""
    end = next((i for i, b in enumerate(blocks) if b.ref and b.kind in ("heading", "clause")), len(blocks))
    converted = False  # whether the line after this one was turned from a heading into a field
    for i in range(min(end, len(blocks) - 1) - 1, -1, -1):
        block, nxt = blocks[i], blocks[i + 1]
        fields_follow = converted or (nxt.kind == "para" and not _is_body(nxt.text))
        converted = block.kind == "heading" and not block.super_ and fields_follow
        if converted:
            block.kind, block.level_key = "para", ""


def tiny(text: str) -> bool:
    """A fragment that says nothing on its own: five words or fewer ("Public", "Ext: 7004",
    "Summary:"), or a labelled value of up to eight words ("Key Decision: No", "Report of:
    DIRECTOR OF LEGAL AND DEMOCRATIC SERVICES")."""
    words = text.split()
    if len(words) <= 5:
        return True
    label, colon, value = text.partition(":")
    return bool(colon) and len(label.split()) <= 6 and len(value.split()) <= 8


def _note_not_heading(text: str, prev: _Block | None) -> bool:
    """Heading-like lines that are sentences: a sentence-case line of 13 or more words
    ("These Standing Orders were adopted by the Council at its meeting held on ..."), or a
    sentence-case line straight after a numbered heading ("See also standing order 21"),
    which is a note under that heading, not a subheading."""
    if is_upper(text) or title_words(text):
        return False
    words = re.findall(r"[A-Za-z][A-Za-z'’-]*", text)
    lower = [w for w in words if w[0].islower() and w.lower() not in FUNCTION_WORDS]
    if len(text.split()) >= 13 and len(lower) >= 4:
        return True
    return prev is not None and prev.kind == "heading" and bool(prev.ref)


def _confirmed_ahead(bare: Label, paras: list[Para], index: int) -> bool:
    """A bare letter label ("A All councillors ...") whose successor ("B ...") labels one of
    the next paragraphs, before any heading: the sequence confirms both are labels."""
    label = bare.label
    if len(label) != 1 or label.lower() not in "ai":
        return False
    want = _next_label(label)
    for para in paras[index + 1:index + 16]:
        mark = match_label(para.text) or match_bare_label(para.text)
        if mark and not para.bullet:
            return mark.label == want
        if heading_like(para.text) and not para.bullet:
            return False
    return False


def _accept_bare(bare: Label, last_label: str, prev_kind: str, blocks: list[_Block]) -> bool:
    label = bare.label
    recent = [b.ref for b in blocks[-40:] if b.kind == "item" and len(b.ref) == 1]
    if last_label and (_next_label(last_label) == label or (recent and _next_label(recent[-1]) == label)):
        return True
    alpha = [r for r in recent if not (_roman(r) and r.lower() != "i")]
    if label.isalpha() and not _roman(label) and any(_next_label(r) == label for r in alpha[-3:]):
        return True  # "p" after "o" with a roman sub-list ("i", "ii") between them
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


_LEADERS = re.compile(r"(?:\.\s?){5,}|(?:_\s?){5,}|(?:\u2026\s?){2,}")
_CONTENTS = re.compile(r"(?i)\s*(table of )?contents?|index\s*")


def drop_contents(blocks: list[_Block]) -> None:
    """Mark a table of contents (a run of heading-like lines most of which repeat
    later headings) so it yields neither passages nor headings."""
    for block in blocks:
        # dotted leaders ("Accounts ........ 13") are the layout of a contents list or index
        leaders = sum(len(m.group()) for m in _LEADERS.finditer(block.text))
        if leaders and leaders * 5 >= len(block.text):
            block.kind = "toc"
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
                # entries between a "Contents" line and the first repeated heading ("Introduction",
                # a preface that is not headed again later) belong to the list as well
                titled = [k for k in range(first) if _CONTENTS.fullmatch(run[k].text)]
                if titled:
                    first = titled[-1]
                while first > 0 and (_CONTENTS.fullmatch(run[first - 1].text)
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
    clause_ref = ""  # the numbered clause since the last heading, which items after it belong to
    for i, block in enumerate(blocks):
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if block.kind == "toc":
            continue
        if block.kind == "heading":
            sections.push(block)
            clause_ref = ""
            current, leadin = None, ""
            continue
        if block.kind == "row":
            units.append(_Unit(sections.path, "", [block]))
            current = None
            continue
        if block.kind == "clause":
            body = block.text[block.body:]
            current = _Unit(sections.path, block.ref, [block], prefix=leadin)
            clause_ref = block.ref
            # a numbered line that is only a title ("2.1 Consultation to Date.", "2.2 Consultation
            # proposed.") takes the paragraphs after it
            current.short_title = len(body) <= 40 and not body.endswith(":") and (
                (len(body.split()) <= 6 and title_words(body)) or len(body.split()) <= 3)
            units.append(current)
            continue
        if block.kind == "item":
            kind = _item_kind(block.ref, current.item_kind if current else "", current.item_refs[-1] if current and current.item_refs else "")
            if current is not None and current.loose and current.items == [0] and kind == current.item_kind \
                    and not block.ref and not current.blocks[-1].ref and current.blocks[-1].text.rstrip().endswith(":"):
                # an item on its own that ends with ":" is the lead-in of the items after it
                current.items, current.item_refs, current.item_kind, current.loose = [], [], "", False
                current.head_kind = kind
            elif current is not None and current.head_kind and current.item_kind \
                    and current.item_kind != current.head_kind and kind == current.head_kind:
                current = None  # an item of the lead-in's own kind ends the nested list
            if current is not None and current.items and not block.ref and current.item_kind == "bullet" \
                    and block.text.rstrip().endswith(":") and current.blocks[-1].text.rstrip().endswith("."):
                # the list before has ended; this bullet is the lead-in of a new one
                current = _Unit(current.section, current.clause, [block], parent=current.parent, head_kind=kind)
                units.append(current)
                continue
            standalone = current is not None and current.items == [0] and (current.clause.endswith(")") or current.loose)
            if current is not None and not current.items and not current.clause and not current.short_title \
                    and not _leads_in(current.blocks[-1].text, block.text[block.body:]):
                current = None  # a complete paragraph, then items that do not complete it
            if current is not None and not (standalone and kind == current.item_kind):
                if not current.items:
                    current.item_kind = kind
                if kind == current.item_kind:
                    current.items.append(len(current.blocks))
                    current.item_refs.append(block.ref)
                current.blocks.append(block)
                continue
            # an item that stands on its own under a heading: cited with the heading's number
            parent = clause_ref or sections.number
            clause = f"{parent}({block.ref})" if block.ref else ""
            current = _Unit(sections.path, clause, [block], items=[0], item_refs=[block.ref], item_kind=kind,
                            loose=True)
            units.append(current)
            continue
        # unnumbered paragraph
        starts_lower = block.text[:1].islower()
        if current is not None and (current.short_title or (starts_lower and (current.items or len(current.blocks) > 0))):
            current.blocks.append(block)
            continue
        if current is not None and current.blocks[-1].text.rstrip().endswith(":") and current.blocks[-1].kind != "para" \
                and not block.text.rstrip().endswith(":"):
            # the first entry of the list a numbered clause or item has just introduced
            # (printed without its label, or with a label the text layer lost)
            current.blocks.append(block)
            continue
        if current is not None and current.items and not block.text.rstrip().endswith(":") \
                and _list_goes_on(current, nxt):
            # a note between two items of one list belongs to the item before it
            current.blocks.append(block)
            continue
            current.blocks.append(block)
            continue
        if block.text.rstrip().endswith(":") and nxt is not None and nxt.kind == "clause":
            leadin = block.text
            current = None
            continue
        leadin = ""
        current = _Unit(sections.path, "", [block], parent=clause_ref or sections.number)
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


def _plain(unit: _Unit) -> bool:
    return not unit.clause and not unit.items and not unit.prefix and unit.blocks[0].kind == "para"


def merge_fragments(units: list[_Unit]) -> list[_Unit]:
    """Tiny unnumbered paragraphs ("Key Decision: No", "Ext: 7004") join the next plain
    paragraph of the same section, or else the one before, so they are kept verbatim but
    are never passages on their own. A tiny paragraph with nothing plain beside it stays."""
    out: list[_Unit] = []
    pending: list[_Unit] = []
    for unit in units:
        fragment = _plain(unit) and len(unit.blocks) == 1 and tiny(unit.blocks[0].text)
        if pending and (unit.section != pending[0].section or not _plain(unit)):
            _flush(out, pending)
            pending = []
        if fragment:
            pending.append(unit)
            continue
        if pending:
            unit.blocks[:0] = [b for u in pending for b in u.blocks]
            pending = []
        out.append(unit)
    _flush(out, pending)
    return out


def _flush(out: list[_Unit], pending: list[_Unit]) -> None:
    if not pending:
        return
    blocks = [b for u in pending for b in u.blocks]
    if out and _plain(out[-1]) and out[-1].section == pending[0].section:
        out[-1].blocks.extend(blocks)
    else:
        pending[0].blocks = blocks
        out.append(pending[0])


_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}


def _roman_value(label: str) -> int:
    values = [_ROMAN[c] for c in label.lower()]
    return sum(-v if k + 1 < len(values) and v < values[k + 1] else v for k, v in enumerate(values))


def _one_sequence(refs: list[str]) -> bool:
    """Unlabelled bullets, or labels that count up one by one ("a", "b", ... or "i", "ii", ...):
    a list whose nesting the layout makes clear enough to cite each entry."""
    if all(not r for r in refs):
        return True
    if not all(refs) or refs[0].lower() not in ("a", "i", "1"):
        return False
    if all(_roman(r) for r in refs) and refs[0].lower() == "i":
        return [_roman_value(r) for r in refs] == list(range(1, len(refs) + 1))
    return all(_next_label(a) == b or (a.isdigit() and b == str(int(a) + 1)) for a, b in zip(refs, refs[1:]))


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
        if unit.items == [0] and _emit_sub_items(drafts, unit.section, unit.clause, prefix, blocks, doc, cap):
            continue
        if unit.items and unit.items != [0]:
            # lead-in, then each top-level item (with its sub-items) beginning with the lead-in
            head_blocks = blocks[:unit.items[0]]
            head = (prefix + doc[start:head_blocks[-1].end]) if head_blocks else prefix.rstrip("\n")
            bounds = unit.items + [len(blocks)]
            for n, ref in enumerate(unit.item_refs):
                part = blocks[bounds[n]:bounds[n + 1]]
                part_start = part[0].start + part[0].body
                base = unit.clause or unit.parent
                clause = f"{base}({ref})" if ref and base else unit.clause
                lead = head + "\n" if head else ""
                if len(lead) + part[-1].end - part_start > GROUP_LIMIT and ref and base \
                        and _emit_sub_items(drafts, unit.section, clause, lead, part, doc, cap):
                    continue  # a long item with a sub-list: each sub-item cited as "4.1(b)(iv)"
                _add_chunks(drafts, unit.section, clause, head, doc, part_start, part[-1].end, _pages(part), cap)
            continue
        _add_chunks(drafts, unit.section, unit.clause, prefix.rstrip("\n"), doc, start, end, _pages(blocks), cap)
    return drafts


def _emit_sub_items(drafts: list[Draft], section: str, clause: str, prefix: str, blocks: list[_Block],
                    doc: str, cap: int) -> bool:
    """One labelled item (``blocks[0]``) with a list of its own: each sub-item becomes a
    draft led in by everything before the sub-list and cited with all its parents
    ("15(B)", "4.1(b)(iv)"). Returns False, emitting nothing, when there is no sub-list or
    its labels cannot be trusted: they do not count up one by one, or an unlabelled entry
    comes before the first labelled one (a label the text layer lost)."""
    nested = [k for k, b in enumerate(blocks) if k > 0 and b.kind == "item"]
    if not nested or not _one_sequence([blocks[k].ref for k in nested]) \
            or any(b.kind == "para" and b.text[:1].islower() for b in blocks[1:nested[0]]):
        return False
    start = blocks[0].start + blocks[0].body
    head = prefix + doc[start:blocks[nested[0] - 1].end]
    bounds = nested + [len(blocks)]
    for n, k in enumerate(nested):
        part = blocks[k:bounds[n + 1]]
        ref = part[0].ref
        cited = f"{clause}({ref})" if ref and clause else clause
        _add_chunks(drafts, section, cited, head, doc, part[0].start + part[0].body, part[-1].end, _pages(part), cap)
    return True


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
    front_matter_fields(blocks)
    promote_parts(blocks)
    return doc, emit(merge_fragments(build_units(blocks)), doc, cap)

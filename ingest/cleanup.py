"""Page clean-up: raw page texts -> clean paragraphs, each with the pages it spans.

Removes running headers and footers and page numbers, rejoins lines wrapped
inside a sentence (also across a page break), drops control characters and
bullet glyphs, and strips Markdown/HTML residue without losing words.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field

from ingest.markers import (
    BULLET, ends_terminal, heading_continues, heading_like, is_upper, match_label, match_number, title_words,
)


@dataclass
class Para:
    """One paragraph of clean text. ``bullet``: it was printed with a bullet glyph."""

    text: str
    pages: set[int] = field(default_factory=set)
    bullet: bool = False


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d\ufeff\ufffd\ue000-\uf8ff]")
_PAGE_NUMBER = re.compile(r"(?i)(page\s*\|?\s*)?\d{1,4}(\s*(of|/)\s*\d{1,4})?|-\s*\d{1,4}\s*-|[ivxlc]{1,6}")
_TAG = re.compile(r"(?i)</?(?:p|br|div|span|b|i|em|strong|u|li|ul|ol|sup|sub|font|a)\b[^<>]{0,200}>")
_BOLD = re.compile(r"(\*\*|__)([^*_\n]{1,300}?)\1")
_EMPH = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]{1,200}?)(?<=\S)\*(?![\w*])")
_LINK = re.compile(r"\[([^\[\]\n]{1,300})\]\([^()\s]{0,500}\)")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|])")
_MD_HEADING = re.compile(r"#{1,6}[ \t]+")
# bare letter labels: "B The motion ...", "a Motions ...", "H A councillor ...", "a “Proper practices” ..."
_BARE_LABEL = re.compile(r"[A-Za-z] (?:[A-Z][a-z]|[AI] [a-z]|[\"“][A-Z])")
_RULE = re.compile(r"[\s|:\-=_*~]*")


def clean_line(line: str) -> str:
    """Control characters, non-breaking spaces and Markdown/HTML residue out; words kept."""
    if "&" in line and ";" in line:
        line = html.unescape(line)
    line = line.replace("\u00a0", " ").replace("\x7f", "\u2022")  # some PDFs draw bullets as DEL
    line = _CONTROL.sub("", line)
    if "<" in line:
        line = _TAG.sub(" ", line)
    if "*" in line or "_" in line:
        line = _BOLD.sub(r"\2", line)
        line = _EMPH.sub(r"\1", line)
        line = line.replace("**", "")
    if "](" in line:
        line = _LINK.sub(r"\1", line)
    if "\\" in line:
        line = _ESCAPE.sub(r"\1", line)
    stripped = line.strip()
    if stripped.startswith("#"):
        stripped = _MD_HEADING.sub("", stripped, count=1)
    if stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1:
        stripped = "\t".join(c.strip() for c in stripped[1:-1].split("|"))
    cells = [" ".join(c.split()) for c in stripped.split("\t")]
    return "\t".join(cells).strip(" ")


def _is_rule(line: str) -> bool:
    """Markdown table separators and horizontal rules ("|---|---|", "--\t---")."""
    return bool(line) and _RULE.fullmatch(line) is not None and any(c in line for c in "-=_*")


def _split_bullet(text: str) -> tuple[str, bool]:
    m = BULLET.match(text)
    if m and not text.startswith(("--", "**")):
        return text[m.end():], True
    return text, False


# --- paged documents (PDF) ---------------------------------------------------


def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.lower().split()))


def strip_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Drop lines repeated at the top or bottom of many pages, and page numbers there."""
    edge = 3
    counts: Counter[str] = Counter()
    for lines in pages:
        content = [l for l in lines if l.strip()]
        keys = {_edge_key(l) for l in content[:edge] + content[-edge:]}
        counts.update(keys)
    threshold = max(2, (len(pages) + 1) // 2)
    running = {k for k, n in counts.items() if n >= threshold} if len(pages) >= 2 else set()
    out = []
    for lines in pages:
        content_idx = [i for i, l in enumerate(lines) if l.strip()]
        edges = set(content_idx[:edge] + content_idx[-edge:])
        kept = []
        for i, line in enumerate(lines):
            if i in edges:
                key = _edge_key(line)
                if key in running or _PAGE_NUMBER.fullmatch(line.strip()):
                    continue
            kept.append(line)
        out.append(kept)
    return out


def _line_starts_block(line: str) -> bool:
    if BULLET.match(line) and not line.startswith("--"):
        return True
    if _BARE_LABEL.match(line):
        return True
    return match_number(line) is not None or match_label(line) is not None


def join_pdf_lines(pages: list[list[str]]) -> list[Para]:
    """Rejoin lines wrapped inside a paragraph; a paragraph may continue over a page break."""
    lines = [(clean_line(l), n) for n, page in enumerate(pages, 1) for l in page]
    lines = [(l, n) for l, n in lines if l and not _is_rule(l)]
    if not lines:
        return []
    lengths = sorted(len(l) for l, _ in lines)
    width = max(40, lengths[int(len(lengths) * 0.9)])
    paras: list[Para] = []
    prev = ""
    for line, page in lines:
        text, bullet = _split_bullet(line)
        if not text:
            continue
        new = (
            not paras
            or bullet
            or (_line_starts_block(text) and (ends_terminal(prev) or len(prev) < 0.8 * width
                                           or (heading_like(prev) and not heading_continues(prev))))
            or (ends_terminal(prev) and len(prev) < 0.85 * width)
            or (not ends_terminal(prev) and len(prev) < 0.6 * width and (text[0].isupper() or text[0].isdigit())
                and not _bare_marker(paras[-1].text))
            or (heading_like(paras[-1].text) and is_upper(paras[-1].text) != is_upper(text))
            or (heading_like(text) and prev.rstrip()[-1:] in ".:;!?" and not _bare_marker(paras[-1].text))
            or (heading_like(paras[-1].text) and len(prev) < 0.7 * width
                and text[0].isupper() and not heading_continues(paras[-1].text))
            or (text.endswith(":") and len(text) < 0.6 * width and text[0].isupper() and ends_terminal(prev))
        )
        if new and paras and not bullet and _heading_wraps(paras[-1].text, text):
            new = False
        if new:
            paras.append(Para(text, {page}, bullet))
        else:
            last = paras[-1]
            sep = "" if last.text.endswith("-") and last.text[-2:-1].isalpha() and text[:1].islower() else " "
            last.text = last.text + sep + text
            last.pages.add(page)
        prev = line
    return paras


_WRAP_END = re.compile(r"(?:,|/|&|\band|\bor)\s*$", re.I)


def _heading_wraps(heading: str, line: str) -> bool:
    """A heading broken after a comma, "and", "or", "/" or "&" ("9.3.4 The Mayor, ...
    Members," / "Chairman, Vice-Chairman") goes on with a short title-cased line that
    is not itself numbered or labelled."""
    if not _WRAP_END.search(heading) or len(heading) > 160:
        return False
    stem = _WRAP_END.sub("", heading).rstrip()
    if not stem or not heading_like(stem) or (match_number(stem) is None and not title_words(stem)):
        return False
    return heading_like(line) and title_words(line) and len(line.split()) <= 8 and not _line_starts_block(line)


def _bare_marker(text: str) -> bool:
    """A label printed alone at the end of a page ("p") or before its text ("(a)")."""
    t = text.strip()
    return len(t) <= 4 and (match_label(t + " x") is not None or re.fullmatch(r"[a-zA-Z]|\d{1,3}\.?", t) is not None)


# --- unpaged documents ----------------------------------------------------------


def split_text_lines(text: str) -> list[Para]:
    paras: list[Para] = []
    for raw in text.splitlines():
        line = clean_line(raw)
        if not line or _is_rule(line):
            continue
        if raw[:1] == "\t" and paras and "\t" in paras[-1].text:
            # a table cell wrapped onto a new line that starts with an empty first cell
            paras[-1].text += " " + line.strip()
            continue
        body, bullet = _split_bullet(line)
        if body:
            paras.append(Para(body, set(), bullet))
    return paras


# --- repairs common to every format -------------------------------------------


def _joins(a: Para, b: Para) -> bool:
    at, bt = a.text, b.text
    if _bare_marker(at):
        return True
    if "\t" in at or "\t" in bt:
        return False
    b_marked = match_number(bt) is not None or match_label(bt) is not None or _BARE_LABEL.match(bt) is not None
    if not a.bullet and not b.bullet and _heading_wraps(at, bt):
        return True
    if heading_like(at):
        if bt[:1].islower() and not b.bullet and not b_marked:
            return True  # a heading never continues in lower case: this was a wrapped sentence
        return heading_continues(at) and heading_like(bt) and is_upper(at) == is_upper(bt) and not b_marked
    if ends_terminal(at) or a.bullet:
        return False
    if b_marked:
        return False
    if bt[:1].islower():
        return len(at) > 60
    last_word = at.split()[-1] if at.split() else ""
    ends_in_word = last_word[-1:].isalpha() or last_word.endswith(("'", "\u2019"))
    return not b.bullet and len(at) > 100 and ends_in_word and not heading_like(bt)


def repair(paras: list[Para]) -> list[Para]:
    out: list[Para] = []
    for para in paras:
        if out and _joins(out[-1], para):
            last = out[-1]
            last.text = last.text + " " + para.text
            last.pages |= para.pages
        else:
            out.append(para)
    return out


_LAST_SENTENCE = re.compile(r"[.!?][\"'\u201d\u2019)]*\s+(?=[A-Z\u201c\"'][^.!?]{3,200}:$)")


def split_glued_lead_ins(paras: list[Para]) -> list[Para]:
    """A bullet whose last sentence is the lead-in of the next list ("... improperly.
    Officers can expect from councillors:") was glued on by the text layer: the lead-in
    becomes a paragraph of its own. Only bullets followed by bullets are split, so a
    numbered clause that ends by introducing its own list keeps it."""
    out: list[Para] = []
    for k, para in enumerate(paras):
        nxt = paras[k + 1] if k + 1 < len(paras) else None
        text = para.text.rstrip()
        if para.bullet and nxt is not None and nxt.bullet and text.endswith(":"):
            cut = None
            for m in _LAST_SENTENCE.finditer(text):
                cut = m
            if cut is not None:
                out.append(Para(text[:cut.end()].rstrip(), set(para.pages), True))
                # kept at the level of the list it was glued to, so a nested list under it ends
                # where the next bullet of that level begins
                out.append(Para(text[cut.end():], {max(para.pages)} if para.pages else set(), True))
                continue
        out.append(para)
    return out


# A page "scattered" by its PDF producer puts every word on a line of its own, with a
# line holding only a space between words and a run of them between lines
# ("Wroxton\n \n&\n \nBalscote\n \nParish"): seen in a Word export whose text layer
# pypdf reads word by word. Such a page has at least SCATTERED_MIN_LINES lines, of
# which at least SCATTERED_SHARE hold one word or less and SCATTERED_SPACES hold
# only a space (an empty line is a paragraph break, not this).
SCATTERED_MIN_LINES = 12
SCATTERED_SHARE = 0.85
SCATTERED_SPACES = 0.3
_PUNCTUATION_START = re.compile(r"^[,.;:!?)\]’”%]")


def rejoin_scattered_words(page: str) -> str:
    """A scattered page's words joined back into its lines; any other page unchanged."""
    lines = page.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) < SCATTERED_MIN_LINES:
        return page
    short = sum(1 for line in lines if len(line.split()) <= 1)
    spaces = sum(1 for line in lines if line and not line.strip())
    if short / len(lines) < SCATTERED_SHARE or spaces / len(lines) < SCATTERED_SPACES:
        return page
    out: list[str] = []
    current: list[str] = []
    blanks = 0
    for line in lines:
        word = line.strip()
        if not word:
            blanks += 1
            continue
        if current and blanks >= 2:  # a run of blank lines: the printed line ended
            out.append(" ".join(current))
            current = []
        if current and _PUNCTUATION_START.match(word):
            current[-1] += word
        else:
            current.append(word)
        blanks = 0
    if current:
        out.append(" ".join(current))
    return "\n".join(out)


def clean_document(pages: list[str], paged: bool) -> list[Para]:
    if paged:
        pages = [rejoin_scattered_words(p) for p in pages]
        split = [p.replace("\r\n", "\n").replace("\r", "\n").split("\n") for p in pages]
        paras = join_pdf_lines(strip_running_lines(split))
    else:
        paras = split_text_lines("\n".join(pages))
    return split_glued_lead_ins(repair(paras))

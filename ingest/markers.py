"""Recognisers for clause numbers, item labels, bullets and heading-like lines.

All patterns are anchored at the start of a paragraph and bounded, so they run in
linear time even on a several-megabyte line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "14. ", "1.1 ", "9.3.7 ", "6.-(1) ", "2 The ..." (a bare number needs a capital after it)
_NUMBER = re.compile(r"(\d{1,3}(?:\.\d{1,3}){0,3})(\.-?\(\d{1,3}\)|\.(?!\d))?[ \t]+(?=\S)")
# "(a) ", "a) ", "a. ", "(iv) ", "iv. ", "(aa) ", "(1) "
_ITEM = re.compile(r"(\(([A-Za-z]{1,2}|[ivxlcIVXLC]{1,6}|\d{1,2})\)|([A-Za-z]{1,2}|[ivxlcIVXLC]{1,6})[.)])[ \t]+(?=\S)")
# a bare letter or roman label ("a Motions ...", "B A motion ...", "ii to make ..."): only
# accepted where the sequence of labels confirms it (see clauses.py)
_BARE = re.compile(r"([A-Za-z]|[ivx]{1,4})[ \t]+(?=\S)")
BULLET = re.compile(
    "[ \t]*[\u2022\u25cf\u25aa\u25a0\u2023\u2043\u25e6\u2219\u00b7\uf0b7\uf0a7\uf076\uf0d8\uf0fc\u27a2"
    "\u2713\u2714\x7f\u25ba\u25b8\u25a1\u2610\uf0a8\\-\u2013\u2014*+>][ \t]*(?=\\S)"
)

FUNCTION_WORDS = frozenset(
    "a an the of and or to for in on at by with between from into under as than other that which".split()
)
PART_WORDS = re.compile(r"(appendix|appendices|annex|schedule|part|chapter|table|section)\b", re.I)
_TERMINAL = ".;:,!?"


@dataclass(frozen=True)
class Number:
    ref: str        # "14", "1.1", "6.-(1)"
    top: int        # first component, for restart detection
    depth: int      # 1 for "14", 2 for "1.1"
    end: int        # index in the text where the clause's own words begin
    dotted: bool    # printed with a trailing dot ("14.")


@dataclass(frozen=True)
class Label:
    label: str      # as printed without brackets: "a", "iv", "1"
    end: int
    bare: bool      # printed with no bracket or dot


def match_number(text: str) -> Number | None:
    m = _NUMBER.match(text)
    if not m:
        return None
    digits, suffix = m.group(1), m.group(2) or ""
    rest = text[m.end():m.end() + 1]
    if not suffix and "." not in digits and not (rest[:1].isupper() or rest[:1] in "\"'“‘("):
        return None
    ref = digits + (suffix if suffix.startswith(".-") or suffix.startswith(".(") else "")
    return Number(ref=ref, top=int(digits.split(".")[0]), depth=digits.count(".") + 1, end=m.end(), dotted=bool(suffix))


def match_label(text: str) -> Label | None:
    m = _ITEM.match(text)
    if m:
        return Label(label=m.group(2) or m.group(3), end=m.end(), bare=False)
    return None


def match_bare_label(text: str) -> Label | None:
    m = _BARE.match(text)
    if m and len(text) > m.end() + 2:
        return Label(label=m.group(1), end=m.end(), bare=True)
    return None


def ends_terminal(text: str) -> bool:
    stripped = text.rstrip(" \"'”’)*")
    return bool(stripped) and stripped[-1] in _TERMINAL


def is_upper(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters)


def heading_like(text: str) -> bool:
    """A short line without terminal punctuation that starts with a capital or a
    number: "Preamble", "9. Interests", "1 Rules of Debate at Meetings",
    "Table 1: Disclosable Pecuniary Interests". Not "Key Decision: No"."""
    text = text.strip()
    if not text or len(text) > 120 or "\t" in text:
        return False
    words = text.split()
    if len(words) > 16:
        return False
    if (ends_terminal(text) and not text.endswith(")")) or text.endswith(("-", "\u2013", "\u2014")):
        return False
    number = match_number(text)
    body = text[number.end:] if number else text
    if not body or not (body[0].isupper() or body[0] in "\"'“‘"):
        return False
    if ":" in body and not PART_WORDS.match(body) and len(body.split(":", 1)[0].split()) <= 3:
        return False  # "Key Decision: No", "Ext: 7004" are labelled values
    if body.rstrip().endswith(("“", "\"")):
        return False
    if _DATE_LINE.match(text):
        return False  # "20 AUGUST 2018", "Adopted 13 February 2019": a date, not a subject
    return True


_DATE_LINE = re.compile(
    r"^(?:(?:adopted|approved|reviewed|dated|updated|revised)\s+(?:on\s+)?)?"
    r"(?:\d{1,2}(?:st|nd|rd|th)?\s+)?(?:january|february|march|april|may|june|july|august|september|october|"
    r"november|december)\s+\d{4}\.?$", re.IGNORECASE)


def heading_continues(text: str) -> bool:
    """A heading line that stops on a function word wraps onto the next line."""
    words = text.split()
    return bool(words) and words[-1].lower() in FUNCTION_WORDS


def title_words(text: str) -> bool:
    """Every word capitalised except short function words: "Consultation to Date."."""
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'’-]*", text)]
    return bool(words) and all(w[0].isupper() or w.lower() in FUNCTION_WORDS for w in words) and words[0][0].isupper()

"""Strings from documents, file names and manifests, made safe to print and to open in a spreadsheet.

A file name, a manifest field or a PDF's title can hold terminal control
sequences (ESC, BEL, the C1 controls) that recolour, retitle or rewrite a
terminal, and newlines that forge whole lines of a report ("skipped x.txt:
encrypted" where nothing was skipped). Everything the command line prints
passes through :func:`printable`; fields that must stay on one line (file
names, titles, councils, reasons) through :func:`one_line`. Both show a
control character as a visible escape (``\\x1b``), so nothing is hidden and
nothing is lost. Spreadsheet cells pass through :func:`csv_cell` (OWASP's
advice on CSV injection: a cell starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return is prefixed with an apostrophe).
"""

from __future__ import annotations

import re

__all__ = ["printable", "one_line", "csv_cell", "json_line", "markdown_text"]

# C0 controls but tab and newline, DEL, the C1 controls, and the Unicode bidirectional
# overrides and isolates that reorder what a terminal shows (the "Trojan Source" characters).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character but newline and tab shown as an escape."""
    return _UNSAFE.sub(_escape, str(text))


def one_line(text: str) -> str:
    """``text`` on one line: newlines and tabs are escaped too."""
    return _UNSAFE_ONE_LINE.sub(_escape, str(text))


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    text = printable("" if value is None else str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def json_line(text: str) -> str:
    """A ``json.dumps(..., ensure_ascii=False)`` line with DEL and the C1 controls escaped too.

    JSON escapes the C0 controls itself; DEL and U+0080-U+009F pass through it raw and
    some terminals act on them. The escaped form parses to the same value.
    """
    return re.sub("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]", lambda m: f"\\u{ord(m.group(0)):04x}", text)


def markdown_text(text: str) -> str:
    """Literal text on one line of Markdown: no emphasis, tables, HTML or control characters.

    ``>`` is left as it is (section paths use it; it quotes only at the start of a
    line, and every escaped text follows other characters on its line)."""
    text = one_line(str(text).replace("\n", " "))
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")
            .replace("<", "&lt;"))

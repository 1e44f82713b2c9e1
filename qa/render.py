"""Pure helpers for the web front end: URL state, safe HTML, citations, uploads.

Nothing here imports Streamlit, so all of it is tested directly. The rule the
app relies on: every string that came from a document, a manifest or a user
goes through :func:`escape` (for HTML) or :func:`md_literal` (for Markdown
labels) before it reaches the page, so ``<script>`` or ``**bold**`` in a clause
is shown as those characters, never interpreted.
"""

from __future__ import annotations

import html
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Sequence
from urllib.parse import urlencode

# One source for the allowed manifest values: the Passage record's.
from ingest.passage import ATTRIBUTIONS, KINDS, STATUSES

from .highlight import highlight_spans

VIEWS = ("ask", "compare", "browse", "record", "add")
VIEW_LABELS = {"ask": "Ask", "compare": "Compare", "browse": "Browse", "record": "Verified and feedback",
               "add": "Add documents"}
MAX_URL_QUESTION = 1000  # the answerer refuses longer questions anyway

# -- URL query state ------------------------------------------------------------------


@dataclass(frozen=True)
class AppState:
    """What a shared link reproduces: the view, the question, the filters and the chosen clause."""

    view: str = "ask"
    question: str = ""
    authorities: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    passage: str = ""       # a passage id: the clause shown in Browse, or whose equivalents Compare shows
    document: str = ""      # a document's source file name, for Browse
    coverage: bool = False  # Compare: show the coverage matrix


def _first(params: Mapping[str, Sequence[str]], key: str) -> str:
    values = params.get(key) or []
    return str(values[0]) if values else ""


def _many(params: Mapping[str, Sequence[str]], key: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(v) for v in params.get(key) or [] if str(v).strip()))


def decode_state(params: Mapping[str, Sequence[str]]) -> AppState:
    """Read the state from query parameters (each key to its list of values).

    Unknown views fall back to Ask; unknown keys are ignored; an overlong
    question is cut (the answerer then explains its limit), so a hand-edited
    link can never break the page.
    """
    view = _first(params, "view").lower()
    return AppState(
        view=view if view in VIEWS else "ask",
        question=_first(params, "q")[:MAX_URL_QUESTION],
        authorities=_many(params, "authority"),
        kinds=_many(params, "kind"),
        statuses=_many(params, "status"),
        passage=_first(params, "passage")[:64],
        document=_first(params, "doc")[:255],
        coverage=_first(params, "coverage") in ("1", "true", "yes"),
    )


def encode_state(state: AppState) -> dict[str, str | list[str]]:
    """Query parameters for ``state``, leaving out defaults so links stay short."""
    params: dict[str, str | list[str]] = {"view": state.view}
    if state.question:
        params["q"] = state.question
    for key, values in (("authority", state.authorities), ("kind", state.kinds), ("status", state.statuses)):
        if values:
            params[key] = list(values)
    if state.passage:
        params["passage"] = state.passage
    if state.document:
        params["doc"] = state.document
    if state.coverage:
        params["coverage"] = "1"
    return params


def state_link(state: AppState) -> str:
    """A relative link (``?view=…``) that opens the app in ``state``."""
    return "?" + urlencode(encode_state(state), doseq=True)


def link_to_passage(passage_id: str, base: AppState | None = None) -> str:
    """A link to a clause in context in Browse, keeping the filters of ``base``."""
    base = base or AppState()
    return state_link(replace(base, view="browse", passage=passage_id, document="", question="", coverage=False))


# -- escaping ---------------------------------------------------------------------------

def escape(text: str) -> str:
    """HTML-escape text (quotes included) for use inside an ``st.html`` block."""
    return html.escape(str(text), quote=True)


# Characters that Markdown, Streamlit's directives (``:red[…]``, ``:material/…:``)
# or its LaTeX (``$…$``) could interpret; written as numeric character references
# they display as themselves and start no syntax.
_MD_SPECIAL = set("\\`*_{}[]()<>#+-.!|~:$&\"'=^")


def md_literal(text: str) -> str:
    """Text for a Markdown context (widget labels, st.markdown) shown exactly as written."""
    out = []
    for ch in str(text):
        if ch in _MD_SPECIAL:
            out.append(f"&#{ord(ch)};")
        elif ch in "\r\n\t":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def clause_html(text: str, highlight: str = "") -> str:
    """The clause verbatim, escaped, with the best-matching sentence marked
    (and, for an item of a list, the list's lead-in: see
    :func:`qa.highlight.highlight_spans`).

    If the highlight does not occur in the text (the highlighter normalised
    whitespace), the text is shown unmarked rather than guessing.
    """
    parts, at = [], 0
    for start, end in highlight_spans(text, highlight):
        parts.append(escape(text[at:start]) + '<mark class="pqa-hl">' + escape(text[start:end]) + "</mark>")
        at = end
    parts.append(escape(text[at:]))
    return f'<div class="pqa-clause">{"".join(parts)}</div>'


DIFF_TAGS = {"same": ("", ""), "added": ('<ins class="pqa-add">', "</ins>"),
             "removed": ('<del class="pqa-del">', "</del>")}


def diff_html(pieces: Iterable) -> str:
    """A word-level difference (pieces with ``op`` and ``text``) as escaped HTML:
    words only in the other council's clause underlined green, words only in the
    chosen clause struck through red."""
    parts = []
    for piece in pieces:
        start, end = DIFF_TAGS.get(piece.op, ("", ""))
        parts.append(start + escape(piece.text) + end)
    return '<div class="pqa-clause">' + " ".join(parts) + "</div>"


def place_label(section: str, clause: str) -> str:
    """Where a clause sits: its heading path and number ("Party groups · clause 91")."""
    return " · ".join(x for x in (section, f"clause {clause}" if clause else "") if x) or "(no heading)"


def excerpt_html(text: str, highlight: str = "", lead_in: str = "") -> str:
    """A row's excerpt, escaped, with the answering sentence or item marked where it occurs whole,
    and the list's ``lead_in`` too when the excerpt opens with it (as :func:`clause_html` marks them)."""
    spans = []
    at = text.find(highlight) if highlight else -1
    if at >= 0:
        if lead_in and text.startswith(lead_in) and at >= len(lead_in):
            spans.append((0, len(lead_in)))
        spans.append((at, at + len(highlight)))
    parts, done = [], 0
    for start, end in spans:
        parts.append(escape(text[done:start]) + '<mark class="pqa-hl">' + escape(text[start:end]) + "</mark>")
        done = end
    return f'<div class="pqa-excerpt">{"".join(parts)}{escape(text[done:])}</div>'


def badges_html(found: Sequence[tuple[str, str]]) -> str:
    """:func:`badges` as inline labels for a one-line row (dark text on a light tint, 7:1 or more)."""
    return "".join(f'<span class="pqa-badge pqa-badge-{escape(colour)}">{escape(label)}</span>'
                   for label, colour in found)


def compare_row_html(row, flags: Sequence[tuple[str, str]] = ()) -> str:
    """A :class:`qa.compare_rows.CompareRow` as a heading line and an excerpt (or why it is silent),
    with the citation's flags (``flags``, from :func:`badges`) on the heading line."""
    head = f'<span class="pqa-head">{escape(row.authority)}</span>' + badges_html(flags)
    if row.found and row.reference:
        head += f' <span class="pqa-ref">{escape(row.reference)}</span>'
    if row.likeness:
        head += f' <span class="pqa-like">{escape(row.likeness)}</span>'
    if row.found:
        return f'<div class="pqa-row">{head}</div>' + excerpt_html(row.excerpt, row.highlight, row.lead_in)
    body = f'<div class="pqa-none">Not addressed in its documents. Why: {escape(row.reason)}.</div>'
    if row.reference:
        body += (f'<div class="pqa-muted">Nearest clause (not an answer): {escape(row.reference)} — '
                 f'{escape(row.excerpt)}</div>')
    return f'<div class="pqa-row">{head}</div>' + body


def equivalent_html(eq, base: AppState | None = None, *, diff: bool = True) -> str:
    """One council's equivalent of a clause: who, how alike, which item was compared, the word
    difference (or the clause's opening when it is not an equivalent) and a link to it in context."""
    p = eq.passage
    head = (f'<span class="pqa-head">{escape(p.authority)}</span> '
            f'<span class="pqa-ref">{escape(place_label(p.section.split(" > ")[-1], p.clause))}</span> '
            f'<span class="pqa-like">{escape(eq.likeness.value)}, {eq.word_overlap:.0%} words in common, '
            f'similarity {eq.similarity:.2f}</span>')
    compared = [f"{eq.chosen_part} of the chosen clause" if eq.chosen_part else "",
                f"{eq.other_part} of this council's clause" if eq.other_part else ""]
    note = ("Compared: " + " with ".join(x for x in compared if x) + ". ") if any(compared) else ""
    link = f'<a href="{escape(link_to_passage(p.id, base))}" target="_self">Show in context</a>'
    body = diff_html(eq.diff) if diff else f'<div class="pqa-excerpt">{escape(_opening(p.text))}</div>'
    return f'<div class="pqa-eq"><div class="pqa-row">{head}</div>{body}<div class="pqa-muted">{escape(note)}{link}</div></div>'


def _opening(text: str, limit: int = 200) -> str:
    words = " ".join(text.split())
    return words if len(words) <= limit else words[:limit].rsplit(" ", 1)[0] + "…"


def page_image_html(png: bytes, page: int, pages: int, title: str, marked: bool) -> str:
    """A PDF page's picture with a text alternative that says what it shows."""
    import base64

    where = "the clause marked in yellow" if marked else "the clause could not be found on the page to mark it"
    alt = f"Page {page} of {pages} of {title}, as printed; {where}."
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure class="pqa-page"><img src="data:image/png;base64,{data}" alt="{escape(alt)}">'
            f'<figcaption class="pqa-muted">{escape(alt)}</figcaption></figure>')


STYLE = """<style>
.pqa-clause { white-space: pre-wrap; line-height: 1.5; margin: 0.2rem 0 0.4rem 0; }
.pqa-hl { background: #fff3a3; padding: 0 0.1rem; }
.pqa-add { background: #d9f5dd; text-decoration: underline; }
.pqa-del { background: #fbdada; text-decoration: line-through; }
.pqa-head { font-weight: 600; font-size: 1.05rem; }
.pqa-row { display: flex; flex-wrap: wrap; gap: 0.2rem 0.8rem; align-items: baseline; }
.pqa-ref { color: #333; }
.pqa-like { color: #595959; font-size: 0.9rem; }
.pqa-badge { font-size: 0.8rem; border-radius: 0.25rem; padding: 0.05rem 0.4rem; }
.pqa-badge-orange { background: #fff1e0; color: #6b3a00; } .pqa-badge-red { background: #fde7e7; color: #7a1c1c; }
.pqa-badge-gray { background: #eeeeee; color: #333333; } .pqa-badge-blue { background: #e6f0ff; color: #17427a; }
.pqa-badge-violet { background: #f1e8ff; color: #4d2473; }
.pqa-excerpt { line-height: 1.45; margin: 0.15rem 0; overflow-wrap: anywhere; }
.pqa-page { margin: 0; } .pqa-page img { width: 100%; height: auto; border: 1px solid #ccc; }
.pqa-eq { border-top: 1px solid #e6e6e6; padding: 0.4rem 0; }
.pqa-muted { color: #595959; font-size: 0.9rem; }
.pqa-context { color: #666; }
.pqa-none { color: #8a4b00; background: #fff4e5; border-radius: 0.3rem; padding: 0.2rem 0.5rem; margin: 0.1rem 0; }
table.pqa-cov { border-collapse: collapse; font-size: 0.85rem; }
table.pqa-cov th, table.pqa-cov td { border: 1px solid #ddd; padding: 0.25rem 0.4rem; text-align: center; }
table.pqa-cov th.pqa-topic { text-align: left; font-weight: normal; }
.pqa-scroll { overflow-x: auto; max-width: 100%; }
.pqa-scroll table.pqa-cov td { min-width: 6.5rem; }
.pqa-scroll table.pqa-cov th.pqa-topic { position: sticky; left: 0; background: #fff; min-width: 7rem; }
/* Phone width: a title on one or two lines, not three. */
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] h1 { font-size: 1.7rem !important; line-height: 1.25 !important; }
  [data-testid="stCode"] code { font-size: 0.8rem !important; }
}
td.pqa-yes { background: #cdebd3; } td.pqa-no { background: #f6d2d2; color: #7a2020; }
/* Captions at WCAG AA contrast: Streamlit's own grey (#828180) is 3.9:1 on white, under 4.5:1. */
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { color: #595959 !important; opacity: 1 !important; }
/* Printing an answer prints the answer: no buttons, inputs, sidebar or toolbar. */
@media print {
  [data-testid="stSidebar"], [data-testid="stToolbar"], [data-testid="stHeader"],
  [data-testid="stBaseButton-secondary"], [data-testid="stBaseButton-primary"],
  [data-testid="stDownloadButton"], [data-testid="stButton"], [data-testid="stRadio"],
  [data-testid="stTextInput"], [data-testid="stForm"], [data-testid="stExpander"] { display: none !important; }
  .pqa-clause { font-size: 11pt; }
}
</style>"""


# -- citations and badges --------------------------------------------------------------

BADGES = {
    ("status", "draft"): ("Draft", "orange"),
    ("status", "superseded"): ("Superseded", "red"),
    ("status", "unknown"): ("Status unknown", "gray"),
    ("kind", "model_code"): ("National model", "blue"),
    ("attribution", "inferred"): ("Council inferred", "violet"),
    ("attribution", "unknown"): ("Council not identified", "gray"),
}


def badges(kind: str, status: str, attribution: str) -> list[tuple[str, str]]:
    """(label, colour) badges a reader must see next to a clause: drafts, models,
    superseded or undated status, and councils that were inferred or unknown."""
    found = []
    for key in (("kind", kind), ("status", status), ("attribution", attribution)):
        if key in BADGES:
            found.append(BADGES[key])
    return found


def pages_label(pages: Sequence[int] | None) -> str:
    if not pages:
        return ""
    return f"page {pages[0]}" if len(pages) == 1 else f"pages {pages[0]}-{pages[-1]}"


# -- coverage matrix -------------------------------------------------------------------

@dataclass(frozen=True)
class CoverageCellView:
    found: bool
    passage_id: str = ""
    clause: str = ""      # what the cell shows: "clause 22", or the heading of an unnumbered passage
    place: str = ""       # the clause's full heading path and number, for the cell's title


def coverage_html(topics: Sequence[str], authorities: Sequence[str],
                  cells: Mapping[tuple[str, str], CoverageCellView], base: AppState | None = None) -> str:
    """The topic-by-authority matrix as a styled table; each covered cell links to its clause."""
    head = "".join(f'<th>{escape(a)}</th>' for a in authorities)
    rows = []
    for topic in topics:
        tds = []
        for authority in authorities:
            cell = cells.get((topic, authority), CoverageCellView(False))
            if cell.found and cell.passage_id:
                label = escape(cell.clause or "(unnumbered)")
                href = escape(link_to_passage(cell.passage_id, base))
                title = escape(f"{authority}: {topic}" + (f" — {cell.place}" if cell.place else ""))
                tds.append(f'<td class="pqa-yes"><a href="{href}" target="_self" title="{title}">{label}</a></td>')
            else:
                tds.append('<td class="pqa-no" title="not addressed">not addressed</td>')
        rows.append(f'<tr><th class="pqa-topic">{escape(topic)}</th>{"".join(tds)}</tr>')
    # A region of its own that scrolls sideways at phone width, reachable by Tab to scroll by keyboard.
    return (f'<div class="pqa-scroll" role="region" aria-label="Coverage matrix" tabindex="0">'
            f'<table class="pqa-cov"><thead><tr><th>Topic</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


# -- uploads -------------------------------------------------------------------------

UPLOAD_SUFFIXES = (".pdf", ".docx", ".html", ".htm", ".txt", ".md")
MAX_NAME_CHARS = 120
_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")


class UploadRefused(ValueError):
    """An upload that cannot be accepted; the message says what to change."""


def safe_file_name(name: str) -> str:
    """A file name safe to create in the corpus folder, or :class:`UploadRefused`.

    Any directory part is dropped (``../../etc/passwd`` becomes ``passwd``),
    accents are folded (``café`` becomes ``cafe``), other characters other than letters, digits, ``.``, ``-`` and ``_`` become ``-``,
    leading dots are removed (no hidden files, no ``..``), and the suffix must
    be one that ingestion reads.
    """
    folded = unicodedata.normalize("NFKD", str(name or "")).encode("ascii", "ignore").decode("ascii")
    base = re.split(r"[\\/]", folded)[-1]
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-. ")
    base = re.sub(r"-{2,}", "-", base)
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem:
        raise UploadRefused(f"the file name {name!r} has no usable name and extension; "
                            f"use one of {', '.join(UPLOAD_SUFFIXES)}")
    suffix = "." + suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise UploadRefused(f"files of type {suffix} cannot be read; use one of {', '.join(UPLOAD_SUFFIXES)}")
    stem = stem[: MAX_NAME_CHARS - len(suffix)].rstrip("-. ")
    if not stem or stem.lower() == "manifest":
        raise UploadRefused(f"the file name {name!r} cannot be used; rename the file and upload it again")
    return stem + suffix


@dataclass(frozen=True)
class ManifestEntry:
    file: str
    authority: str
    title: str
    kind: str = "protocol"
    status: str = "adopted"
    date: str = ""
    attribution: str = "stated"
    note: str = ""
    problems: list[str] = field(default_factory=list, compare=False)


def _clean_field(value: str, limit: int) -> str:
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in str(value or ""))
    return re.sub(r"\s+", " ", text).strip()[:limit]


def manifest_entry(file: str, *, authority: str, title: str, kind: str, status: str, date: str,
                   attribution: str, note: str) -> ManifestEntry:
    """Validate an upload's manifest details; raises :class:`UploadRefused` listing every problem."""
    entry = ManifestEntry(file=file, authority=_clean_field(authority, 200), title=_clean_field(title, 300),
                          kind=kind, status=status, date=_clean_field(date, 10),
                          attribution=attribution, note=_clean_field(note, 1000))
    problems = []
    if not entry.authority:
        problems.append("give the authority (the council the document belongs to)")
    if not entry.title:
        problems.append("give the document's title")
    if kind not in KINDS:
        problems.append(f"kind must be one of {', '.join(KINDS)}")
    if status not in STATUSES:
        problems.append(f"status must be one of {', '.join(STATUSES)}")
    if attribution not in ATTRIBUTIONS:
        problems.append(f"attribution must be one of {', '.join(ATTRIBUTIONS)}")
    if entry.date and not _DATE.match(entry.date):
        problems.append("date must be YYYY, YYYY-MM or YYYY-MM-DD, or empty when not known")
    if problems:
        raise UploadRefused("; ".join(problems))
    return entry


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def manifest_block(entry: ManifestEntry) -> str:
    """One ``[[document]]`` table for manifest.toml."""
    lines = ["[[document]]"]
    for key in ("file", "authority", "title", "kind", "status", "date", "attribution", "note"):
        lines.append(f"{key} = {_toml_string(getattr(entry, key))}")
    return "\n".join(lines) + "\n"


def upsert_manifest(text: str, entry: ManifestEntry) -> str:
    """manifest.toml's text with ``entry`` added, replacing any entry for the same file.

    Comments and other entries are kept as written; the result is checked to parse.
    """
    parts = re.split(r"(?m)^(?=\[\[document\]\]\s*$)", text)
    header, blocks = (parts[0], parts[1:]) if parts and not parts[0].startswith("[[document]]") else ("", parts)
    kept = []
    for block in blocks:
        try:
            documents = tomllib.loads(block).get("document", [])
        except tomllib.TOMLDecodeError:
            documents = []
        if any(d.get("file") == entry.file for d in documents):
            continue
        kept.append(block if block.endswith("\n") else block + "\n")
    pieces = [header] + kept
    if pieces and pieces[-1] and not pieces[-1].endswith("\n\n"):
        pieces[-1] = pieces[-1].rstrip("\n") + "\n\n"
    result = "".join(pieces) + manifest_block(entry)
    tomllib.loads(result)  # never write a manifest that does not parse
    return result

"""Readers per format: bytes on disk -> page texts plus any metadata title.

Each reader raises :class:`SkipFile` with a plain reason for a file that cannot be
read (encrypted, corrupt, binary, no text layer); nothing else escapes.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import logging
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ingest.records import Limits, SkipFile

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".docx"}


@dataclass
class RawDocument:
    """Text as read: one string per PDF page, or a single string when ``paged`` is False."""

    pages: list[str]
    paged: bool
    meta_title: str = ""
    meta_author: str = ""


def read_document(path: Path, data: bytes, limits: Limits, deadline: float) -> RawDocument:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return read_pdf(data, limits, deadline)
    if suffix == ".docx":
        return read_docx(data, limits)
    if suffix in HTML_SUFFIXES:
        return read_html(data)
    if suffix in TEXT_SUFFIXES:
        if data.startswith(b"%PDF-"):  # its text would be PDF syntax; some PDFs have no binary bytes
            raise SkipFile(f"a PDF file with a {suffix} name; rename it to .pdf and ingest again")
        return RawDocument([decode_text(data)], paged=False)
    if suffix == ".doc":
        raise SkipFile("unsupported format: old Word .doc file; save it as .docx and ingest again")
    raise SkipFile(f"unsupported file type {suffix or '(no extension)'}; use PDF, .docx, HTML, .txt or .md")


# --- plain text -----------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), UTF-16/32 with BOM, else Windows-1252.

    Windows-1252 is the usual encoding of UK council files that are not UTF-8; it
    keeps £ and curly quotes. Binary content (NUL bytes, many control characters)
    is refused rather than decoded into noise.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise SkipFile(f"not a text file: invalid {encoding} after its byte-order mark ({exc.reason})") from exc
    if b"\x00" in data[:65536]:
        raise SkipFile("not a text file (binary content)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    sample = text[:65536]
    controls = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r\f") or ch == "\ufffd")
    if sample and controls / len(sample) > 0.02:
        raise SkipFile("not a text file (binary content)")
    return text


# --- PDF ------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_pypdf():
    """pypdf logs recoverable structure problems (a bad xref table, wrong object
    offsets) that it repairs itself; they are not the user's concern."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _meta_str(meta, key: str) -> str:
    try:
        value = meta.get(key) if meta else None
        if value is not None and hasattr(value, "get_object"):
            value = value.get_object()
        return str(value).strip() if value else ""
    except Exception:  # metadata is optional; a broken entry is simply absent
        return ""


def read_pdf(data: bytes, limits: Limits, deadline: float) -> RawDocument:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    with _quiet_pypdf():
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                try:
                    if not reader.decrypt(""):
                        raise SkipFile("encrypted: needs a password")
                except SkipFile:
                    raise
                except Exception as exc:
                    raise SkipFile("encrypted: needs a password") from exc
            n_pages = len(reader.pages)
        except SkipFile:
            raise
        except FileNotDecryptedError as exc:
            raise SkipFile("encrypted: needs a password") from exc
        except (PdfReadError, Exception) as exc:  # pypdf raises many types on damaged files
            raise SkipFile(f"corrupt PDF: {_short(exc)}") from exc
        if n_pages == 0:
            raise SkipFile("corrupt PDF: no pages")
        if n_pages > limits.max_pages:
            raise SkipFile(f"{n_pages} pages, more than the {limits.max_pages}-page limit (set Limits.max_pages to raise it)")
        pages: list[str] = []
        for number, page in enumerate(reader.pages, 1):
            if time.monotonic() > deadline:
                raise SkipFile(f"took longer than the {limits.timeout_s:g} s limit at page {number} (set Limits.timeout_s to raise it)")
            try:
                pages.append(page.extract_text() or "")
            except FileNotDecryptedError as exc:
                raise SkipFile("encrypted: needs a password") from exc
            except Exception as exc:
                raise SkipFile(f"corrupt PDF: page {number} cannot be read ({_short(exc)})") from exc
        meta = None
        with contextlib.suppress(Exception):
            meta = reader.metadata
    if not any(p.strip() for p in pages):
        raise SkipFile("no text layer: scanned pages need OCR first")
    return RawDocument(pages, paged=True, meta_title=_meta_str(meta, "/Title"), meta_author=_meta_str(meta, "/Author"))


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# --- Word -----------------------------------------------------------------------


def read_docx(data: bytes, limits: Limits = Limits()) -> RawDocument:
    """Paragraphs and tables in body order; list paragraphs get a bullet marker
    because Word's automatic numbering is not part of the paragraph text.

    A file whose parts unzip to more than ``limits.max_expanded_mb`` is skipped
    before anything is unpacked (zipfile never reads past a part's stated size)."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        expanded = sum(item.file_size for item in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except Exception:  # not a zip at all: python-docx below gives the reason
        expanded = 0
    if expanded > limits.max_expanded_mb * 1024 * 1024:
        raise SkipFile(f"Word file unpacks to {expanded / 2**20:,.0f} MB, more than the {limits.max_expanded_mb:g} MB "
                       "limit (set Limits.max_expanded_mb to raise it)")
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, Exception) as exc:
        raise SkipFile(f"corrupt Word file: {_short(exc)}") from exc
    lines: list[str] = []
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(child, document)
            text = para.text.strip()
            if not text:
                lines.append("")
                continue
            is_list = child.pPr is not None and child.pPr.numPr is not None
            lines.append(("- " + text) if is_list else text)
            lines.append("")
        elif tag == "tbl":
            table = Table(child, document)
            for row in table.rows:
                cells: list[str] = []
                for cell in row.cells:
                    value = " ".join(cell.text.split())
                    if not cells or value != cells[-1]:  # merged cells repeat
                        cells.append(value)
                lines.append("\t".join(cells))
            lines.append("")
    title = ""
    with contextlib.suppress(Exception):
        title = (document.core_properties.title or "").strip()
    return RawDocument(["\n".join(lines)], paged=False, meta_title=title)


# --- HTML -----------------------------------------------------------------------

_BLOCK_TAGS = {
    "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "br", "tr", "section", "article",
    "blockquote", "dd", "dt", "pre", "table", "ul", "ol", "header", "footer", "main", "nav", "hr",
}


def _visible_text(root) -> str:
    """The text of ``root`` with a line break around each block element, a tab after each
    table cell and "- " before each list item.

    One pass with an explicit stack: no recursion (deeply nested pages) and no
    insertions into the tree (each costs a scan of the parent's children, which
    made a page of many paragraphs quadratic).
    """
    from bs4.element import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction

    hidden = (Comment, Declaration, Doctype, ProcessingInstruction)
    parts: list[str] = []
    stack = [(root, False)]
    while stack:
        node, closing = stack.pop()
        if isinstance(node, NavigableString):
            if isinstance(node, hidden):
                continue
            text = str(node)
            if node.parent is not None and node.parent.name != "pre" and ("\n" in text or "\t" in text):
                text = text.replace("\n", " ").replace("\t", " ")
            parts.append(text)
        elif closing:
            if node.name in ("td", "th"):
                parts.append("\t")
            if node.name in _BLOCK_TAGS:
                parts.append("\n")
        else:
            if node.name in _BLOCK_TAGS:
                parts.append("\n")
            if node.name == "li":
                parts.append("- ")
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
    return "".join(parts)


def read_html(data: bytes) -> RawDocument:
    """Visible text of an HTML page; scripts, styles and templates are dropped and
    nothing is executed. Block elements become lines, table rows tab-separated cells."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "lxml")
    for tag in soup(["script", "style", "noscript", "template", "iframe", "object", "svg", "head"]):
        if tag.name == "head":
            continue
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if soup.head:
        soup.head.decompose()
    text = _visible_text(soup)
    lines = []
    for line in text.split("\n"):
        cells = [" ".join(c.split()) for c in line.split("\t")]
        while cells and not cells[-1]:
            cells.pop()
        lines.append("\t".join(cells))
    return RawDocument(["\n\n".join(lines)], paged=False, meta_title=title)

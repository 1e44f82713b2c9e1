"""manifest.toml beside the documents: each file's authority, title, kind, status, date, attribution, note."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from ingest.passage import ATTRIBUTIONS, KINDS, STATUSES
from ingest.records import ManifestError

FIELDS = ("file", "authority", "title", "kind", "status", "date", "attribution", "note")
_ALLOWED = {"kind": KINDS, "status": STATUSES, "attribution": ATTRIBUTIONS}

# Limits, far above any real entry: a manifest lists a folder's documents, a note says
# where one came from. Every passage carries its document's fields, so a 1 MB note in
# a 169-passage document made a 163 MB index version.
MAX_MANIFEST_BYTES = 1 << 20
MAX_FIELD_CHARS = {"file": 255, "authority": 200, "title": 300, "date": 40, "note": 2000}
# tomllib recurses once per level of nested arrays or tables, and a deep enough
# nesting ends in RecursionError; no manifest needs more than a few levels.
MAX_NESTING = 20


def _line_of(text: str, index: int, key: str | None = None, value: str | None = None) -> int:
    """1-based line of the ``index``-th [[document]] table, or of ``key`` inside it."""
    lines = text.splitlines()
    starts = [n for n, line in enumerate(lines) if re.match(r"\s*\[\[\s*document\s*\]\]", line)]
    if index >= len(starts):
        return 1
    begin = starts[index]
    end = starts[index + 1] if index + 1 < len(starts) else len(lines)
    if key:
        for n in range(begin, end):
            if re.match(rf"\s*{re.escape(key)}\s*=", lines[n]) and (value is None or value in lines[n]):
                return n + 1
    return begin + 1


def read_manifest(path: Path) -> dict[str, dict[str, str]]:
    """Entries by file name. Raises :class:`ManifestError` naming the file and line."""
    size = path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{path}: {size / 1e6:.1f} MB, above the {MAX_MANIFEST_BYTES >> 20} MB a manifest may be; "
                            "it should hold only a [[document]] table per file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    deep = _too_deep(text)
    if deep:
        raise ManifestError(f"{path}:{deep}: values nested more than {MAX_NESTING} levels deep; "
                            "the manifest holds only [[document]] tables of quoted strings")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc}); fix the syntax at that line") from exc
    except RecursionError as exc:  # nesting the count above missed (inside strings it is harmless)
        raise ManifestError(f"{path}: values nested too deeply to read; "
                            "the manifest holds only [[document]] tables of quoted strings") from exc
    unknown_top = set(data) - {"document"}
    if unknown_top:
        key = sorted(unknown_top)[0]
        line = next((n + 1 for n, l in enumerate(text.splitlines()) if re.match(rf"\s*\[?\[?\s*{re.escape(key)}\b", l)), 1)
        raise ManifestError(f"{path}:{line}: unknown table or key {key!r}; the manifest holds only [[document]] tables")
    documents = data.get("document", [])
    if not isinstance(documents, list):
        raise ManifestError(f"{path}:1: 'document' must be written as [[document]] tables")
    entries: dict[str, dict[str, str]] = {}
    for index, entry in enumerate(documents):
        for key, value in entry.items():
            if key not in FIELDS:
                raise ManifestError(
                    f"{path}:{_line_of(text, index, key)}: unknown field {key!r}; allowed fields are {', '.join(FIELDS)}")
            if not isinstance(value, str):
                raise ManifestError(f"{path}:{_line_of(text, index, key)}: field {key!r} must be a quoted string")
            limit = MAX_FIELD_CHARS.get(key)
            if limit and len(value) > limit:
                raise ManifestError(f"{path}:{_line_of(text, index, key)}: {key} is {len(value):,} characters long; "
                                    f"the limit is {limit:,}: shorten it")
            if key in _ALLOWED and value not in _ALLOWED[key]:
                raise ManifestError(
                    f"{path}:{_line_of(text, index, key)}: {key} = {value!r} is not one of {', '.join(_ALLOWED[key])}")
        name = entry.get("file")
        if not name:
            raise ManifestError(f"{path}:{_line_of(text, index)}: this [[document]] has no 'file' field; add file = \"name.pdf\"")
        if name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
            # Checked before looking at the disk: the answer must not tell an uploader which paths exist.
            raise ManifestError(
                f"{path}:{_line_of(text, index, 'file')}: file must be the name of a file in {path.parent}, "
                f"without folders or a path (got {name!r})")
        if not (path.parent / name).is_file():
            raise ManifestError(
                f"{path}:{_line_of(text, index, 'file', name)}: names {name!r}, which is not in {path.parent}; "
                "fix the name or remove the entry")
        if name in entries:
            raise ManifestError(f"{path}:{_line_of(text, index, 'file', name)}: {name!r} is listed twice; keep one entry")
        entries[name] = {k: entry.get(k, "") for k in FIELDS if k != "file"}
    return entries


def _too_deep(text: str) -> int:
    """The line where brackets or braces first nest deeper than :data:`MAX_NESTING`, or 0.

    Brackets inside quoted strings are counted too: the check errs towards refusing
    a manifest no real one resembles, never towards recursing without bound."""
    depth = 0
    line = 1
    for char in text:
        if char == "\n":
            line += 1
        elif char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return line
        elif char in "]}":
            depth = max(0, depth - 1)
    return 0

"""manifest.toml beside the documents: each file's authority, title, kind, status, date, attribution, note."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from ingest.passage import ATTRIBUTIONS, KINDS, STATUSES
from ingest.records import ManifestError

FIELDS = ("file", "authority", "title", "kind", "status", "date", "attribution", "note")
_ALLOWED = {"kind": KINDS, "status": STATUSES, "attribution": ATTRIBUTIONS}


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
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc}); fix the syntax at that line") from exc
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
            if key in _ALLOWED and value not in _ALLOWED[key]:
                raise ManifestError(
                    f"{path}:{_line_of(text, index, key)}: {key} = {value!r} is not one of {', '.join(_ALLOWED[key])}")
        name = entry.get("file")
        if not name:
            raise ManifestError(f"{path}:{_line_of(text, index)}: this [[document]] has no 'file' field; add file = \"name.pdf\"")
        if not (path.parent / name).is_file():
            raise ManifestError(
                f"{path}:{_line_of(text, index, 'file', name)}: names {name!r}, which is not in {path.parent}; "
                "fix the name or remove the entry")
        if name in entries:
            raise ManifestError(f"{path}:{_line_of(text, index, 'file', name)}: {name!r} is listed twice; keep one entry")
        entries[name] = {k: entry.get(k, "") for k in FIELDS if k != "file"}
    return entries

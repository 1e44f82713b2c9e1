"""Small typed records returned by ingestion: limits, per-document reports, skips."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ingest.passage import Passage


@dataclass(frozen=True)
class Limits:
    """Bounds on one file's ingestion; the defaults are far above any council document.

    ``timeout_s`` is best effort: it is checked between pages and stages, so one
    pathological page can overrun it a little. ``max_expanded_mb`` bounds a Word
    file's unzipped size, read from its zip directory before anything is
    unpacked: a small .docx can otherwise expand to gigabytes (a "zip bomb").
    """

    max_file_mb: float = 50.0
    max_pages: int = 2000
    max_passage_chars: int = 3000
    timeout_s: float = 120.0
    max_expanded_mb: float = 200.0

    def __post_init__(self) -> None:
        for name in ("max_file_mb", "max_pages", "max_passage_chars", "timeout_s", "max_expanded_mb"):
            value = getattr(self, name)
            if not value or value <= 0:
                raise ValueError(f"Limits.{name} must be positive, got {value!r}")
        if self.max_passage_chars < 200:
            raise ValueError(f"Limits.max_passage_chars must be at least 200, got {self.max_passage_chars}")


@dataclass
class DocumentReport:
    """One ingested document: its provenance, cleaned text and passages."""

    source: str
    path: Path
    sha256: str
    authority: str
    title: str
    kind: str
    status: str
    date: str
    attribution: str
    note: str
    pages: int | None
    text: str
    passages: list[Passage]
    inferred: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Skipped:
    """A file that was not ingested, with the reason in plain words."""

    path: Path
    reason: str


@dataclass
class IngestResult:
    documents: list[DocumentReport]
    skipped: list[Skipped]

    @property
    def passages(self) -> list[Passage]:
        return [p for doc in self.documents for p in doc.passages]


class ManifestError(ValueError):
    """A manifest.toml that cannot be used; the message names the file, the line and the fix."""


class SkipFile(Exception):
    """Raised inside ingestion to skip one file; ``str(exc)`` is the plain reason."""

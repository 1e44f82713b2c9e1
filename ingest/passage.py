"""The one record that flows through every stage: a clause-level ``Passage``."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from typing import Any

KINDS = ("protocol", "code_of_conduct", "model_code", "standing_orders", "financial_regulations", "constitution",
         "procedure", "policy", "other")
STATUSES = ("adopted", "draft", "model", "unknown", "superseded")
ATTRIBUTIONS = ("stated", "inferred", "unknown")


@dataclass(frozen=True)
class Passage:
    """One clause of one document, verbatim after clean-up, with its provenance.

    ``id`` is stable across ingests of the same document: it is derived from the
    source file name and the clause path (see :func:`passage_id`), never a counter.
    ``pages`` is a tuple of 1-based page numbers, or ``None`` for formats without pages.
    ``start``/``end`` are the character span of ``text`` in the cleaned document text.
    """

    id: str
    authority: str
    document: str
    kind: str
    status: str
    date: str
    attribution: str
    note: str
    source: str
    section: str
    clause: str
    pages: tuple[int, ...] | None
    start: int
    end: int
    text: str

    @property
    def retrieval_text(self) -> str:
        """Text handed to the retrievers: the clause with its heading path as context.

        The text shown and cited is always ``text``; the section path only helps
        retrieval find a clause whose own words leave its subject implicit.
        """
        return f"{self.section}\n{self.text}" if self.section else self.text

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the design contract (``pages`` as a list or null)."""
        record = asdict(self)
        record["pages"] = list(self.pages) if self.pages is not None else None
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "Passage":
        """Inverse of :meth:`to_dict`; unknown keys are an error naming the key."""
        names = {f.name for f in fields(cls)}
        unknown = set(record) - names
        if unknown:
            raise ValueError(f"unknown passage field(s) {sorted(unknown)}; expected {sorted(names)}")
        values = dict(record)
        pages = values.get("pages")
        values["pages"] = tuple(pages) if pages is not None else None
        return cls(**values)


def passage_id(source: str, clause_path: str, ordinal: int = 0) -> str:
    """A stable id from the source file name and the clause path.

    ``ordinal`` distinguishes unnumbered paragraphs that share a clause path
    (for example the third paragraph under a heading); it counts within that
    path only, so editing one section does not renumber the others.
    """
    key = f"{source}\x1f{clause_path}\x1f{ordinal}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]

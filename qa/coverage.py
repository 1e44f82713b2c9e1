"""The coverage matrix: which authorities address each standard topic, with which clause."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import csv
import io

from ingest.safe import csv_cell

from .answer import Answerer, Result
from .compare import compare

DEFAULT_TOPICS = Path(__file__).parent / "data" / "topics.toml"


@dataclass(frozen=True)
class Topic:
    name: str
    question: str


@dataclass(frozen=True)
class CoverageCell:
    topic: str
    authority: str
    found: bool
    best: Result | None


@dataclass(frozen=True)
class CoverageMatrix:
    topics: list[Topic]
    authorities: list[str]
    cells: dict[tuple[str, str], CoverageCell]

    def cell(self, topic: str, authority: str) -> CoverageCell:
        return self.cells[(topic, authority)]

    def gaps(self, authority: str) -> list[str]:
        """Topics this authority does not address that at least one other authority does."""
        return [t.name for t in self.topics
                if not self.cells[(t.name, authority)].found
                and any(self.cells[(t.name, other)].found for other in self.authorities if other != authority)]


def load_topics(path: Path = DEFAULT_TOPICS) -> list[Topic]:
    """Read the topic list; a topic without a name or question is an error naming it."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read topics file {path}: {exc}") from exc
    topics = []
    for number, raw in enumerate(data.get("topic", []), start=1):
        name, question = str(raw.get("name", "")).strip(), str(raw.get("question", "")).strip()
        if not name or not question:
            raise ValueError(f"{path}: topic {number} needs both a 'name' and a 'question'")
        topics.append(Topic(name, question))
    return topics


def coverage_matrix(answerer: Answerer, topics: Sequence[Topic] | None = None, *,
                    authorities: Sequence[str] | None = None) -> CoverageMatrix:
    topics = list(load_topics() if topics is None else topics)
    cells: dict[tuple[str, str], CoverageCell] = {}
    names: list[str] = []
    for topic in topics:
        comparison = compare(answerer, topic.question, authorities=authorities, per_authority=1)
        for entry in comparison.authorities:
            if entry.authority not in names:
                names.append(entry.authority)
            best = entry.results[0] if entry.found and entry.results else None
            cells[(topic.name, entry.authority)] = CoverageCell(topic.name, entry.authority, entry.found, best)
    return CoverageMatrix(topics=topics, authorities=names, cells=cells)


def cell_label(cell: CoverageCell) -> str:
    """What a covered cell shows: the clause number, else the heading the clause sits under."""
    if not cell.found or cell.best is None:
        return "not addressed"
    passage = cell.best.passage
    if passage.clause:
        return f"clause {passage.clause}"
    heading = passage.section.split(" > ")[-1].strip() if passage.section else ""
    return heading[:40] + ("…" if len(heading) > 40 else "") if heading else "(unnumbered)"


def coverage_csv(matrix: CoverageMatrix) -> str:
    """The matrix for a report: one row per topic and council, with the clause that covers it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["topic", "authority", "addressed", "clause", "section", "document", "status", "passage_id",
                     "text"])
    for topic in matrix.topics:
        for authority in matrix.authorities:
            cell = matrix.cell(topic.name, authority)
            p = cell.best.passage if cell.found and cell.best else None
            writer.writerow([csv_cell(v) for v in (
                topic.name, authority, "yes" if cell.found else "no", cell_label(cell) if p else "",
                p.section if p else "", p.document if p else "", p.status if p else "", p.id if p else "",
                p.text if p else "")])
    return buffer.getvalue()

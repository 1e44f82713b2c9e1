"""Tiny hand-made corpora for the index tests, independent of ingest's details."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ingest.passage import Passage, passage_id
from ingest.records import DocumentReport, IngestResult, Skipped

CLAUSES = {
    "alpha.txt": ("Alpha Borough Council", "protocol", "adopted", [
        "Councillors must not instruct officers to undertake work for them.",
        "Officers attend political group meetings only to give factual briefings.",
        "A member may ask an officer to attend a ward surgery with the agreement of the director.",
        "Gifts and hospitality over fifty pounds are declared in the register within 28 days.",
    ]),
    "beta.txt": ("Beta Town Council", "code_of_conduct", "draft", [
        "Members shall treat officers with courtesy and respect.",
        "The Town Clerk is the Proper Officer of the council.",
        "Complaints about the conduct of a councillor go to the monitoring officer.",
    ]),
    "lga.txt": ("Local Government Association", "model_code", "model", [
        "As a councillor I do not bully any person.",
        "I do not disclose information given to me in confidence.",
        "I register and declare my interests.",
    ]),
}


def make_document(source: str, authority: str, kind: str, status: str, clauses: list[str],
                  path: Path | None = None) -> tuple[dict, list[Passage]]:
    """A document record and its passages, as ingest would produce them."""
    text = "\n\n".join(clauses)
    passages, start = [], 0
    for number, clause in enumerate(clauses, 1):
        passages.append(Passage(
            id=passage_id(source, str(number)), authority=authority, document=f"{authority} document",
            kind=kind, status=status, date="2020-01-01", attribution="stated", note="", source=source,
            section="Relations", clause=str(number), pages=None, start=start, end=start + len(clause),
            text=clause))
        start += len(clause) + 2
    document = {"source": source, "path": str(path or Path("/corpus") / source),
                "sha256": hashlib.sha256(text.encode()).hexdigest(), "authority": authority,
                "title": f"{authority} document", "kind": kind, "status": status, "date": "2020-01-01",
                "attribution": "stated", "note": "", "pages": None, "text": text}
    return document, passages


@pytest.fixture
def tiny_corpus() -> tuple[list[Passage], list[dict]]:
    documents, passages = [], []
    for source, (authority, kind, status, clauses) in CLAUSES.items():
        document, doc_passages = make_document(source, authority, kind, status, clauses)
        documents.append(document)
        passages.extend(doc_passages)
    return passages, documents


# A stand-in for ingest.ingest_files (one document per .txt file, one passage per
# paragraph) that returns ingest's own records, so the index tests do not depend
# on how ingest cuts clauses.


def fake_ingest_files(paths, limits=None, known=None, sources=None, progress=None):
    files = []
    for path in map(Path, paths):
        files.extend(sorted(path.glob("*.txt")) if path.is_dir() else [path])
    documents, skipped = [], []
    for path in files:
        if progress:
            progress(path)
        text = path.read_text(encoding="utf-8")
        if not text.strip() or "CORRUPT" in text:
            skipped.append(Skipped(path, "no text could be read"))
            continue
        clauses = [p.strip() for p in text.split("\n\n") if p.strip()]
        record, passages = make_document((sources or {}).get(path.resolve(), path.name), path.stem.title() + " Council", "protocol", "adopted",
                                         clauses, path.resolve())
        record.update(path=Path(record["path"]), pages=None)
        documents.append(DocumentReport(**record, passages=passages))
    return IngestResult(documents, skipped)


@pytest.fixture
def fake_ingest(monkeypatch):
    """Route update_index's call to ingest.ingest_files to :func:`fake_ingest_files`."""
    import ingest

    monkeypatch.setattr(ingest, "ingest_files", fake_ingest_files, raising=False)
    return fake_ingest_files

"""Ingestion: council documents (PDF, .docx, HTML, text) -> clause-level Passages.

``ingest_files`` is the one entry point; see DESIGN.md for the Passage record.
"""

from ingest.manifest import read_manifest
from ingest.passage import Passage, passage_id
from ingest.pipeline import collect_files, ingest_files
from ingest.records import DocumentReport, IngestResult, Limits, ManifestError, Skipped

__all__ = [
    "DocumentReport", "IngestResult", "Limits", "ManifestError", "Passage", "Skipped",
    "collect_files", "ingest_files", "passage_id", "read_manifest",
]

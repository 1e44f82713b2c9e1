"""Which indexed document each file being ingested is: a document is known by more than its file name.

A document's ``source`` (the name cited beside its clauses, from which its
passages' ids are derived) is unique in an index. Before an ingest reads its
files, :func:`plan_sources` decides for each file:

- **the same path** as an indexed document: that document, replaced by the file
  (re-ingesting a file is the explicit way to replace it);
- **the same content** as an indexed document whose file has gone (the file or
  its folder was moved, or the index was copied to a machine where the corpus
  lives elsewhere): that document, now at its new path;
- **the same content** as an indexed document whose file is still there: the
  same document again, so it is skipped as a duplicate, unless the file's
  folder has a manifest entry for it (then its details are corrected from that
  entry and the document now lives at the new path);
- **the same file name** as a document of a folder that has gone, when other
  files of that folder reappear in this file's folder: the folder moved, and
  this is that document, edited;
- anything else is **a new document**, even if another folder or council uses
  the same file name: it is cited as ``NAME``, or as ``FOLDER/NAME`` when
  ``NAME`` is taken.

Documents of a moved folder that did not reappear in its new place are dropped
by the ingest, as documents deleted from an ingested folder are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SourcePlan", "plan_sources"]


@dataclass
class SourcePlan:
    """What :func:`plan_sources` decided; every path is resolved.

    ``sources``: the source each file will be indexed as. ``duplicates``: files
    skipped because their content is already indexed, with the source they
    duplicate. ``moved``: source -> the path it was indexed from before, for
    documents found at a new path. ``moved_folders``: folders that have gone,
    mapped to the ingested folder their documents reappeared in.
    """

    sources: dict[Path, str] = field(default_factory=dict)
    duplicates: dict[Path, str] = field(default_factory=dict)
    known: dict[str, str] = field(default_factory=dict)  # sha256 -> source, for the duplicates
    moved: dict[str, str] = field(default_factory=dict)
    moved_folders: dict[Path, Path] = field(default_factory=dict)


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None  # ingest reports why the file cannot be read
    return digest.hexdigest()


def _gone(path: str | None) -> bool:
    return bool(path) and not Path(path).exists()


def plan_sources(files: Sequence[Path], documents: Sequence[Mapping], *,
                 has_manifest_entry=lambda path: False) -> SourcePlan:
    """Decide which indexed document (``documents``: the index's document records) each file is.

    ``files`` are the files the ingest will read, in its order. ``has_manifest_entry(path)``
    says whether the file's folder has a manifest entry for it.
    """
    plan = SourcePlan()
    files = [Path(f).resolve() for f in files]
    by_path = {str(Path(d["path"]).resolve()): d for d in documents if d.get("path")}
    by_sha: dict[str, list[Mapping]] = {}
    for document in documents:
        if document.get("sha256"):
            by_sha.setdefault(document["sha256"], []).append(document)

    # Folders that have gone, whose file names reappear together in one ingested folder.
    names_in: dict[Path, set[str]] = {}
    for f in files:
        names_in.setdefault(f.parent, set()).add(f.name)
    for document in documents:
        path = document.get("path")
        if not _gone(path):
            continue
        old_folder = Path(path).resolve().parent
        if old_folder.exists() or old_folder in plan.moved_folders:
            continue
        old_names = {Path(d["path"]).name for d in documents
                     if d.get("path") and Path(d["path"]).resolve().parent == old_folder}
        for folder, names in names_in.items():
            if names & old_names:
                plan.moved_folders[old_folder] = folder
                break

    taken = {d["source"] for d in documents}
    claimed: set[str] = set()  # indexed documents already matched to a file of this ingest

    def claim(f: Path, document: Mapping, moved: bool) -> None:
        plan.sources[f] = document["source"]
        claimed.add(document["source"])
        if moved:
            plan.moved[document["source"]] = str(document["path"])

    for f in files:
        same_path = by_path.get(str(f))
        if same_path is not None and same_path["source"] not in claimed:
            claim(f, same_path, moved=False)
            continue
        sha = _sha256(f)
        copies = [d for d in by_sha.get(sha, []) if d["source"] not in claimed] if sha else []
        moved_copy = next((d for d in copies if _gone(d.get("path")) or not d.get("path")), None)
        if moved_copy is not None:
            claim(f, moved_copy, moved=True)
            continue
        if copies:
            if has_manifest_entry(f):
                claim(f, copies[0], moved=True)
            else:
                plan.duplicates[f] = plan.known[sha] = copies[0]["source"]
            continue
        renamed = next((d for d in documents
                        if d["source"] not in claimed and _gone(d.get("path"))
                        and Path(d["path"]).name == f.name
                        and plan.moved_folders.get(Path(d["path"]).resolve().parent) == f.parent), None)
        if renamed is not None:
            claim(f, renamed, moved=True)
            continue
        plan.sources[f] = _new_source(f, taken)
        taken.add(plan.sources[f])
    return plan


def _new_source(path: Path, taken: set[str]) -> str:
    """``NAME``, else ``FOLDER/NAME``, else ``FOLDER/STEM (2).SUFFIX`` and so on: the first not taken."""
    if path.name not in taken:
        return path.name
    folder = path.parent.name or "upload"
    candidate = f"{folder}/{path.name}"
    number = 2
    while candidate in taken:
        candidate = f"{folder}/{path.stem} ({number}){path.suffix}"
        number += 1
    return candidate

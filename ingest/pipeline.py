"""The one entry point: files -> DocumentReports with clause-level Passages, or Skipped."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ingest.clauses import cut
from ingest.cleanup import clean_document, rejoin_scattered_words
from ingest.infer import infer_authority, infer_date, infer_kind, infer_title
from ingest.manifest import read_manifest
from ingest.passage import Passage, passage_id
from ingest.readers import read_document
from ingest.records import DocumentReport, IngestResult, Limits, ManifestError, SkipFile, Skipped
from ingest.safe import one_line

log = logging.getLogger(__name__)

MANIFEST = "manifest.toml"


def _ignored(path: Path) -> bool:
    name = path.name
    return name == MANIFEST or name.startswith(".") or name.upper().startswith("README")


def collect_files(paths: Sequence[Path]) -> list[Path]:
    """Files named, and the regular files inside folders named (sorted, recursively), leaving out
    manifest.toml, hidden files, READMEs and what :func:`gather_files` refuses.
    Raises FileNotFoundError for a missing path."""
    return gather_files(paths)[0]


def gather_files(paths: Sequence[Path]) -> tuple[list[Path], list[Skipped]]:
    """``(files to read, files refused)``.

    Inside a folder, symbolic links (to files or folders) are refused rather than
    followed: a link dropped into a shared corpus folder must not put
    ``/etc/passwd`` or another folder's files into the index. So are sockets,
    pipes and devices. A folder or file named on the command line is taken as named.
    """
    files: list[Path] = []
    refused: list[Skipped] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder: {path}")
        if not path.is_dir():
            if not _ignored(path) or path.name != MANIFEST:
                files.append(path)
            continue
        found = []
        for folder, subfolders, names in os.walk(path, followlinks=False):
            here = Path(folder)
            for name in list(subfolders):
                if name.startswith("."):
                    subfolders.remove(name)
                elif (here / name).is_symlink():
                    subfolders.remove(name)
                    refused.append(Skipped(here / name, _LINK_REFUSED))
            for name in names:
                child = here / name
                if name.startswith(".") or _ignored(child):
                    continue
                if child.is_symlink():
                    refused.append(Skipped(child, _LINK_REFUSED))
                elif not child.is_file():
                    refused.append(Skipped(child, "is not a regular file (a pipe, socket or device); "
                                                  "only documents are read"))
                else:
                    found.append(child)
        files.extend(sorted(found))
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, sorted(refused, key=lambda s: str(s.path))


_LINK_REFUSED = ("is a symbolic link, which is not followed (it could point outside the folder); "
                 "copy the document itself into the folder")


def has_manifest_entry(path: Path) -> bool:
    """Whether the manifest.toml beside ``path`` has an entry for it (False if it cannot be read)."""
    manifest = Path(path).parent / MANIFEST
    try:
        return manifest.is_file() and Path(path).name in read_manifest(manifest)
    except (ManifestError, OSError, UnicodeDecodeError):
        return False


def ingest_files(
    paths: Sequence[Path],
    *,
    limits: Limits = Limits(),
    known: Mapping[str, str] | None = None,
    sources: Mapping[Path, str] | None = None,
    progress: Callable[[Path], None] | None = None,
) -> IngestResult:
    """Ingest files (folders are expanded with :func:`collect_files`).

    Every bad file becomes a :class:`Skipped` with a plain reason; the rest of the batch
    is ingested. ``known`` maps sha256 -> source of documents already indexed, so exact
    duplicates are skipped as "duplicate of X". ``sources`` maps a file's resolved path to
    the source it is indexed as (default: its file name; see :mod:`index.identity`). Raises :class:`ManifestError` for an
    unusable manifest.toml and FileNotFoundError for a missing path.
    """
    files, refused = gather_files(paths)
    manifests: dict[Path, dict[str, dict[str, str]]] = {}
    for f in files:
        folder = f.parent
        if folder not in manifests:
            manifest = folder / MANIFEST
            manifests[folder] = read_manifest(manifest) if manifest.is_file() else {}
    seen: dict[str, str] = dict(known or {})
    documents: list[DocumentReport] = []
    skipped: list[Skipped] = list(refused)
    for f in files:
        if progress:
            progress(f)
        try:
            source = (sources or {}).get(f.resolve(), f.name)
            report = _ingest_one(f, source, limits, manifests[f.parent].get(f.name), seen)
        except SkipFile as exc:
            skipped.append(Skipped(f, str(exc)))
            log.info("skipped %s: %s", one_line(f.name), one_line(exc))
            continue
        except Exception as exc:  # a reader bug must not stop the batch
            log.exception("unexpected error reading %s", one_line(f))
            skipped.append(Skipped(f, f"could not be read: {type(exc).__name__}: {exc}"))
            continue
        seen[report.sha256] = report.source
        documents.append(report)
    return IngestResult(documents, skipped)


def _ingest_one(path: Path, source: str, limits: Limits, entry: dict[str, str] | None,
                seen: Mapping[str, str]) -> DocumentReport:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SkipFile(f"cannot be opened: {exc.strerror or exc}") from exc
    if size > limits.max_file_mb * 1024 * 1024:
        raise SkipFile(f"larger than the {limits.max_file_mb:g} MB limit (set Limits.max_file_mb to raise it)")
    if size == 0:
        raise SkipFile("empty file")
    deadline = time.monotonic() + limits.timeout_s
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest in seen:
        raise SkipFile(f"duplicate of {seen[digest]}")
    raw = read_document(path, data, limits, deadline)
    if not any(p.strip() for p in raw.pages):
        raise SkipFile("empty file (whitespace only)")
    paras = clean_document(raw.pages, raw.paged)
    if time.monotonic() > deadline:
        raise SkipFile(f"took longer than the {limits.timeout_s:g} s limit (set Limits.timeout_s to raise it)")
    text, drafts = cut(paras, limits.max_passage_chars)
    if not drafts:
        raise SkipFile("no text found to index")
    warnings: list[str] = []
    inferred: dict[str, str] = {}
    meta = dict(entry or {})
    # The council is looked for in the text as read, before clean-up takes running titles
    # ("TINTERN COMMUNITY COUNCIL" on every page) out of the passages.
    raw_text = "\n".join(rejoin_scattered_words(page) for page in raw.pages)
    if entry is None:
        authority = infer_authority(raw_text, raw.meta_author, path.parent.name)
        title = infer_title([p.text for p in paras], raw.meta_title, authority, path.stem)
        meta = {
            "authority": authority or unidentified(source),
            "title": title,
            "kind": infer_kind(title, text),
            "status": "unknown",
            "date": infer_date(text),
            "attribution": "inferred" if authority else "unknown",
            "note": "No manifest entry: authority and title inferred from the document text.",
        }
        inferred = {k: meta[k] for k in ("authority", "title", "kind", "date") if meta[k]}
        if not authority:
            warnings.append("no manifest entry and the text does not name its council; add it to manifest.toml")
    else:
        for key in ("authority", "title"):
            if not meta.get(key):
                value = infer_authority(raw_text, raw.meta_author, path.parent.name) if key == "authority" else \
                    infer_title([p.text for p in paras], raw.meta_title, meta.get("authority", ""), path.stem)
                if value:
                    meta[key] = value
                    inferred[key] = value
        if not meta.get("authority"):
            meta["authority"] = unidentified(source)
            warnings.append("the manifest entry has no authority and the text does not name its council; "
                            "add authority = \"…\" to manifest.toml")
        if not meta.get("kind"):
            meta["kind"] = inferred["kind"] = infer_kind(meta.get("title", ""), text)
        meta["status"] = meta.get("status") or "unknown"
        meta["attribution"] = meta.get("attribution") or ("inferred" if inferred.get("authority") else "unknown")
    passages = _passages(source, meta, drafts, raw.paged)
    return DocumentReport(
        source=source, path=path, sha256=digest,
        authority=meta["authority"], title=meta["title"], kind=meta["kind"], status=meta["status"],
        date=meta.get("date", ""), attribution=meta["attribution"], note=meta.get("note", ""),
        pages=len(raw.pages) if raw.paged else None, text=text, passages=passages,
        inferred=inferred, warnings=warnings,
    )


def unidentified(source: str) -> str:
    """The authority of a document whose council cannot be established: its own, naming the file,
    so that two such documents are never taken for one council."""
    return f"Council not identified: {source}"


def _passages(source: str, meta: dict[str, str], drafts, paged: bool) -> list[Passage]:
    ordinals: dict[str, int] = {}
    out = []
    for d in drafts:
        path = f"{d.section}\x1e{d.clause}"
        ordinal = ordinals.get(path, 0)
        ordinals[path] = ordinal + 1
        out.append(Passage(
            id=passage_id(source, path, ordinal),
            authority=meta["authority"], document=meta["title"], kind=meta["kind"], status=meta["status"],
            date=meta.get("date", ""), attribution=meta["attribution"], note=meta.get("note", ""),
            source=source, section=d.section, clause=d.clause,
            pages=(d.pages or None) if paged else None,
            start=d.start, end=d.end, text=d.text,
        ))
    return out

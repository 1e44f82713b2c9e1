"""The pipeline behind ``protocol-qa ingest``: read files, merge with the index, embed what changed, save.

``update_index`` holds the writer lock for the whole update, so two ingests
into one index run one after the other. The index on disk changes only in
the final atomic swap (see :mod:`index.store`): killed at any earlier moment,
the previous index still loads and answers exactly as before.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from index import store
from index.cache import EmbeddingCache
from index.hybrid import HybridIndex, corpus_fingerprint
from index.identity import plan_sources
from index.provisions import adopted_model, align, group_provisions
from ingest.safe import one_line

__all__ = ["UpdateReport", "update_index", "document_record", "unify_councils", "DOCUMENT_FIELDS", "CACHE_DIR"]

log = logging.getLogger(__name__)

DOCUMENT_FIELDS = ("source", "path", "sha256", "authority", "title", "kind", "status", "date",
                   "attribution", "note", "pages", "text", "adopts")
CACHE_DIR = "embedding-cache"
DEFAULT_LOCK_TIMEOUT = 600.0


@dataclass
class UpdateReport:
    """What an ingest did.

    ``ingest`` is the :class:`ingest.IngestResult` (documents with passage
    counts, pages, inferred fields and warnings; skipped files with reasons).
    ``changed`` says whether a new index version was written; ``message``
    says why not when it was not ("index is up to date", "every file failed").
    """

    index_dir: Path
    ingest: Any
    changed: bool
    message: str
    passages: int = 0
    documents: int = 0
    embedded: int = 0
    cached: int = 0
    kept: list[str] = field(default_factory=list)       # sources kept unchanged from the previous index
    replaced: list[str] = field(default_factory=list)   # sources re-ingested over a previous version
    added: list[str] = field(default_factory=list)      # sources new to the index
    dropped: list[str] = field(default_factory=list)    # sources no longer present in an ingested folder
    moved: dict[str, str] = field(default_factory=dict)  # source -> the path it was indexed from before
    lineage: dict[str, str] = field(default_factory=dict)  # source -> "adopts MODEL: how it departs"
    renamed: dict[str, tuple[str, str]] = field(default_factory=dict)  # source -> (name inferred, council taken for)
    previous_problem: str = ""                           # why the previous index could not be reused, if so
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def skipped(self) -> list:
        return list(getattr(self.ingest, "skipped", []) or [])

    def summary(self) -> str:
        """A plain report, one line per document and per skipped file, then the totals."""
        lines = []
        replaced = set(self.replaced)
        for doc in getattr(self.ingest, "documents", []) or []:
            pages = f", {doc.pages} pages" if doc.pages else ""
            authority = self.renamed[doc.source][1] if doc.source in self.renamed else doc.authority
            lines.append(f"  ingested  {one_line(doc.source)}: {len(doc.passages)} passages{pages} "
                         f"({one_line(authority)})")
            if doc.source in self.moved:
                lines.append(f"            replaced the same document indexed from {one_line(self.moved[doc.source])}")
            elif doc.source in replaced:
                lines.append(f"            replaced the version indexed earlier from {one_line(doc.path)}")
            if doc.source in self.lineage:
                lines.append(f"            {one_line(self.lineage[doc.source])}")
            if doc.source in self.renamed:
                lines.append(f"            {one_line(renamed_note(*self.renamed[doc.source]))}")
            if doc.inferred:
                inferred = "; ".join(f"{k} = {one_line(repr(v))}" for k, v in doc.inferred.items())
                lines.append(f"            inferred (no manifest entry): {inferred}")
            for warning in doc.warnings:
                lines.append(f"            warning: {one_line(warning)}")
        read_now = {doc.source for doc in getattr(self.ingest, "documents", []) or []}
        for source, names in self.renamed.items():
            if source not in read_now:
                lines.append(f"  renamed   {one_line(source)}: {one_line(renamed_note(*names))}")
        for skipped in self.skipped:
            lines.append(f"  skipped   {one_line(Path(skipped.path).name)}: {one_line(skipped.reason)}")
        for source in self.dropped:
            lines.append(f"  removed   {one_line(source)}: no longer in its folder")
        if self.previous_problem:
            lines.append(f"  rebuilt the index: {one_line(self.previous_problem)}")
        seconds = sum(self.seconds.values())
        if self.changed:
            lines.append(f"Index saved to {self.index_dir}: {self.documents} documents, {self.passages} passages "
                         f"({self.embedded} embedded, {self.cached} from the cache) in {seconds:.1f} s.")
        else:
            lines.append(f"Index {self.index_dir} unchanged: {self.message}.")
        return "\n".join(lines)


def document_record(report: Any) -> dict[str, Any]:
    """The document-level record kept in the index, from an ingest ``DocumentReport`` (or a dict)."""
    get = report.get if isinstance(report, dict) else (lambda name, default=None: getattr(report, name, default))
    record = {name: get(name, None) for name in DOCUMENT_FIELDS}
    record["path"] = str(record["path"]) if record["path"] is not None else None
    return record


def _within(path: str | None, scopes: Sequence[Path]) -> bool:
    """Whether ``path`` is one of the ingested files or inside one of the ingested folders."""
    if not path:
        return False
    resolved = Path(path).resolve()
    return any(resolved == scope or scope in resolved.parents for scope in scopes)


def update_index(paths: Sequence[Path | str], index_dir: Path | str, embedder, *, limits=None,
                 progress: Callable[[Path], None] | bool | None = None,
                 lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> UpdateReport:
    """Ingest ``paths`` (files or folders) into the index at ``index_dir``.

    Documents read now replace earlier versions of the same source; documents
    indexed earlier from an ingested folder (or file) that are neither read nor
    skipped now are dropped; all other documents are kept as they were. Only
    passages whose text is new to the embedding cache are embedded. When the
    merged corpus equals the indexed one, nothing is written ("index is up to
    date"); when every file failed, the index is untouched.

    ``progress``: a callable is called by ingest once per file; any truthy
    value also shows a tqdm bar over embedding. Raises :class:`~index.store.IndexBusy`
    if another ingest holds the lock past ``lock_timeout`` seconds.
    """
    # ingest is imported here: the index package stays usable without it
    from ingest import ingest_files
    from ingest.pipeline import collect_files, has_manifest_entry

    index_dir = Path(index_dir)
    scopes = [Path(p).resolve() for p in paths]
    files = collect_files([Path(p) for p in paths])
    seconds: dict[str, float] = {}
    with store.writer_lock(index_dir, timeout=lock_timeout):
        start = time.perf_counter()
        store.collect_garbage(index_dir)
        previous, problem = None, ""
        try:
            previous = HybridIndex.load(index_dir, expected_model_fingerprint=embedder.fingerprint)
        except store.IndexNotFound:
            pass
        except store.IndexProblem as exc:
            problem = store.without_rebuild_hint(str(exc), index_dir)  # reported once rebuilt
            log.warning("the existing index cannot be reused and will be rebuilt from these files: %s", exc)
        seconds["load"] = time.perf_counter() - start

        old_documents = list(previous.documents) if previous else []
        start = time.perf_counter()
        plan = plan_sources(files, old_documents, has_manifest_entry=has_manifest_entry)
        scopes = scopes + list(plan.moved_folders)
        kwargs = {"known": plan.known, "sources": plan.sources}
        if limits is not None:
            kwargs["limits"] = limits
        if callable(progress):
            kwargs["progress"] = progress
        if os.environ.get(store.PAUSE_ENV) == "reading":  # test hook: stop after the first file is read
            kwargs["progress"] = _pause_after_first_file(kwargs.get("progress"))
        result = ingest_files([Path(p) for p in paths], **kwargs)
        seconds["ingest"] = time.perf_counter() - start

        report = UpdateReport(index_dir=index_dir, ingest=result, changed=False, message="",
                              previous_problem=problem, seconds=seconds)
        report.moved = {d.source: plan.moved[d.source] for d in result.documents if d.source in plan.moved}
        if not result.documents and result.skipped:
            report.message = "every file failed; the index is unchanged"
            _fill_counts(report, previous)
            return report

        merged_documents, merged_passages = _merge(previous, old_documents, result, scopes, report,
                                                   plan.moved_folders)
        merged_passages = unify_councils(merged_documents, merged_passages, report)
        fingerprint = corpus_fingerprint(merged_passages, merged_documents)
        if previous is not None and fingerprint == previous.fingerprint:
            report.message = "index is up to date"
            _fill_counts(report, previous)
            return report

        try:
            start = time.perf_counter()
            cache = EmbeddingCache(index_dir / CACHE_DIR, embedder.fingerprint, embedder.dim)
            _seed_cache_from(previous, cache)
            store.pause_for_tests("embedding")
            built = HybridIndex.build(merged_passages, merged_documents, embedder, cache=cache,
                                      progress=bool(progress))
            seconds["build"] = time.perf_counter() - start
            start = time.perf_counter()
            built.provisions = group_provisions(built)
            _record_lineage(built, report)
            seconds["provisions"] = time.perf_counter() - start
            start = time.perf_counter()
            built.save(index_dir)
        except OSError as exc:
            if store.is_disk_full(exc):
                raise store.disk_full(index_dir, exc) from exc
            raise
        store.collect_garbage(index_dir)
        try:
            cache.compact(cache.keys([p.retrieval_text for p in merged_passages]))
        except OSError as exc:  # the new version is saved; the cache only saves time later
            log.warning("the embedding cache could not be compacted (%s); it will be next time", exc)
        seconds["save"] = time.perf_counter() - start
        report.changed = True
        report.message = f"indexed {len(merged_passages)} passages from {len(merged_documents)} documents"
        report.embedded, report.cached = built.build_stats.embedded, built.build_stats.cached
        report.passages, report.documents = len(merged_passages), len(merged_documents)
        return report


def renamed_note(inferred: str, council: str) -> str:
    return (f"taken for {council}: the text names it {inferred!r}, the same place without its type "
            f"(give it a manifest entry if it is another council)")


def unify_councils(documents: list[dict], passages: list, report: UpdateReport,
                   known: Sequence[str] = ()) -> list:
    """One council under one name: a document whose inferred council is another council's name
    without its type ("Trafford Council", "Trafford Borough Council") takes that council's name
    (:func:`ingest.infer.same_councils`), its passages with it. ``documents`` (records, changed in
    place) are renamed, ``known`` names of other indexed documents only looked at; names from
    manifests are kept as given. Returns ``passages`` with the renamed documents' passages renamed."""
    from ingest.infer import same_councils

    aliases = same_councils([d["authority"] for d in documents] + list(known))
    renamed = {}
    for document in documents:
        council = aliases.get(document["authority"])
        if council and document.get("attribution") == "inferred":
            renamed[document["source"]] = (document["authority"], council)
            document["note"] = " ".join(filter(None, [document.get("note"), renamed_note(document["authority"], council) + "."]))
            document["authority"] = council
    report.renamed.update(renamed)
    if not renamed:
        return passages
    return [replace(p, authority=renamed[p.source][1]) if p.source in renamed else p for p in passages]


def _record_lineage(index: HybridIndex, report: UpdateReport) -> None:
    """Set each document's ``adopts`` to the title of the national model it adopts, and note
    in the report how a newly read one departs from it."""
    titles = {d["source"]: d["title"] for d in index.documents}
    read_now = {d.source for d in getattr(report.ingest, "documents", []) or []}
    for document in index.documents:
        model = adopted_model(index, document["source"])
        document["adopts"] = titles[model] if model else None
        if model and document["source"] in read_now:
            counts = {status: 0 for status in ("same", "reworded", "changed", "missing", "added")}
            for row in align(index, model, document["source"]):
                counts[row.status] += 1
            report.lineage[document["source"]] = (
                f"adopts {titles[model]}: {counts['same']} clauses the same, {counts['reworded']} reworded, "
                f"{counts['changed']} changed, {counts['missing']} of the model's left out, {counts['added']} added "
                f"(protocol-qa align {model} {document['source']} lists them)")


def _pause_after_first_file(progress: Callable[[Path], None] | None) -> Callable[[Path], None]:
    """Wrap ingest's per-file callback so :func:`store.pause_for_tests` runs as the second file starts."""
    calls = []

    def wrapped(path: Path) -> None:
        calls.append(path)
        if len(calls) == 2:
            store.pause_for_tests("reading")
        if progress is not None:
            progress(path)

    return wrapped


def _fill_counts(report: UpdateReport, previous: HybridIndex | None) -> None:
    if previous is not None:
        report.passages, report.documents = len(previous.passages), len(previous.documents)


def _merge(previous: HybridIndex | None, old_documents: list[dict], result: Any, scopes: Sequence[Path],
           report: UpdateReport, moved_folders: dict[Path, Path] | None = None) -> tuple[list[dict], list]:
    """Documents and passages of the new index, ordered by source then by position in the document."""
    new_documents = {d["source"]: d for d in (document_record(r) for r in result.documents)}
    skipped_paths = {str(Path(s.path).resolve()) for s in result.skipped}
    for old_folder, new_folder in (moved_folders or {}).items():  # a moved file that failed to read is kept
        skipped_paths |= {str(old_folder / Path(s).name) for s in skipped_paths if Path(s).parent == new_folder}
    documents: dict[str, dict] = {}
    for document in old_documents:
        source = document["source"]
        if source in new_documents:
            report.replaced.append(source)
        elif _within(document.get("path"), scopes) and str(Path(document["path"]).resolve()) not in skipped_paths:
            report.dropped.append(source)
        else:
            # Untouched, or its new version failed to read: keep what was indexed.
            documents[source] = document
            report.kept.append(source)
    report.added = sorted(set(new_documents) - {d["source"] for d in old_documents})
    documents.update(new_documents)

    by_source: dict[str, list] = {source: [] for source in documents}
    if previous is not None:
        for passage in previous.passages:
            if passage.source in by_source and passage.source not in new_documents:
                by_source[passage.source].append(passage)
    for passage in result.passages:
        if passage.source in new_documents:
            by_source[passage.source].append(passage)
    ordered_sources = sorted(documents)
    passages = [p for source in ordered_sources for p in sorted(by_source[source], key=lambda p: (p.start, p.end))]
    return [documents[source] for source in ordered_sources], passages


def _seed_cache_from(previous: HybridIndex | None, cache: EmbeddingCache) -> None:
    """Put the previous index's vectors into the cache, so they are reused even if the cache was deleted."""
    if previous is None or previous.model_fingerprint != cache.fingerprint:
        return
    keys = cache.keys([p.retrieval_text for p in previous.passages])
    missing = [i for i, key in enumerate(keys) if key not in cache]
    if missing:
        cache.put_many([keys[i] for i in missing], np.asarray(previous.embeddings[missing]))

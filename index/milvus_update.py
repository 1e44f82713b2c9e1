"""``protocol-qa ingest --index milvus…``: one document at a time, each published on its own.

Documents whose file is unchanged (same sha256 and record) are kept as they are;
new and changed ones are written under a new generation and published
(:func:`index.milvus.write_document`); documents indexed earlier from an ingested
folder that is no longer there are removed. No other document is rewritten, and no
lock is held: two ingests of different documents run side by side.

Provisions (clauses shared across councils) and each document's adopted model are
regrouped over the whole corpus after the writes while it has at most
``regroup_max`` passages; above that, the stored provisions are kept and only lose
the members of replaced documents (docs/milvus.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index import milvus as mv
from index.cache import EmbeddingCache
from index.dense import DenseIndex
from index.hybrid import BuildStats, HybridIndex, _facet_codes, embed_with_cache
from index.lexical import LexicalIndex, tokenize
from index.location import IndexLocation
from index.milvus_index import MilvusIndex
from index.provisions import adopted_model, group_provisions
from index.update import UpdateReport, _within, document_record, unify_councils

__all__ = ["update_milvus", "regroup"]

log = logging.getLogger(__name__)


def _same(old: dict, new: dict) -> bool:
    keys = set(new) - {"text", "adopts", "path"}
    return all(old.get(key) == new.get(key) for key in keys)


def update_milvus(paths: Sequence[Path | str], location: IndexLocation, embedder, *,
                  settings: mv.MilvusSettings = mv.MilvusSettings(), cache_dir: Path | None = None,
                  progress: Callable[[Path], None] | bool | None = None, client=None) -> UpdateReport:
    """Ingest ``paths`` into the Milvus index at ``location`` (see the module docstring)."""
    from ingest import ingest_files

    client = client or mv.shared_client(location, settings.timeout_s)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    catalog = {row["source"]: row for row in mv.read_catalog(client)}
    kwargs = {"progress": progress} if callable(progress) else {}
    result = ingest_files([Path(p) for p in paths], **kwargs)
    seconds["ingest"] = time.perf_counter() - start
    report = UpdateReport(index_dir=str(location), ingest=result, changed=False, message="", seconds=seconds)
    if not result.documents and result.skipped:
        report.message = "every file failed; the index is unchanged"
        return report

    records = {d.source: document_record(d) for d in result.documents}
    batch = unify_councils(list(records.values()), result.passages, report,
                           known=[row["value"].get("authority", "") for source, row in catalog.items()
                                  if source not in records])
    by_source: dict[str, list] = {}
    for passage in batch:
        by_source.setdefault(passage.source, []).append(passage)
    lengths = [len(tokenize(p.retrieval_text)) for p in batch]
    model = {"name": embedder.name, "fingerprint": embedder.fingerprint, "dim": int(embedder.dim)}
    meta = mv.ensure_collections(client, model=model, avgdl_ref=float(np.mean(lengths)) if lengths else 1.0,
                                 settings=settings)
    cache = EmbeddingCache(cache_dir, embedder.fingerprint, embedder.dim) if cache_dir is not None else None
    start = time.perf_counter()
    changed_documents = []
    for document in sorted(result.documents, key=lambda d: d.source):
        record = records[document.source]
        old = catalog.get(record["source"])
        if old is not None and _same(old["value"], record):
            report.kept.append(record["source"])
        else:
            passages = sorted(by_source.get(record["source"], []), key=lambda p: (p.start, p.end))
            changed_documents.append((record, passages, old is not None))
    # One embedding call over every passage to write, in row order, as the embedded engine
    # makes it: the encoder's batches (sorted by length) then hold the same texts, so the
    # vectors are the same to the last bit and ties rank the same in both engines.
    stats = BuildStats()
    texts = [p.retrieval_text for _, passages, _ in changed_documents for p in passages]
    vectors = embed_with_cache(texts, embedder, cache, progress=bool(progress), stats=stats)
    report.embedded, report.cached = stats.embedded, stats.cached
    offset, new = 0, []
    for record, passages, replaced in changed_documents:
        part = vectors[offset:offset + len(passages)]
        offset += len(passages)
        if replaced:
            mv.write_document(client, record, passages, part, meta)
            report.replaced.append(record["source"])
        else:
            new.append((record, passages, part))
            report.added.append(record["source"])
    if new:  # documents new to the index: rows first, then their catalog rows together
        mv.write_new_documents(client, new, meta)
    read_now = {d.source for d in result.documents}
    skipped = {str(Path(s.path).resolve()) for s in result.skipped}
    scopes = [Path(p).resolve() for p in paths]
    for source, row in catalog.items():
        path = row["value"].get("path")
        if source not in read_now and _within(path, scopes) and str(Path(path).resolve()) not in skipped:
            mv.remove_document(client, source)
            report.dropped.append(source)
    changed = bool(report.added or report.replaced or report.dropped)
    if changed:  # seal what was written into indexed segments (searching unsealed rows is a scan)
        client.flush(mv.PASSAGES)
    seconds["write"] = time.perf_counter() - start
    view = MilvusIndex.open(location, settings, client=client)
    if changed:
        start = time.perf_counter()
        view = regroup(client, view, settings)
        seconds["provisions"] = time.perf_counter() - start
    report.changed = changed
    report.passages, report.documents = view.n_passages, len(view.catalog)
    report.message = (f"indexed {view.n_passages} passages from {len(view.catalog)} documents" if changed
                      else "index is up to date")
    return report


def regroup(client, view: MilvusIndex, settings: mv.MilvusSettings) -> MilvusIndex:
    """Group provisions and adopted models over the whole corpus (at most ``regroup_max``
    passages; above, keep what is stored) and return a fresh view.

    The grouping runs on an in-memory copy of the snapshot (one query per document,
    then FAISS), the computation the embedded engine runs at ingest on the same rows:
    a nearest-neighbour search per passage through the server would cost a round trip each.
    """
    if view.n_passages > settings.regroup_max:
        log.warning("%d passages: provisions are not regrouped above %d (docs/milvus.md)",
                    view.n_passages, settings.regroup_max)
        return view
    local = local_copy(view)
    provisions = group_provisions(local)
    mv.save_provisions(client, view.provision_records(provisions))
    titles = {d["source"]: d["title"] for d in view.documents}
    for document in view.documents:
        model = adopted_model(local, document["source"])
        adopts = titles[model] if model else None
        if document.get("adopts") != adopts:
            mv.update_record(client, document["source"], {"adopts": adopts})
    return view.reopen()


def local_copy(view: MilvusIndex) -> HybridIndex:
    """The snapshot's passages and vectors as an in-memory :class:`HybridIndex`, rows unchanged."""
    rows = [row for document in view.catalog for row in view.document_rows(document["source"])]
    passages = [row.passage for row in rows]
    embeddings = np.stack([row.vector for row in rows]) if rows else np.zeros((0, view.dim), dtype=np.float32)
    lexical = LexicalIndex.build([tokenize(p.retrieval_text) for p in passages])
    facets, codes = _facet_codes(passages)
    return HybridIndex(passages, view.documents, lexical, DenseIndex.build(embeddings), embeddings, facets, codes,
                       dict(view.metadata))

"""Measurements of the Milvus engine at scale: ``python -m qa.milvus_bench --passages N --index URI``.

Writes ``N`` synthetic passages (documents of ``--per-document`` clauses drawn from
the default corpus's words, unit vectors clustered as real embeddings are) into an
empty Milvus index, then measures:

- ``upload_s``: writing them, 50 new documents at a time (:func:`index.milvus.write_new_documents`);
- ``dense``: for each dense index type, recall of the exact top 100 and search
  latency (p50, p95 ms) over 100 queries;
- ``update_s``: replacing one document (writing its new generation and publishing it)
  while two reader threads refresh and read it; ``whole`` says whether every read saw
  one whole version.

Prints one JSON object; docs/milvus.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Sequence

import numpy as np

from index import milvus as mv
from index.location import parse_location
from index.milvus_index import MilvusIndex
from ingest.passage import Passage, passage_id

__all__ = ["main"]


def _documents(count: int, per_document: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    words = ("councillor officer member monitoring protocol conduct gift hospitality register interest "
             "meeting committee chief executive planning confidential information complaint respect "
             "bully political group ward surgery instruct advice report decision standards clerk").split()
    centres = rng.normal(size=(64, dim)).astype(np.float32)
    for number in range(count):
        source = f"council-{number:05d}.txt"
        passages, vectors = [], []
        for seq in range(per_document):
            text = " ".join(rng.choice(words, size=int(rng.integers(12, 40))))
            passages.append(Passage(id=passage_id(source, str(seq)), authority=f"Council {number:05d}",
                                    document="Protocol", kind="protocol", status="adopted", date="2024-01-01",
                                    attribution="stated", note="", source=source, section="Relations",
                                    clause=str(seq + 1), pages=None, start=seq * 100, end=seq * 100 + 99, text=text))
            vector = centres[rng.integers(64)] + rng.normal(scale=0.8, size=dim).astype(np.float32)
            vectors.append(vector / np.linalg.norm(vector))
        record = {"source": source, "path": None, "sha256": f"{number:064d}", "authority": f"Council {number:05d}",
                  "title": "Protocol", "kind": "protocol", "status": "adopted", "date": "2024-01-01",
                  "attribution": "stated", "note": "", "pages": None, "text": "", "adopts": None}
        yield record, passages, np.stack(vectors)


def _latency(values: list[float]) -> dict:
    q = statistics.quantiles(values, n=20, method="inclusive")
    return {"p50": round(statistics.median(values) * 1000, 1), "p95": round(q[18] * 1000, 1)}


def run(uri: str, passages: int, per_document: int, dim: int, index_types: Sequence[str]) -> dict:
    location = parse_location(uri)
    client = mv.connect(location)
    settings = mv.MilvusSettings()
    meta = mv.ensure_collections(client, model={"name": "synthetic", "fingerprint": "synthetic", "dim": dim},
                                 avgdl_ref=20.0, settings=settings)
    start = time.perf_counter()
    all_vectors = []
    batch = []
    for record, doc_passages, vectors in _documents(passages // per_document, per_document, dim):
        batch.append((record, doc_passages, vectors))
        all_vectors.append(vectors)
        if len(batch) == 50:
            mv.write_new_documents(client, batch, meta)
            batch = []
    if batch:
        mv.write_new_documents(client, batch, meta)
    client.flush(mv.PASSAGES)
    upload = time.perf_counter() - start
    embeddings = np.concatenate(all_vectors)
    rng = np.random.default_rng(1)
    queries = embeddings[rng.integers(len(embeddings), size=100)] + rng.normal(scale=0.05, size=(100, dim))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    dense = {}
    for index_type in index_types:
        client.release_collection(mv.PASSAGES)
        client.drop_index(mv.PASSAGES, "dense")
        params = client.prepare_index_params()
        extra = {"M": settings.hnsw_m, "efConstruction": settings.hnsw_ef_construction} if index_type == "HNSW" else \
            ({"nlist": 1024} if index_type == "IVF_FLAT" else {})
        params.add_index("dense", index_type=index_type, metric_type="IP", params=extra)
        begin = time.perf_counter()
        client.create_index(mv.PASSAGES, params)
        client.load_collection(mv.PASSAGES)
        built = time.perf_counter() - begin
        view = MilvusIndex.open(location, mv.MilvusSettings(dense_index=index_type), client=client)
        times, recalls = [], []
        for query in queries:
            exact = set(np.argsort(-(embeddings @ query))[:100].tolist())
            begin = time.perf_counter()
            found = view.dense_top_k(query, 100, exact_scores=False)
            times.append(time.perf_counter() - begin)
            recalls.append(len(exact & {row for row, _ in found}) / 100)
        dense[index_type] = {"build_s": round(built, 1), "recall_at_100": round(float(np.mean(recalls)), 4),
                             "search_ms": _latency(times)}
    # Replace one document while readers read it.
    view = MilvusIndex.open(location, client=client)
    source = view.catalog[len(view.catalog) // 2]["source"]
    problems, reads, stop = [], [0], threading.Event()

    def read() -> None:
        current = view
        while not stop.is_set():
            current = current.refreshed()
            rows = current.document_rows(source)
            versions = {row.passage.section for row in rows}
            if len(versions) != 1 or len(rows) != per_document:
                problems.append(sorted(versions))
            reads[0] += 1

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    record, doc_passages, vectors = next(_documents(1, per_document, dim, seed=7))
    record = {**record, "source": source, "sha256": "f" * 64}
    doc_passages = [Passage(**{**p.to_dict(), "source": source, "section": "Relations, revised", "pages": None})
                    for p in doc_passages]
    begin = time.perf_counter()
    mv.write_document(client, record, doc_passages, vectors, meta)
    update = time.perf_counter() - begin
    time.sleep(1.0)
    stop.set()
    for reader in readers:
        reader.join()
    return {"passages": len(embeddings), "per_document": per_document, "dim": dim, "upload_s": round(upload, 1),
            "dense": dense, "update_s": round(update, 2), "reads_during_update": reads[0],
            "whole": not problems}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.milvus_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--index", required=True, help="an empty Milvus index: milvus-lite://PATH.db or milvus://...")
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--per-document", type=int, default=100)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--dense", nargs="+", default=["FLAT", "HNSW"])
    args = parser.parse_args(argv)
    print(json.dumps(run(args.index, args.passages, args.per_document, args.dim, args.dense), indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

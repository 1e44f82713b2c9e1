"""The Milvus engine's storage: collections, one document's generation written and published.

Three collections (names prefixed ``protocol_qa_``):

``passages``   one row per passage of every generation: key ``"<generation>-<seq>"``; scalar
               fields ``source``, ``generation``, ``seq`` (position in its document),
               ``authority``, ``document``, ``kind``, ``status`` (filters), ``passage_id``;
               ``record`` (the Passage as JSON), ``terms`` (token counts) and ``length`` for
               exact BM25; ``tokens`` (distinct tokens, for a synonym set's document
               frequency); ``dense`` (the encoder's unit vector) and ``sparse`` (BM25
               factors, :mod:`index.sparse`).
``documents``  the catalog, one row per document: ``source``, the ``generation`` readers
               see (0 once removed), the ``previous`` one, the document record, its passage
               count, token count and document frequencies (a sparse vector, term id -> df).
``meta``       the model the vectors came from, BM25 parameters and the reference length;
               the current round of provisions (rows of ``provisions``).

Writing one document: its passages are inserted under a new generation that no reader
looks at, then its catalog row is upserted to name that generation: the one step that
publishes it. A reader filters passages by the generations its catalog snapshot names,
so it sees a document as it was or as it became, never half of it. Two ingests of
different documents touch different catalog rows, so both are kept; an ingest killed
before publishing leaves rows that no catalog row names, removed by the next write of
that document (:func:`collect`). The generation just replaced is kept for readers that
opened before the switch, and removed by the write after.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from index import store
from index.lexical import BM25Params, tokenize
from index.location import Engine, IndexLocation
from index.sparse import EMPTY_ID, passage_vector, term_frequencies, term_id

__all__ = ["MilvusSettings", "connect", "ensure_collections", "write_document", "write_new_documents", "remove_document",
           "read_catalog", "read_meta", "catalog_stamp", "shared_client", "collect", "IndexUnreachable", "PASSAGES", "DOCUMENTS", "META",
           "PROVISIONS", "live_filter", "quote", "save_provisions", "FORMAT"]

log = logging.getLogger(__name__)

PREFIX = "protocol_qa_"
PASSAGES, DOCUMENTS, META, PROVISIONS = (PREFIX + name for name in ("passages", "documents", "meta", "provisions"))
FORMAT = 1
MAX_TEXT = 65535
SCALAR_INDEXED = ("source", "generation", "authority", "kind", "status", "passage_id")
MAX_TOKENS = 4096
INSERT_BATCH = 256


class IndexUnreachable(store.IndexProblem):
    """The Milvus server did not answer, or Milvus Lite's data is held by another process."""


@dataclass(frozen=True)
class MilvusSettings:
    """How the Milvus engine indexes and searches; defaults and their sources are in
    ``qa/data/pipeline.toml`` ([milvus]); :func:`qa.config.load_milvus` reads them."""

    dense_index: str = "FLAT"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    hnsw_ef: int = 256
    overfetch: int = 3
    regroup_max: int = 20_000
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.dense_index not in ("FLAT", "HNSW", "IVF_FLAT"):
            raise ValueError(f"dense_index must be FLAT, HNSW or IVF_FLAT, got {self.dense_index!r}")
        if self.overfetch < 1:
            raise ValueError(f"overfetch must be at least 1, got {self.overfetch}")


def quote(value: str) -> str:
    """A string literal for a Milvus filter expression."""
    return json.dumps(str(value), ensure_ascii=False)


def live_filter(generations: Iterable[int]) -> str:
    """The filter that shows readers only the published generations."""
    values = sorted(set(int(g) for g in generations))
    return f"generation in [{', '.join(map(str, values))}]" if values else "generation in [-1]"


def connect(location: IndexLocation, timeout: float = 10.0):
    """A ``MilvusClient`` for ``location``; :class:`IndexUnreachable` says what to do when it fails."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:  # pragma: no cover - the extra is installed by make test
        raise IndexUnreachable(f"--index {location} needs pymilvus: pip install -c constraints.txt "
                               f"-e '.[milvus]'") from exc
    try:
        if location.engine is Engine.MILVUS_LITE:
            # Milvus Lite's server logs a traceback for each timestamp pymilvus asks of it
            # after creating an index (a call it does not implement, and pymilvus does not need).
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
            return MilvusClient(location.address, timeout=timeout)
        client = MilvusClient(uri=location.address, token=location.token, timeout=timeout)
        client.list_collections()
        return client
    except Exception as exc:  # noqa: BLE001 - pymilvus raises several kinds; each means "cannot reach"
        if location.engine is Engine.MILVUS_LITE:
            raise IndexUnreachable(
                f"--index / PROTOCOL_QA_INDEX={location}: Milvus Lite could not open {location.address} "
                f"({exc}). Milvus Lite serves one process at a time; when several processes share it, run "
                f"'milvus-lite server --data-dir {location.address} --host 127.0.0.1 --port 19530' and give "
                f"every process --index milvus://127.0.0.1:19530") from exc
        raise IndexUnreachable(
            f"--index / PROTOCOL_QA_INDEX={location}: the Milvus server at {location.address} did not answer "
            f"within {timeout:g} s ({type(exc).__name__}: {exc}). Check that it is running and reachable from "
            f"here, and that PROTOCOL_QA_MILVUS_TOKEN holds a valid token") from exc


def _schema_passages(dim: int):
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    for name in ("source", "authority", "document", "kind", "status", "passage_id"):
        schema.add_field(name, DataType.VARCHAR, max_length=1024)
    schema.add_field("generation", DataType.INT64)
    schema.add_field("seq", DataType.INT64)
    schema.add_field("length", DataType.INT64)
    schema.add_field("record", DataType.JSON)
    schema.add_field("terms", DataType.JSON)
    schema.add_field("tokens", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_TOKENS,
                     max_length=128)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    return schema


def _schema_small(key: str, sparse: bool):
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(key, DataType.VARCHAR, is_primary=True, max_length=1024)
    schema.add_field("value", DataType.JSON)
    if sparse:  # documents: generations and the document frequencies of their terms
        schema.add_field("generation", DataType.INT64)
        schema.add_field("previous", DataType.INT64)
        schema.add_field("passages", DataType.INT64)
        schema.add_field("length", DataType.INT64)
        schema.add_field("df", DataType.SPARSE_FLOAT_VECTOR)
    else:  # Milvus wants a vector field in every collection
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
    return schema


def ensure_collections(client, *, model: dict, avgdl_ref: float, settings: MilvusSettings,
                       params: BM25Params = BM25Params()) -> dict:
    """Create the collections if missing (safe when two writers race) and return the meta
    record; :class:`~index.store.IndexIncompatible` when they hold another model's vectors."""
    dim = int(model["dim"])
    specs = [(PASSAGES, lambda: _schema_passages(dim)), (DOCUMENTS, lambda: _schema_small("source", True)),
             (META, lambda: _schema_small("name", False)), (PROVISIONS, lambda: _schema_small("key", False))]
    for name, schema in specs:
        if client.has_collection(name):
            continue
        index = client.prepare_index_params()
        if name == PASSAGES:
            extra = ({"M": settings.hnsw_m, "efConstruction": settings.hnsw_ef_construction}
                     if settings.dense_index == "HNSW" else {})
            index.add_index("dense", index_type=settings.dense_index, metric_type="IP", params=extra)
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
            # Scalar indexes for the filters every search and write uses: without them a
            # document's write scans every row to find its old generations.
            for field in SCALAR_INDEXED:
                index.add_index(field, index_type="INVERTED")
        elif name == DOCUMENTS:
            index.add_index("df", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        else:
            index.add_index("unused", index_type="FLAT", metric_type="L2")
        try:
            client.create_collection(name, schema=schema(), index_params=index)
        except Exception:  # noqa: BLE001 - another writer created it first
            if not client.has_collection(name):
                raise
    meta = read_meta(client)
    if meta is None:
        meta = {"format": FORMAT, "model": model, "avgdl_ref": float(avgdl_ref) or 1.0,
                "bm25": {"k1": params.k1, "b": params.b, "idf": params.idf}}
        client.insert(META, [{"name": "index", "value": meta, "unused": [0.0, 0.0]}])
    if meta["model"].get("fingerprint") != model.get("fingerprint"):
        raise store.IndexIncompatible(
            f"The Milvus index holds vectors of embedding model {meta['model'].get('name')!r} "
            f"(fingerprint {meta['model'].get('fingerprint')}), not of the model in use "
            f"(fingerprint {model.get('fingerprint')}); ingest into another Milvus database, or drop its "
            f"protocol_qa_* collections and ingest again")
    return meta


def _load(client) -> None:
    for name in (PASSAGES, DOCUMENTS, META, PROVISIONS):
        client.load_collection(name)


def read_meta(client) -> dict | None:
    """The index's meta record, or None before the first ingest."""
    if not client.has_collection(META):
        return None
    client.load_collection(META)
    rows = client.get(META, ids=["index"], output_fields=["value"])
    return dict(rows[0]["value"]) if rows else None


def read_catalog(client, *, removed: bool = False) -> list[dict]:
    """Every document's catalog row (source, generation, previous, value, passages, length, df),
    sorted by source; without ``removed``, only published, not removed ones."""
    if not client.has_collection(DOCUMENTS):
        return []
    client.load_collection(DOCUMENTS)
    rows = client.query(DOCUMENTS, filter="generation >= 0" if removed else "generation > 0",
                        output_fields=["source", "generation", "previous", "value", "passages", "length", "df"],
                        consistency_level="Strong")
    return sorted((dict(row) for row in rows), key=lambda row: row["source"])


def catalog_stamp(client) -> tuple:
    """Changes whenever a document is published or removed, a record changes (its adopted
    model) or provisions are regrouped; cheap (no statistics read): servers poll it."""
    if not client.has_collection(DOCUMENTS):
        return ()
    client.load_collection(DOCUMENTS)
    client.load_collection(META)
    rows = client.query(DOCUMENTS, filter="generation >= 0", output_fields=["source", "generation", "value"])
    pointer = client.get(META, ids=["provisions"], output_fields=["value"])
    documents = tuple(sorted((row["source"], int(row["generation"]), str(row["value"].get("adopts")))
                             for row in rows))
    return documents, int(pointer[0]["value"]["round"]) if pointer else 0


_CLIENTS: dict[str, object] = {}


def shared_client(location: IndexLocation, timeout: float = 10.0):
    """One client per address in this process (pymilvus clients are thread-safe)."""
    client = _CLIENTS.get(location.address)
    if client is None:
        client = _CLIENTS[location.address] = connect(location, timeout)
    return client


def new_generation() -> int:
    """A generation number unique across writers: the time in microseconds and 12 random bits."""
    return (time.time_ns() // 1000) << 12 | secrets.randbits(12)


def _passage_rows(passages: Sequence, vectors: np.ndarray, generation: int, avgdl_ref: float,
                  params: BM25Params) -> tuple[list[dict], dict[int, float], int]:
    rows, df, total = [], {}, 0
    for seq, (passage, vector) in enumerate(zip(passages, vectors)):
        tokens = tokenize(passage.retrieval_text)
        tf = term_frequencies(tokens)
        total += len(tokens)
        for token in tf:
            key = term_id(token)
            df[key] = df.get(key, 0.0) + 1.0
        rows.append({"key": f"{generation}-{seq}", "source": passage.source, "authority": passage.authority,
                     "document": passage.document, "kind": passage.kind, "status": passage.status,
                     "passage_id": passage.id, "generation": generation, "seq": seq, "length": len(tokens),
                     "record": passage.to_dict(), "terms": tf,
                     "tokens": [token[:128] for token in list(tf)[:MAX_TOKENS]],
                     "dense": np.asarray(vector, dtype=np.float32).tolist(),
                     "sparse": passage_vector(tf, len(tokens), avgdl_ref, params)})
    return rows, df, total


def write_document(client, record: dict, passages: Sequence, vectors: np.ndarray, meta: dict) -> int:
    """Insert ``passages`` (of one document, in document order) under a new generation, then
    publish it in the document's catalog row; returns the generation.

    Killed before the catalog row is written, nothing a reader sees has changed.
    """
    if len(passages) != len(vectors):
        raise ValueError(f"{len(passages)} passages but {len(vectors)} vectors")
    source = record["source"]
    params = BM25Params(k1=meta["bm25"]["k1"], b=meta["bm25"]["b"], idf=meta["bm25"]["idf"])
    generation = new_generation()
    rows, df, total = _passage_rows(passages, vectors, generation, meta["avgdl_ref"], params)
    _load(client)
    for start in range(0, len(rows), INSERT_BATCH):
        client.insert(PASSAGES, rows[start:start + INSERT_BATCH])
    store.pause_for_tests("saving")
    old = client.get(DOCUMENTS, ids=[source], output_fields=["generation", "previous"])
    previous = int(old[0]["generation"] or old[0]["previous"]) if old else 0
    if previous > generation:
        # Another ingest of this document started later and published first: its version stands.
        log.warning("a later ingest of %s was published first; this one is discarded", source)
        client.delete(PASSAGES, filter=f"source == {quote(source)} and generation == {generation}")
        return previous
    value = {key: item for key, item in record.items() if key != "text"}
    client.upsert(DOCUMENTS, [{"source": source, "value": value, "generation": generation, "previous": previous,
                               "passages": len(rows), "length": int(total), "df": df or {EMPTY_ID: 1.0}}])
    store.pause_for_tests("publishing")
    collect(client, source)
    return generation


def write_new_documents(client, documents: Sequence[tuple[dict, Sequence, np.ndarray]], meta: dict) -> list[int]:
    """Write documents the index does not hold yet, many at a time: every passage row first
    (in batches, under each document's new generation), then all their catalog rows in one
    upsert. For a first upload, where :func:`write_document` per document would pay a
    catalog read and a clean-up per document. Raises ``ValueError`` for a document already there."""
    params = BM25Params(k1=meta["bm25"]["k1"], b=meta["bm25"]["b"], idf=meta["bm25"]["idf"])
    _load(client)
    sources = [record["source"] for record, _, _ in documents]
    held = client.get(DOCUMENTS, ids=sources, output_fields=["generation"]) if sources else []
    if held:
        raise ValueError(f"{held[0]['source']} is already in the index; write it with write_document")
    catalog, pending, generations = [], [], []
    for record, passages, vectors in documents:
        generation = new_generation()
        rows, df, total = _passage_rows(passages, vectors, generation, meta["avgdl_ref"], params)
        pending.extend(rows)
        while len(pending) >= INSERT_BATCH * 4:
            client.insert(PASSAGES, pending[:INSERT_BATCH * 4])
            del pending[:INSERT_BATCH * 4]
        value = {key: item for key, item in record.items() if key != "text"}
        catalog.append({"source": record["source"], "value": value, "generation": generation, "previous": 0,
                        "passages": len(rows), "length": int(total), "df": df or {EMPTY_ID: 1.0}})
        generations.append(generation)
    if pending:
        client.insert(PASSAGES, pending)
    store.pause_for_tests("saving")
    for start in range(0, len(catalog), INSERT_BATCH):
        client.upsert(DOCUMENTS, catalog[start:start + INSERT_BATCH])
    for source in sources:  # rows an earlier, killed ingest of the same new document left behind
        collect(client, source)
    return generations


def update_record(client, source: str, changes: dict) -> None:
    """Change fields of a published document's record (``adopts``), keeping its generation."""
    rows = client.get(DOCUMENTS, ids=[source], output_fields=["value", "generation", "previous", "passages",
                                                               "length", "df"])
    if not rows:
        return
    row = dict(rows[0])
    row["value"] = {**row["value"], **changes}
    row["source"] = source
    client.upsert(DOCUMENTS, [row])


def remove_document(client, source: str) -> bool:
    """Unpublish ``source`` (its rows go with the next collection); False when it was not there."""
    _load(client)
    old = client.get(DOCUMENTS, ids=[source], output_fields=["generation", "value", "length"])
    if not old or not old[0]["generation"]:
        return False
    client.upsert(DOCUMENTS, [{"source": source, "value": old[0]["value"], "generation": 0,
                               "previous": int(old[0]["generation"]), "passages": 0, "length": 0,
                               "df": {EMPTY_ID: 1.0}}])
    return True


def collect(client, source: str) -> int:
    """Delete ``source``'s rows older than its published generation, except the one it
    replaced (readers that opened before the switch may still read it); returns how many.

    Rows newer than the published generation are left alone: they may be another
    ingest's, still being written. A killed ingest's rows are older than the next
    published generation of that document, so that write removes them.
    """
    row = client.get(DOCUMENTS, ids=[source], output_fields=["generation", "previous"])
    if not row:
        return 0
    current, previous = int(row[0]["generation"]), int(row[0]["previous"])
    newest = current or previous
    expression = (f"source == {quote(source)} and generation < {newest} and generation != {previous}"
                  if current else f"source == {quote(source)} and generation < {previous}")
    deleted = client.delete(PASSAGES, filter=expression)
    return len(deleted) if isinstance(deleted, list) else int(getattr(deleted, "delete_count", 0) or 0)


def save_provisions(client, provisions: list[dict]) -> None:
    """Store a new round of provisions and point the meta record at it in one upsert."""
    round_ = new_generation()
    rows = [{"key": f"{round_}-{n}", "value": {"round": round_, **provision}, "unused": [0.0, 0.0]}
            for n, provision in enumerate(provisions)]
    for start in range(0, len(rows), INSERT_BATCH):
        client.insert(PROVISIONS, rows[start:start + INSERT_BATCH])
    client.upsert(META, [{"name": "provisions", "value": {"round": round_, "count": len(rows)},
                          "unused": [0.0, 0.0]}])
    client.delete(PROVISIONS, filter=f'not (key like "{round_}-%")')


def read_provisions(client) -> list[dict]:
    """The current round of provisions (as :func:`save_provisions` stored them)."""
    pointer = client.get(META, ids=["provisions"], output_fields=["value"])
    if not pointer:
        return []
    round_ = int(pointer[0]["value"]["round"])
    rows = client.query(PROVISIONS, filter=f'key like "{round_}-%"', output_fields=["key", "value"],
                        consistency_level="Strong")
    return [row["value"] for row in sorted(rows, key=lambda row: int(row["key"].split("-")[1]))]

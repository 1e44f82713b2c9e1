"""The Milvus engine seen through the interface of :class:`index.hybrid.HybridIndex`.

``qa`` asks an index for BM25 and dense candidates, their exact scores, passages by
row, masks by authority, kind and status, and the documents and provisions; this
class answers the same questions from Milvus, so the reranker, the decisions, the
comparison and the record cannot tell which engine they use.

A view is a snapshot of the catalog (:mod:`index.milvus`): the generation of each
document, its passage count and term statistics. Rows are numbered as the embedded
engine numbers them (documents by source, passages in document order), so row
``offset[source] + seq`` is the same passage in both engines. Only the catalog is
held in memory; passages and vectors are fetched from Milvus as questions need them
(the most recent ``RECENT`` kept). :meth:`refreshed` gives a new view when the
catalog changed, which a server calls between questions.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np

from index import milvus as mv
from index.hybrid import IndexFacts, group_authority_documents
from index.lexical import BM25Params, Term, top_k_indices
from index.location import IndexLocation
from index.sparse import bm25, idf, query_vector, term_id
from ingest.passage import Passage

__all__ = ["MilvusIndex", "Selection"]

log = logging.getLogger(__name__)

RECENT = 8192
TOKEN_SETS = 16_384
_FIELDS = ["key", "seq", "source", "record", "terms", "length", "dense"]


class Selection:
    """Passages allowed by filters, as a Milvus expression (the embedded engine's boolean mask)."""

    def __init__(self, expression: str, count: int) -> None:
        self.expression = expression
        self.count = count

    def any(self) -> bool:
        return self.count > 0


class _Row:
    __slots__ = ("passage", "terms", "length", "vector")

    def __init__(self, passage: Passage, terms: dict, length: int, vector: np.ndarray) -> None:
        self.passage, self.terms, self.length, self.vector = passage, terms, length, vector


class _Passages(Sequence):
    """Passages by row, fetched from Milvus on access."""

    def __init__(self, index: "MilvusIndex") -> None:
        self._index = index

    def __len__(self) -> int:
        return self._index.n_passages

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._index.row(int(i)).passage

    def __iter__(self):
        for document in self._index.catalog:
            for row in self._index.document_rows(document["source"]):
                yield row.passage


class _Embeddings:
    """``index.embeddings[rows]`` as the embedded engine's array allows."""

    def __init__(self, index: "MilvusIndex") -> None:
        self._index = index

    def __getitem__(self, rows) -> np.ndarray:
        rows = np.atleast_1d(np.asarray(rows))
        return np.stack([self._index.row(int(r)).vector for r in rows]) if rows.size else \
            np.zeros((0, self._index.dim), dtype=np.float32)

    @property
    def shape(self) -> tuple[int, int]:
        return (self._index.n_passages, self._index.dim)


class _Lexical:
    """BM25 statistics of the snapshot, and candidate search through Milvus."""

    def __init__(self, index: "MilvusIndex", df: dict[int, float], n_docs: int, avgdl: float,
                 params: BM25Params) -> None:
        self._index = index
        self._df = df
        self.n_docs = n_docs
        self.avgdl = avgdl
        self.params = params
        self._set_df = lru_cache(maxsize=1024)(self._count_set)

    def df(self, term: Term) -> int:
        if isinstance(term, tuple):
            return self._set_df(tuple(sorted(set(term))))
        return int(self._df.get(term_id(term), 0))

    def _count_set(self, terms: tuple[str, ...]) -> int:
        if len(terms) == 1:
            return self.df(terms[0])
        expression = f"({self._index.live}) and array_contains_any(tokens, [{', '.join(map(mv.quote, terms))}])"
        rows = self._index.client.query(mv.PASSAGES, filter=expression, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def idf(self, term: Term) -> float:
        return idf(self.df(term), self.n_docs, self.params)

    def prepare(self, terms: Iterable[Term]) -> None:
        for term in terms:
            if isinstance(term, tuple):
                self.df(term)

    def scores(self, query: Mapping[Term, float]) -> "_Scores":
        """Exact BM25 of any row, computed when read (the embedded engine returns an array)."""
        return _Scores(self._index, dict(query))

    def top_k(self, query: Mapping[Term, float], k: int, allowed: Selection | None = None,
              scores: "_Scores | None" = None) -> list[tuple[int, float]]:
        """The ``k`` best (row, exact BM25) with a non-zero score: Milvus chooses ``overfetch``
        times ``k`` candidates by the stored factors, the exact scores choose among them."""
        if k <= 0 or self.n_docs == 0:
            return []
        vector = query_vector(query, self.idf)
        if not vector:
            return []
        hits = self._index.search("sparse", vector, k * self._index.settings.overfetch, allowed)
        scores = scores if scores is not None else self.scores(query)
        rows = np.asarray(sorted(set(hits)), dtype=np.int64)  # ties break by row, as in the embedded engine
        values = np.asarray([scores[r] for r in rows.tolist()], dtype=np.float64)
        order = top_k_indices(values, k)
        return [(int(rows[i]), value) for i, value in order]


class _Scores:
    def __init__(self, index: "MilvusIndex", query: dict) -> None:
        self._index, self._query = index, query
        self._memo: dict[int, float] = {}

    def __getitem__(self, row: int) -> float:
        row = int(row)
        value = self._memo.get(row)
        if value is None:
            data = self._index.row(row)
            lexical = self._index.lexical
            value = self._memo[row] = bm25(data.terms, data.length, self._query, lexical.idf, lexical.avgdl,
                                           lexical.params)
        return value


class MilvusIndex(IndexFacts):
    """A read-only snapshot of a Milvus index; safe to share across threads."""

    def __init__(self, client, location: IndexLocation, settings: mv.MilvusSettings, meta: dict,
                 catalog: list[dict], provisions: list[dict]) -> None:
        self.client = client
        self.location = location
        self.settings = settings
        self.directory = None
        self.build_stats = None
        self.catalog = [row for row in catalog if int(row["passages"]) > 0]
        self.documents = [dict(row["value"]) for row in catalog]
        self.generations = {row["source"]: int(row["generation"]) for row in self.catalog}
        self.live = mv.live_filter(self.generations.values())
        self._offsets, total = {}, 0
        for row in self.catalog:
            self._offsets[row["source"]] = total
            total += int(row["passages"])
        self._starts = [self._offsets[row["source"]] for row in self.catalog]
        self._counts = {row["source"]: int(row["passages"]) for row in self.catalog}
        self.n_passages = total
        df: dict[int, float] = {}
        length = 0
        for row in self.catalog:
            length += int(row["length"])
            for key, value in (row["df"] or {}).items():
                df[int(key)] = df.get(int(key), 0.0) + value
        bm = meta["bm25"]
        params = BM25Params(k1=bm["k1"], b=bm["b"], idf=bm["idf"])
        self.lexical = _Lexical(self, df, total, length / total if total else 0.0, params)
        model = meta["model"]
        fingerprint = hashlib.sha256("\n".join(f"{s}\t{g}" for s, g in sorted(self.generations.items()))
                                     .encode()).hexdigest()[:32]
        self.metadata = {"model": model, "corpus_fingerprint": fingerprint, "passages": total,
                         "documents": len(self.documents), "dense": settings.dense_index,
                         "engine": location.engine.value}
        self.passages = _Passages(self)
        self.embeddings = _Embeddings(self)
        self._rows: OrderedDict[int, _Row] = OrderedDict()
        self.recent = RECENT  # rows kept; raised while provisions are regrouped over every row
        self._lock = threading.Lock()
        self.provisions = self._provisions(provisions)
        self.token_set = lru_cache(maxsize=TOKEN_SETS)(self._token_set)
        self.stamp: tuple = ()

    # ------------------------------------------------------------ opening
    @classmethod
    def open(cls, location: IndexLocation, settings: mv.MilvusSettings = mv.MilvusSettings(), *,
             expected_model_fingerprint: str | None = None, client=None) -> "MilvusIndex":
        """Open a snapshot; :class:`~index.store.IndexNotFound` before the first ingest,
        :class:`~index.store.IndexIncompatible` for another model's vectors."""
        from index import store

        client = client or mv.shared_client(location, settings.timeout_s)
        meta = mv.read_meta(client)
        if meta is None:
            raise store.IndexNotFound(f"There is no protocol-qa index in {location} yet; build it with: "
                                      f"protocol-qa ingest --index {location} YOUR-DOCUMENTS")
        fingerprint = meta["model"].get("fingerprint")
        if expected_model_fingerprint is not None and fingerprint != expected_model_fingerprint:
            raise store.IndexIncompatible(
                f"The index at {location} was built with embedding model {meta['model'].get('name')!r} "
                f"(fingerprint {fingerprint}), not the model in use (fingerprint {expected_model_fingerprint}); "
                f"ingest your documents again with: protocol-qa ingest --index {location} YOUR-DOCUMENTS")
        for name in (mv.PASSAGES, mv.DOCUMENTS, mv.META, mv.PROVISIONS):
            client.load_collection(name)
        return cls._snapshot(client, location, settings, meta)

    @classmethod
    def _snapshot(cls, client, location, settings, meta) -> "MilvusIndex":
        stamp = mv.catalog_stamp(client)  # read first: a change after it makes the next refresh reopen
        index = cls(client, location, settings, meta, mv.read_catalog(client), mv.read_provisions(client))
        index.stamp = stamp
        return index

    def reopen(self) -> "MilvusIndex":
        """A new snapshot over the same client, whatever changed."""
        return MilvusIndex._snapshot(self.client, self.location, self.settings, mv.read_meta(self.client))

    def refreshed(self) -> "MilvusIndex":
        """This view if nothing was published since it was taken (:func:`index.milvus.catalog_stamp`),
        else a new snapshot over the same client."""
        return self if mv.catalog_stamp(self.client) == self.stamp else self.reopen()

    def __len__(self) -> int:
        return self.n_passages

    # ------------------------------------------------------------ rows
    def _row_of(self, source: str, seq: int) -> int:
        return self._offsets[source] + int(seq)

    def _key(self, row: int) -> str:
        number = bisect.bisect_right(self._starts, row) - 1
        source = self.catalog[number]["source"]
        return f"{self.generations[source]}-{row - self._starts[number]}"

    def _keep(self, hit: Mapping) -> int:
        row = self._row_of(hit["source"], hit["seq"])
        data = _Row(Passage.from_dict(hit["record"]), dict(hit["terms"]), int(hit["length"]),
                    np.asarray(hit["dense"], dtype=np.float32))
        with self._lock:
            self._rows[row] = data
            self._rows.move_to_end(row)
            while len(self._rows) > self.recent:
                self._rows.popitem(last=False)
        return row

    def _gone(self, what: str) -> Exception:
        """The error for rows this snapshot names but Milvus no longer holds: the generation a
        view saw is kept through one replacement of its document (:func:`index.milvus.collect`)."""
        from index.store import IndexProblem

        return IndexProblem(f"{what} is no longer in {self.location}: its document was replaced twice since "
                            f"this view was opened; ask again")

    def row(self, row: int) -> _Row:
        with self._lock:
            data = self._rows.get(row)
        if data is None:
            self.fetch([row])
            with self._lock:
                data = self._rows.get(row)
            if data is None:
                raise self._gone(f"passage row {row} ({self._key(row)})")
        return data

    def fetch(self, rows: Sequence[int]) -> None:
        """Bring these rows into the cache in one round trip."""
        with self._lock:
            missing = [r for r in rows if r not in self._rows]
        if missing:
            hits = self.client.get(mv.PASSAGES, ids=[self._key(r) for r in missing], output_fields=_FIELDS)
            for hit in hits:
                self._keep(hit)

    def document_rows(self, source: str) -> list[_Row]:
        """Every passage of ``source`` in the snapshot, in document order."""
        generation = self.generations.get(source)
        if generation is None:
            return []
        hits = self.client.query(mv.PASSAGES, filter=f"generation == {generation}", output_fields=_FIELDS)
        if len(hits) != self._counts[source]:
            raise self._gone(f"{source} (generation {generation})")
        return [self.row(self._keep(hit)) for hit in sorted(hits, key=lambda hit: hit["seq"])]

    def position_of(self, passage_id: str) -> int | None:
        hits = self.client.query(mv.PASSAGES, filter=f"({self.live}) and passage_id == {mv.quote(passage_id)}",
                                 output_fields=_FIELDS, limit=1)
        return self._keep(hits[0]) if hits else None

    # ------------------------------------------------------------ search
    def search(self, field: str, vector, limit: int, allowed: Selection | None) -> list[int]:
        """Rows of the best ``limit`` passages by ``field`` ("dense" or "sparse") among those allowed."""
        expression = self.live if allowed is None else f"({self.live}) and ({allowed.expression})"
        params = {"metric_type": "IP"}
        if field == "dense" and self.settings.dense_index == "HNSW":
            params["params"] = {"ef": max(self.settings.hnsw_ef, limit)}
        data = [vector.tolist() if isinstance(vector, np.ndarray) else vector]
        found = self.client.search(mv.PASSAGES, data=data, anns_field=field, limit=min(limit, 16_384),
                                   filter=expression, output_fields=_FIELDS[1:], search_params=params)
        return [self._keep(hit["entity"]) for hit in found[0]]

    def dense_top_k(self, vector: np.ndarray, k: int, allowed: Selection | None = None, *,
                    exact_scores: bool = True) -> list[tuple[int, float]]:
        """Best ``k`` (row, cosine similarity), best first, ties by row."""
        if k <= 0 or self.n_passages == 0:
            return []
        rows = self.search("dense", np.asarray(vector, dtype=np.float32), k, allowed)
        scores = self.dense_scores_for(vector, rows)
        return [(rows[i], float(scores[i])) for i in np.lexsort((np.asarray(rows), -scores))]

    def dense_scores_for(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        self.fetch(list(rows))
        return self.embeddings[np.asarray(rows)] @ vector

    def best_dense_score(self, vectors: np.ndarray, rows: Sequence[int]) -> float:
        if len(rows) == 0:
            return 0.0
        self.fetch(list(rows))
        return float((self.embeddings[np.asarray(rows)] @ np.asarray(vectors).T).max())

    def vector(self, row: int) -> np.ndarray:
        return self.row(row).vector

    # ------------------------------------------------------------ filters and facets
    def mask(self, authorities: Iterable[str] | None = None, kinds: Iterable[str] | None = None,
             statuses: Iterable[str] | None = None) -> Selection | None:
        """A :class:`Selection` of passages matching every given filter; None when no filter."""
        parts, chosen = [], self.catalog
        for name, wanted in (("authority", authorities), ("kind", kinds), ("status", statuses)):
            if wanted is None:
                continue
            wanted = sorted(set(wanted))
            parts.append(f"{name} in [{', '.join(map(mv.quote, wanted))}]")
            chosen = [row for row in chosen if row["value"].get(name) in wanted]
        if not parts:
            return None
        return Selection(" and ".join(parts), sum(int(row["passages"]) for row in chosen))

    @property
    def authorities(self) -> list[str]:
        return self.facet_values("authority")

    def facet_values(self, facet: str) -> list[str]:
        return sorted({row["value"][facet] for row in self.catalog})

    def authority_documents(self) -> list[tuple[str, tuple[str, ...], str]]:
        grouped = group_authority_documents((row["value"]["authority"], row["value"]["title"], row["value"]["kind"])
                                            for row in self.catalog)
        return [(authority, tuple(titles), kind) for authority, titles, kind in grouped]

    # ------------------------------------------------------------ provisions
    def _provisions(self, stored: list[dict]) -> list | None:
        """Stored provisions with rows of this snapshot; members of documents replaced since
        they were grouped are left out, and a provision left with one member is dropped."""
        from index.provisions import Provision

        if not stored:
            return None
        provisions = []
        for record in stored:
            members = []
            for source, generation, seq, likeness, overlap in record["members"]:
                if self.generations.get(source) == generation:
                    members.append((self._row_of(source, seq), likeness, float(overlap)))
            source, generation, seq = record["representative"]
            if len(members) < 2 or self.generations.get(source) != generation:
                continue
            provisions.append(Provision(record["id"], self._row_of(source, seq), tuple(members)))
        return provisions

    def provision_records(self, provisions) -> list[dict]:
        """Provisions as stored: members named by (source, generation, seq), not by row."""
        def where(row: int) -> list:
            number = bisect.bisect_right(self._starts, row) - 1
            source = self.catalog[number]["source"]
            return [source, self.generations[source], row - self._starts[number]]

        return [{"id": p.id, "representative": where(p.representative),
                 "members": [where(row) + [likeness, overlap] for row, likeness, overlap in p.members]}
                for p in provisions]

"""Dense retrieval: FAISS inner-product search over unit vectors, exact or approximate.

Below ``APPROXIMATE_ABOVE`` passages the index is an exact ``IndexFlatIP``
(a flat scan of a few tens of thousands of 384-d vectors costs a few ms).
Above it, an inverted-file index with 8-bit scalar-quantised codes
(``IVF{nlist},SQ8``: a quarter of float32 memory) finds candidates, and the
candidates are re-scored exactly from the float32 embeddings (memory-mapped),
so the scores returned are always exact cosine similarities and only the
candidate set is approximate. ``recall_at_k`` measures that against exact
search; see ``benchmark.py`` for the figures.

Filtering by a boolean mask: a small allowed set (at most ``SUBSET_LIMIT``
passages, e.g. one authority's clauses) is scanned exactly with numpy; a
larger one goes through FAISS with an ``IDSelectorBitmap``, and for the
approximate index falls back to the exact subset scan whenever the filtered
probe returns fewer than ``k`` passages. Results under a mask are therefore
exact for the flat index and never short for either.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from pathlib import Path

import faiss
import numpy as np

__all__ = ["APPROXIMATE_ABOVE", "SUBSET_LIMIT", "DenseIndex", "exact_top_k", "recall_at_k"]

log = logging.getLogger(__name__)

# Measured on 2 cores, d=384, one query (see index/benchmark.py): the flat
# scan costs ~0.1 ms per 1,000 vectors (0.55 ms at 10k, 5 ms at 50k, 12 ms at
# 100k) while IVF-SQ8 + exact re-scoring stays under ~1 ms up to 200k. Above
# 50k the approximate index is an order of magnitude faster at recall@10 >= 0.95.
APPROXIMATE_ABOVE = 50_000
SUBSET_LIMIT = 20_000
# Candidates fetched from the approximate index per result wanted, before exact re-scoring.
OVERFETCH = 4
# Queries whose exact similarities recall_at_k computes in one pass over the embeddings.
RECALL_BLOCK = 32


def exact_top_k(embeddings: np.ndarray, vector: np.ndarray, k: int,
                rows: np.ndarray | None = None) -> list[tuple[int, float]]:
    """Brute-force top ``k`` (row, inner product) over ``rows`` (all when None), best first."""
    if rows is None:
        sims = np.asarray(embeddings) @ vector
        rows = np.arange(sims.size)
    else:
        sims = np.asarray(embeddings[rows]) @ vector
    return _best_of(sims, rows, k)


def _best_of(sims: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` best (row, similarity) pairs, similarity descending, ties by row."""
    if k <= 0 or sims.size == 0:
        return []
    if sims.size > k:
        part = np.argpartition(-sims, k - 1)[:k]
    else:
        part = np.arange(sims.size)
    order = part[np.lexsort((rows[part], -sims[part]))]
    return [(int(rows[i]), float(sims[i])) for i in order]


@contextlib.contextmanager
def _omp_threads(n: int):
    """Run FAISS with ``n`` OpenMP threads in this thread, then restore.

    One query is best served by one thread: with two, FAISS's OpenMP workers
    spin after each call and starve the BLAS threads of the next numpy product
    (measured: a 10k flat search went from 0.55 ms to 16 ms on 2 cores).
    Concurrency comes from serving several questions at once instead.
    """
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _bitmap_selector(allowed: np.ndarray) -> tuple[faiss.IDSelector, np.ndarray]:
    """A FAISS selector over a boolean mask; the packed array must outlive the search."""
    bits = np.packbits(allowed.astype(np.uint8), bitorder="little")
    return faiss.IDSelectorBitmap(allowed.size, faiss.swig_ptr(bits)), bits


class DenseIndex:
    """Inner-product search over the rows of ``embeddings`` (unit float32 vectors).

    ``ann`` is None for exact search, else a trained FAISS IVF index whose
    candidates are re-scored against ``embeddings``.
    """

    ANN_FILE = "dense_ivf.faiss"

    def __init__(self, embeddings: np.ndarray, ann: faiss.Index | None = None, nprobe: int = 32) -> None:
        self.embeddings = embeddings
        self.dim = int(embeddings.shape[1]) if embeddings.ndim == 2 else 0
        self.ann = ann
        self.nprobe = nprobe
        self._flat: faiss.Index | None = None
        if ann is None and len(embeddings):
            self._flat = faiss.IndexFlatIP(self.dim)
            self._flat.add(np.ascontiguousarray(embeddings, dtype=np.float32))
        if ann is not None:
            faiss.extract_index_ivf(ann).nprobe = nprobe

    @property
    def kind(self) -> str:
        """``"flat"`` (exact) or the FAISS factory string of the approximate index."""
        if self.ann is None:
            return "flat"
        return f"IVF{faiss.extract_index_ivf(self.ann).nlist},SQ8"

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    @classmethod
    def build(cls, embeddings: np.ndarray, *, approximate_above: int = APPROXIMATE_ABOVE,
              nlist: int | None = None, nprobe: int | None = None, seed: int = 0) -> "DenseIndex":
        """Exact index up to ``approximate_above`` rows, IVF-SQ8 above.

        ``nlist`` defaults to ``2*sqrt(N)`` clamped to [64, 2048]; ``nprobe``
        to enough lists to scan about 0.8% of the corpus (at least 16): at a
        million passages that scans 16 lists in about 1.5 ms, where 5% took 5
        to 7 ms for the same recall (recall@10 1.000 against exact search on
        the benchmark's corpus; ``protocol-qa bench`` reports it). More probes
        raise recall and cost proportionally more time. Training uses
        a sample of at most 64 vectors per list, so building a million-row
        index takes seconds, not minutes.
        """
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2:
            raise ValueError(f"embeddings must be a 2-d array, got shape {embeddings.shape}")
        n, dim = embeddings.shape
        if n <= approximate_above:
            return cls(embeddings)
        nlist = nlist or int(min(2048, max(64, 2 * math.sqrt(n))))
        nprobe = nprobe or max(16, math.ceil(0.008 * nlist))
        ann = faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        sample = rng.choice(n, size=min(n, 64 * nlist), replace=False)
        with _omp_threads(os.cpu_count() or 1):
            ann.train(np.ascontiguousarray(embeddings[np.sort(sample)], dtype=np.float32))
            step = 100_000
            for start in range(0, n, step):
                ann.add(np.ascontiguousarray(embeddings[start:start + step], dtype=np.float32))
        return cls(embeddings, ann, nprobe)

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None, *,
               exact_scores: bool = True) -> list[tuple[int, float]]:
        """Top ``k`` (row, cosine) pairs, best first, optionally only rows where ``allowed``.

        ``exact_scores=False`` lets the approximate index return its own 8-bit
        scores for its best ``k``, skipping the exact re-scoring of ``4 * k``
        candidates: for a caller that re-scores the rows itself anyway.
        """
        vector = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(-1))
        if vector.size != self.dim and len(self):
            raise ValueError(f"query vector has {vector.size} dimensions, the index has {self.dim}")
        n = len(self)
        if k <= 0 or n == 0:
            return []
        if allowed is not None:
            if allowed.shape != (n,):
                raise ValueError(f"allowed mask has shape {allowed.shape}, expected ({n},)")
            count = int(np.count_nonzero(allowed))
            if count == 0:
                return []
            if count <= SUBSET_LIMIT or count <= k:
                return exact_top_k(self.embeddings, vector, k, np.flatnonzero(allowed))
        if self.ann is None:
            return self._search_flat(vector, k, allowed)
        found = self._search_ann(vector, k, allowed, exact_scores)
        if allowed is not None and len(found) < k:
            return exact_top_k(self.embeddings, vector, k, np.flatnonzero(allowed))
        return found

    def _search_flat(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        k = min(k, len(self))
        params = None
        if allowed is not None:
            selector, bits = _bitmap_selector(allowed)
            params = faiss.SearchParameters(sel=selector)
        with _omp_threads(1):
            sims, ids = self._flat.search(vector[None, :], k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], sims[0]) if i >= 0]

    def _search_ann(self, vector: np.ndarray, k: int, allowed: np.ndarray | None,
                    exact_scores: bool = True) -> list[tuple[int, float]]:
        fetch = min(len(self), max(k * OVERFETCH, 40) if exact_scores else k)
        params = faiss.SearchParametersIVF(nprobe=self.nprobe)
        if allowed is not None:
            selector, bits = _bitmap_selector(allowed)
            params.sel = selector
        with _omp_threads(1):
            sims, ids = self.ann.search(vector[None, :], fetch, params=params)
        if not exact_scores:
            return [(int(i), float(s)) for i, s in zip(ids[0], sims[0]) if i >= 0]
        rows = ids[0][ids[0] >= 0]
        if rows.size == 0:
            return []
        return exact_top_k(self.embeddings, vector, k, np.sort(rows))

    # ---------------------------------------------------------------- storage
    def save(self, directory: Path) -> list[str]:
        """Write the approximate index (if any); embeddings are saved by the caller."""
        if self.ann is None:
            return []
        faiss.write_index(self.ann, str(Path(directory) / self.ANN_FILE))
        return [self.ANN_FILE]

    @classmethod
    def load(cls, directory: Path, embeddings: np.ndarray, *, nprobe: int | None = None) -> "DenseIndex":
        """Rebuild the flat index from ``embeddings``, or read the saved IVF index."""
        path = Path(directory) / cls.ANN_FILE
        if not path.exists():
            return cls(embeddings)
        ann = faiss.read_index(str(path))
        ivf = faiss.extract_index_ivf(ann)
        return cls(embeddings, ann, nprobe or ivf.nprobe)


def recall_at_k(index: DenseIndex, queries: np.ndarray, k: int = 10) -> float:
    """Mean fraction of the exact top ``k`` that ``index.search`` returns (1.0 for the flat index).

    The exact similarities are computed for a block of queries at a time, so
    the embeddings (1.5 GB at a million passages) are read once per block,
    not once per query.
    """
    queries = np.asarray(queries, dtype=np.float32)
    rows = np.arange(len(index))
    hits = 0
    for start in range(0, len(queries), RECALL_BLOCK):
        block = queries[start:start + RECALL_BLOCK]
        sims = np.asarray(index.embeddings) @ block.T
        for column, vector in enumerate(block):
            exact = {row for row, _ in _best_of(sims[:, column], rows, k)}
            found = {row for row, _ in index.search(vector, k)}
            hits += len(exact & found)
    return hits / (k * len(queries)) if len(queries) else 1.0

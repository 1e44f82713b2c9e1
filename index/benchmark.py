"""Measurements of the index alone: BM25 top-k and dense search latency, approximate recall.

Synthetic data, so that a million passages need no encoder:

* lexical: passages are real clauses (token lists) with some tokens replaced
  by council-specific words and numbers, so the vocabulary grows with N as it
  would across many councils;
* dense: unit vectors drawn around a few thousand "clause" centres (the same
  clause worded a little differently by many councils), which is how real
  clause embeddings cluster.

``python -m index.benchmark --passages 100000`` prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence

import numpy as np

from index.dense import DenseIndex, exact_top_k, recall_at_k
from index.lexical import LexicalIndex, query_weights, tokenize

__all__ = ["synthetic_embeddings", "synthetic_token_corpus", "measure_lexical", "measure_dense"]

log = logging.getLogger(__name__)


def synthetic_embeddings(n: int, dim: int = 384, *, centres: int = 5000, noise: float = 0.35,
                         seed: int = 0) -> np.ndarray:
    """``n`` unit float32 rows clustered around ``centres`` random clause directions."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((centres, dim), dtype=np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        stop = min(n, start + step)
        rows = base[rng.integers(0, centres, stop - start)]
        rows = rows + noise * rng.standard_normal(rows.shape, dtype=np.float32) / np.sqrt(dim, dtype=np.float32)
        out[start:stop] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def synthetic_token_corpus(clauses: Sequence[str], n: int, *, seed: int = 0) -> list[list[str]]:
    """``n`` token lists: real clauses with one in ten tokens swapped for a council-specific word."""
    rng = np.random.default_rng(seed)
    base = [tokenize(c) for c in clauses]
    base = [t for t in base if t]
    picks = rng.integers(0, len(base), n)
    councils = rng.integers(0, max(1, n // 100), n)
    out = []
    for i, pick in enumerate(picks):
        tokens = list(base[pick])
        if len(tokens) > 5:
            tokens[int(rng.integers(0, len(tokens)))] = f"council{councils[i]}"
            tokens[int(rng.integers(0, len(tokens)))] = str(int(rng.integers(1, 500)))
        out.append(tokens)
    return out


def _percentiles(times_ms: list[float]) -> dict[str, float]:
    return {p: round(float(np.percentile(times_ms, q)), 3) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))}


def measure_lexical(index: LexicalIndex, questions: Sequence[str], k: int = 50) -> dict:
    """Latency of ``top_k`` over the given questions (ms percentiles)."""
    times = []
    for question in questions:
        query = query_weights(tokenize(question))
        start = time.perf_counter()
        index.top_k(query, k)
        times.append((time.perf_counter() - start) * 1000)
    return _percentiles(times)


def measure_dense(index: DenseIndex, queries: np.ndarray, k: int = 10) -> dict:
    """Latency of ``search`` and exact brute-force search, and recall@k against exact."""
    times, exact_times = [], []
    for vector in queries:
        start = time.perf_counter()
        index.search(vector, k)
        times.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        exact_top_k(index.embeddings, vector, k)
        exact_times.append((time.perf_counter() - start) * 1000)
    return {"kind": index.kind, "search_ms": _percentiles(times), "exact_numpy_ms": _percentiles(exact_times),
            f"recall@{k}": round(recall_at_k(index, queries, k), 4)}


QUESTIONS = [
    "Can I ask an officer to come to my ward surgery?",
    "may a councillor instruct an officer to do something",
    "what should I do if an officer is rude to me at a meeting",
    "gifts and hospitality register declare",
    "political group meetings officers attend briefings",
    "access to documents need to know confidential information",
    "complaint about the conduct of a member to the monitoring officer",
    "press releases and publicity before an election",
]


def main(argv: Sequence[str] | None = None) -> None:
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args(argv)
    corpus = Path(__file__).resolve().parents[1] / "corpus"
    clauses = [p for f in sorted(corpus.glob("*.txt")) for p in f.read_text("utf-8").split("\n\n") if p.strip()]
    report: dict = {"passages": args.passages}

    start = time.perf_counter()
    tokens = synthetic_token_corpus(clauses, args.passages)
    lexical = LexicalIndex.build(tokens)
    report["lexical_build_s"] = round(time.perf_counter() - start, 2)
    del tokens
    report["lexical_top_k_ms"] = measure_lexical(lexical, QUESTIONS * (args.queries // len(QUESTIONS) + 1))

    start = time.perf_counter()
    embeddings = synthetic_embeddings(args.passages)
    queries = synthetic_embeddings(args.queries, seed=1)  # same centres? no: seed differs -> use rows
    queries = embeddings[np.random.default_rng(2).integers(0, args.passages, args.queries)] + 0.05 * queries
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    dense = DenseIndex.build(embeddings)
    report["dense_build_s"] = round(time.perf_counter() - start, 2)
    report["dense"] = measure_dense(dense, queries)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

"""Dense search against numpy brute force; approximate recall; mask filtering."""

from __future__ import annotations

import numpy as np
import pytest

from index.benchmark import synthetic_embeddings
from index.dense import DenseIndex, exact_top_k, recall_at_k


def brute_force(embeddings, vector, k, allowed=None):
    sims = embeddings @ vector
    rows = np.arange(len(sims)) if allowed is None else np.flatnonzero(allowed)
    order = rows[np.argsort(-sims[rows], kind="stable")][:k]
    return order.tolist(), sims[order]


@pytest.fixture(scope="module")
def vectors():
    return synthetic_embeddings(3000, dim=32, centres=100, seed=0)


@pytest.mark.parametrize("k", [1, 10, 3000, 5000])
@pytest.mark.parametrize("mask_kind", [None, "half", "few", "none"])
def test_exact_search_equals_brute_force(vectors, k, mask_kind):
    index = DenseIndex.build(vectors)
    assert index.kind == "flat"
    allowed = {None: None, "half": np.arange(3000) % 2 == 0, "few": np.arange(3000) < 7,
               "none": np.zeros(3000, bool)}[mask_kind]
    query = vectors[5] + 0.1 * vectors[9]
    query /= np.linalg.norm(query)
    rows, sims = brute_force(vectors, query, k, allowed)
    got = index.search(query, k, allowed)
    assert [r for r, _ in got] == rows
    np.testing.assert_allclose([s for _, s in got], sims, rtol=1e-5, atol=1e-5)


def test_large_mask_uses_faiss_selector(monkeypatch, vectors):
    import index.dense as dense
    monkeypatch.setattr(dense, "SUBSET_LIMIT", 10)
    index = DenseIndex.build(vectors)
    allowed = np.arange(3000) % 3 == 1
    rows, _ = brute_force(vectors, vectors[4], 10, allowed)
    assert [r for r, _ in index.search(vectors[4], 10, allowed)] == rows


def test_approximate_index_recall_and_exact_scores(vectors):
    index = DenseIndex.build(vectors, approximate_above=1000, nlist=32, nprobe=8)
    assert index.kind == "IVF32,SQ8"
    queries = vectors[:50]
    recall = recall_at_k(index, queries, 10)
    assert recall >= 0.9, recall
    # Scores returned are exact inner products, re-scored from the float32 vectors.
    for row, score in index.search(vectors[3], 10):
        assert score == pytest.approx(float(vectors[row] @ vectors[3]), abs=1e-5)


def test_approximate_scores_on_request(vectors):
    index = DenseIndex.build(vectors, approximate_above=1000, nlist=32, nprobe=8)
    for query in vectors[:20]:
        exact = index.search(query, 10)
        rough = index.search(query, 10, exact_scores=False)
        assert len(rough) == 10
        assert len({r for r, _ in rough} & {r for r, _ in exact}) >= 8  # nearly the same rows
        for row, score in rough:  # 8-bit codes: close to, not equal to, the cosine
            assert score == pytest.approx(float(vectors[row] @ query), abs=0.05)
    flat = DenseIndex.build(vectors)  # the exact index has nothing cheaper to offer
    assert flat.search(vectors[1], 5, exact_scores=False) == flat.search(vectors[1], 5)


def test_recall_counts_what_the_approximate_index_misses():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(2000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = DenseIndex.build(vectors, approximate_above=100, nlist=64, nprobe=1)
    questions = vectors[:20] + 0.3 * rng.normal(size=(20, 16)).astype(np.float32)
    one_probe = recall_at_k(index, questions, 10)
    index.nprobe = 64  # every list: exact
    assert one_probe < recall_at_k(index, questions, 10) == 1.0


@pytest.mark.parametrize("few", [True, False])
def test_approximate_index_with_mask_never_short(monkeypatch, vectors, few):
    import index.dense as dense
    if not few:
        monkeypatch.setattr(dense, "SUBSET_LIMIT", 10)
    index = DenseIndex.build(vectors, approximate_above=1000, nlist=32, nprobe=2)
    allowed = np.arange(3000) % 97 == 0 if few else np.arange(3000) % 2 == 0
    got = index.search(vectors[0], 10, allowed)
    assert len(got) == 10 and all(allowed[r] for r, _ in got)


def test_save_load_approximate(tmp_path, vectors):
    index = DenseIndex.build(vectors, approximate_above=1000, nlist=32, nprobe=8)
    assert index.save(tmp_path) == ["dense_ivf.faiss"]
    loaded = DenseIndex.load(tmp_path, vectors)
    assert loaded.kind == index.kind and loaded.nprobe == 8
    assert loaded.search(vectors[1], 10) == index.search(vectors[1], 10)


def test_errors_and_edges(vectors):
    index = DenseIndex.build(vectors)
    with pytest.raises(ValueError, match="dimensions"):
        index.search(np.zeros(5, np.float32), 3)
    with pytest.raises(ValueError, match="mask"):
        index.search(vectors[0], 3, np.ones(4, bool))
    assert index.search(vectors[0], 0) == []
    assert exact_top_k(vectors, vectors[0], 2)[0][0] == 0

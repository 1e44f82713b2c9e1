"""BM25 as sparse vectors, for an engine that searches by inner product (Milvus).

The project's own tokenisation and BM25 (:mod:`index.lexical`) are kept: a passage is
sent as a sparse vector of BM25 term-frequency factors, a question as a sparse vector
of weighted idfs, and their inner product is the passage's BM25 score. Milvus only
chooses candidates with it; every candidate is then scored exactly by :func:`bm25`
from its stored term frequencies and the corpus statistics of the moment (passage
count, document frequencies, mean length), so scores equal the embedded engine's.

Why candidates only: BM25's length factor depends on the corpus's mean passage
length, which every ingest moves. Passages are therefore written with a fixed
reference length (``avgdl_ref``, recorded when the collection is made) instead of
rewriting every passage on each ingest; the exact rescoring corrects the drift, and
fetching a few times the candidates wanted (``overfetch`` in qa/data/pipeline.toml) keeps the exact top ones among them
(checked on the development questions, docs/milvus.md).

All functions here are pure.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping

from index.lexical import BM25Params, Term, _idf

__all__ = ["term_id", "term_frequencies", "passage_vector", "query_vector", "bm25", "idf", "EMPTY_ID"]

def term_id(token: str) -> int:
    """A stable 32-bit id of a token (Milvus sparse indices are below 2**32 - 1).

    Hashing needs no shared vocabulary between writers, so two ingests never
    coordinate. Two tokens may share an id (about one pair in a 100,000-word
    vocabulary); that can only add a candidate, never change a score, because
    scores are recomputed from the tokens themselves.
    """
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest(), "little") % EMPTY_ID


# Milvus refuses an empty sparse vector; a passage without a word ("9.3.7" alone has
# digits, but a heading of stopwords has none) gets this id, which no token hashes to.
EMPTY_ID = 0xFFFFFFFE


def term_frequencies(tokens: Iterable[str]) -> dict[str, int]:
    """Token -> occurrences."""
    return dict(Counter(tokens))


def idf(df: int, n_docs: int, params: BM25Params) -> float:
    """The idf of :class:`~index.lexical.BM25Params` (Lucene's by default); 0.0 for df 0.

    Okapi's floor needs the vocabulary's mean idf, which a sharded corpus does not
    have in one place; Lucene's idf (the project's default) needs none.
    """
    if df <= 0:
        return 0.0
    if params.idf != "lucene":
        raise ValueError(f"the Milvus engine scores with Lucene's idf; got idf={params.idf!r}")
    return float(_idf(df, n_docs, params, 0.0))


def _tf_factor(tf: float, length: int, avgdl: float, params: BM25Params) -> float:
    norm = params.k1 * (1 - params.b + params.b * length / avgdl) if avgdl else params.k1
    return tf * (params.k1 + 1) / (tf + norm)


def passage_vector(tf: Mapping[str, int], length: int, avgdl_ref: float, params: BM25Params) -> dict[int, float]:
    """A passage's sparse vector: term id -> BM25 term-frequency factor at ``avgdl_ref``."""
    vector: dict[int, float] = {}
    for token, count in tf.items():
        key = term_id(token)
        vector[key] = vector.get(key, 0.0) + _tf_factor(count, length, avgdl_ref, params)
    return vector or {EMPTY_ID: 1.0}


def query_vector(weights: Mapping[Term, float], idf_of) -> dict[int, float]:
    """A question's sparse vector: term id -> weight times idf (``idf_of(term)``).

    A synonym set gives each of its tokens the set's weight and idf, so a passage
    holding any of them is a candidate.
    """
    vector: dict[int, float] = {}
    for term, weight in weights.items():
        value = weight * idf_of(term)
        if value <= 0:
            continue
        for token in (term if isinstance(term, tuple) else (term,)):
            key = term_id(token)
            vector[key] = max(vector.get(key, 0.0), value)
    return vector


def bm25(tf: Mapping[str, int], length: int, weights: Mapping[Term, float], idf_of, avgdl: float,
         params: BM25Params) -> float:
    """The exact BM25 score of one passage, as :meth:`index.lexical.LexicalIndex.scores` gives it.

    ``tf``: the passage's token counts; ``length``: its token count; ``weights``: the
    question's terms (a synonym set counts the occurrences of any of its tokens);
    ``idf_of``: a term's idf in the corpus now; ``avgdl``: the corpus's mean length now.
    """
    score = 0.0
    for term, weight in weights.items():
        if weight == 0:
            continue
        count = sum(tf.get(token, 0) for token in term) if isinstance(term, tuple) else tf.get(term, 0)
        if count:
            score += weight * (idf_of(term) * _tf_factor(count, length, avgdl, params))
    return score

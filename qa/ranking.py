"""Pure ranking mathematics: fusion of the lexical and dense rankings.

Every function here takes plain numbers and returns plain numbers, so each can
be tested against a hand computation and swapped in an ablation. Fusion works
on aligned arrays (one entry per candidate: its row, BM25 score and cosine),
as numpy does in a tenth of the time of per-candidate Python at 200
candidates; :func:`reciprocal_rank_fusion` over ranked lists stays the
reference for RRF (the naive baseline of the bench uses it).
"""

from __future__ import annotations

import heapq
from enum import Enum
from typing import Collection, Mapping, Sequence

import numpy as np


class FusionMode(str, Enum):
    """How the lexical and dense rankings are combined.

    ``BLEND`` (default): the convex combination plus a share of reciprocal rank
    fusion, so agreement between the two rankings counts as well as their
    scores (best on both evaluation files; see README "Retrieval quality").
    ``CONVEX``: a weighted sum of normalised scores.
    ``RRF``: reciprocal rank fusion, rank-only.
    ``LEXICAL`` / ``DENSE``: one retriever alone, for ablation.
    """

    BLEND = "blend"
    CONVEX = "convex"
    RRF = "rrf"
    LEXICAL = "lexical"
    DENSE = "dense"


RRF_K = 60


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009).

    score(d) = sum over rankings of 1 / (k + rank(d)), rank starting at 1.
    ``k`` = 60 is the paper's constant: it damps the weight of the very top
    ranks so that one retriever's first place cannot outvote agreement lower down.
    """
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, position in enumerate(ranking, start=1):
            fused[position] = fused.get(position, 0.0) + 1.0 / (k + rank)
    return fused


def max_normalise(scores: np.ndarray) -> np.ndarray:
    """Scale non-negative scores so the largest is 1 (theoretical minimum 0).

    Unlike a min-max over the candidates, a score of zero stays zero, so a
    passage the lexical retriever barely found is not stretched up to the top
    of the range just because it was the weakest of the candidates.
    """
    scores = np.maximum(np.asarray(scores, dtype=np.float64), 0.0)
    top = scores.max() if scores.size else 0.0
    return scores / top if top > 0 else np.zeros_like(scores)


def convex_scores(lexical: np.ndarray, dense: np.ndarray, *, dense_weight: float = 0.5,
                  lexical_scale: float | None = None) -> np.ndarray:
    """Weighted sum of normalised scores (Bruch, Gai and Ingber, TOIS 2023), per candidate.

    Lexical BM25 scores are divided by ``lexical_scale`` when given (the most
    the query could score: a theoretical maximum, so a weak best match stays
    weak) and capped at 1, else by the best score among the candidates. Dense
    cosine similarities are used as they are (their scale is already
    meaningful), negative ones as 0. A candidate one retriever did not score
    has 0 for it.
    """
    if not 0.0 <= dense_weight <= 1.0:
        raise ValueError(f"dense_weight must be between 0 and 1, got {dense_weight}")
    lexical = np.asarray(lexical, dtype=np.float64)
    if lexical_scale is not None and lexical_scale > 0:
        lexical_n = np.minimum(np.maximum(lexical, 0.0) / lexical_scale, 1.0)
    else:
        lexical_n = max_normalise(lexical)
    return (1.0 - dense_weight) * lexical_n + dense_weight * np.maximum(np.asarray(dense, dtype=np.float64), 0.0)


def ranks(scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """1-based rank of each candidate, best score first, ties broken by row
    (the order of :func:`rank_positions`)."""
    order = np.lexsort((rows, -np.asarray(scores, dtype=np.float64)))
    out = np.empty(order.size, dtype=np.float64)
    out[order] = np.arange(1, order.size + 1)
    return out


def rrf_scores(lexical: np.ndarray, dense: np.ndarray, rows: np.ndarray, k: int = RRF_K) -> np.ndarray:
    """:func:`reciprocal_rank_fusion` of the lexical ranking (candidates with a
    positive BM25 score only) and the dense ranking, per candidate."""
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    lexical = np.asarray(lexical, dtype=np.float64)
    # BM25 is never negative, so the positive scores rank first and their ranks
    # equal their ranks among the positive ones alone.
    from_lexical = np.where(lexical > 0, 1.0 / (k + ranks(lexical, rows)), 0.0)
    return from_lexical + 1.0 / (k + ranks(dense, rows))


def rank_positions(scores: Mapping[int, float]) -> list[int]:
    """Positions best first; ties broken by position so results are deterministic."""
    # Sorted by position, then stably by score descending (reverse sorts keep the
    # order of equal keys): the same order as a (-score, position) key, without
    # building a tuple per position.
    return sorted(sorted(scores), key=scores.__getitem__, reverse=True)


def diversify(ranked: Sequence[int], group_of, per_group: int = 1, limit: int | None = None) -> list[int]:
    """Reorder a ranking so no group fills the top with near-copies.

    Walks the ranking best first; a position whose group already has
    ``per_group`` earlier picks is deferred, keeping its relative order, to
    after every position that was not deferred. Nothing is dropped. Used so
    the items of one list, each cut with the list's lead-in, do not push
    every other council's clause out of the first results.

    With ``limit``, the walk stops once ``limit`` positions are picked; the
    deferred ones and then the unvisited rest follow. The first ``limit`` are
    the same as without it, and ``group_of`` is called only as far as needed.
    """
    if per_group < 1:
        raise ValueError(f"per_group must be at least 1, got {per_group}")
    seen: dict = {}
    kept: list[int] = []
    deferred: list[int] = []
    for at, position in enumerate(ranked):
        if limit is not None and len(kept) >= limit:
            return kept + deferred + list(ranked[at:])
        group = group_of(position)
        count = seen.get(group, 0)
        (kept if count < per_group else deferred).append(position)
        seen[group] = count + 1
    return kept + deferred


def distinct_head(order: Sequence[int], depth: int, group_of, limit: int) -> list[int]:
    """The first candidates of ``order`` that cover ``depth`` distinct groups
    (``group_of(position)``: a key shared by copies and rewordings of one clause, or
    None for a clause of its own), at most ``limit`` of them.

    A reranker that reads the first ``depth`` candidates reads fewer different
    clauses as a corpus fills with copies of the national models: three parish
    councils' copies of one standing order take three of its places. Counting
    each group once keeps what it reads as the corpus grows (docs/inference.md).
    """
    seen: set = set()
    head: list[int] = []
    for position in order:
        if len(head) == limit:
            break
        group = group_of(position)
        key = ("clause", position) if group is None else group
        if key not in seen:
            if len(seen) == depth:
                break
            seen.add(key)
        head.append(position)
    return head


def readers(head: Sequence[int], group_of, read: Collection[int] = ()) -> dict[int, int]:
    """Each position of ``head`` mapped to the position whose reading it takes: itself when it is
    in ``read`` (read already), else the first of its group in ``read``, else the first of its
    group in ``head`` (``group_of(position)``: a key shared by copies and rewordings of one
    clause, or None for a clause of its own).

    The reranker then reads one wording of each provision and its other wordings in the head
    take that reading: rewordings of one model clause ("the Standards Committee", "the
    Standards Board") score alike, and reading each cost as much as reading another clause
    (docs/inference.md, "Answers as the corpus grows")."""
    keys = {position: ("clause", position) if (group := group_of(position)) is None else group
            for position in head}
    first = {keys[position]: position for position in reversed(head)}
    first.update({keys[position]: position for position in reversed(head) if position in read})
    return {position: position if position in read else first[keys[position]] for position in head}


def fold_copies(ranked: Sequence[tuple[int, float]], copy_of) -> list[tuple[int, float]]:
    """Keep the first of each set of identical copies of one clause (``copy_of(position)``
    gives a key shared by identical copies, or None); later copies are left out, and the
    first names the councils that hold them (``also_in``). A national index then does not
    fill the first page with one clause, and the next answers move up."""
    seen: set = set()
    out = []
    for position, score in ranked:
        key = copy_of(position)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        out.append((position, score))
    return out


def group_ranks(ranked: Sequence[int], group_of, limit: int) -> dict[int, int]:
    """Each position's rank (from 1) as the rank of its group's first member.

    In a :func:`diversify`-ed ranking a list's further items stand behind every
    other clause; read as ranks, a council whose best clause is such an item
    would count as last though its list is near the top. Positions whose
    group's rank is beyond ``limit`` are left out.
    """
    first: dict = {}
    ranks: dict[int, int] = {}
    for rank, position in enumerate(ranked, start=1):
        group_rank = first.setdefault(group_of(position), rank)
        if group_rank <= limit:
            ranks[position] = group_rank
    return ranks


def shared_clause(a: set[str], b: set[str], *, min_overlap: float = 0.8, min_length_ratio: float = 0.5) -> bool:
    """Whether two clauses' word sets are copies of one clause.

    Many protocols descend from one national model and share clauses word for
    word, differing in a name, a number or a trailing sentence: the smaller
    word set must lie mostly (``min_overlap``) inside the larger, and the two be
    of comparable size (``min_length_ratio``). Embedding similarity cannot tell
    this: section headings and formatting move copies' vectors apart (measured
    cosines of 0.71 to 0.96 between copies of the same clause).
    """
    if not a or not b:
        return False
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    if len(small) / len(large) < min_length_ratio:
        return False
    return len(small & large) / len(small) >= min_overlap


def lend_to_copies(scores: Mapping[int, float], words_of, lenders: Mapping[int, float]) -> dict[int, float]:
    """Raise each candidate's score to the best score of any lender that is a copy of it.

    ``lenders`` are passages (with their scores) found anywhere in the corpus;
    ``words_of(position)`` gives a passage's word set. A council whose copy of
    a shared clause happens to embed further from the question than another
    council's copy is judged on the clause, not on its formatting.
    """
    lender_words = {position: words_of(position) for position in lenders}
    out = dict(scores)
    for position, score in scores.items():
        words = words_of(position)
        for lender, lent in lender_words.items():
            if lenders[lender] > out[position] and shared_clause(words, lent):
                out[position] = lenders[lender]
    return out


def blend_scores(convex: np.ndarray, rrf: np.ndarray, *, rrf_weight: float = 0.4, k: int = RRF_K) -> np.ndarray:
    """Convex scores plus ``rrf_weight`` times reciprocal rank fusion scaled to 0..1.

    RRF is divided by its largest possible value for two rankings, 2 / (k + 1),
    so a passage first in both rankings adds exactly ``rrf_weight``.
    """
    if rrf_weight < 0:
        raise ValueError(f"rrf_weight must not be negative, got {rrf_weight}")
    return np.asarray(convex, dtype=np.float64) + rrf_weight * (k + 1) / 2.0 * np.asarray(rrf, dtype=np.float64)


def top_positions(scores: Mapping[int, float], n: int) -> list[int]:
    """The first ``n`` of :func:`rank_positions`, without sorting every candidate."""
    return heapq.nsmallest(n, scores, key=lambda position: (-scores[position], position))


def rerank_scores(fused: np.ndarray, probabilities: np.ndarray, weight: float) -> np.ndarray:
    """``weight`` times the reranker's probability plus ``1 - weight`` times the
    fused score scaled to 0..1 over the same candidates (min-max; all 1 when
    they tie). The two are on different scales, so the fused one is scaled to
    the probabilities' range; the weight was chosen on the validation writers
    (docs/learning.md)."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"rerank weight must be between 0 and 1, got {weight}")
    fused = np.asarray(fused, dtype=np.float64)
    span = float(fused.max() - fused.min()) if fused.size else 0.0
    scaled = (fused - fused.min()) / span if span > 0 else np.ones_like(fused)
    return weight * np.asarray(probabilities, dtype=np.float64) + (1.0 - weight) * scaled

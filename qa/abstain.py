"""Deciding that the documents do not address a question.

A fixed threshold on one retrieval score does not separate answerable from
off-topic questions (dense similarities of the two overlap on this corpus), so
the decision combines several signals, each a pure function of the question,
the corpus statistics and the two rankings:

* ``known_share``: the share of the question's content words (idf-weighted)
  that occur anywhere in the corpus. "How do I renew my parking permit?"
  leans on words no protocol uses.
* ``dense_top``: the best cosine similarity between question and a clause.
* ``lexical_strength``: the best BM25 score as a share of the most the
  question's words could earn (the sum of their idf times (k1+1)), so it is
  comparable across questions of different lengths.
* ``agreement``: whether the lexical and dense retrievers put a common clause
  in their top few; off-topic questions scatter.

The thresholds are chosen on the development questions plus the project's own
off-topic and answerable questions (``eval/questions.jsonl``); see the README
section "Abstention" for the measured figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence


@dataclass(frozen=True)
class AbstentionSignals:
    known_share: float
    dense_top: float
    lexical_strength: float
    agreement: float

    def to_dict(self) -> dict[str, float]:
        return {key: round(value, 4) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class AbstentionPolicy:
    """Thresholds of the abstention decision; see :func:`should_abstain`."""

    min_known_share: float = 0.6
    min_dense_top: float = 0.30
    confident_dense: float = 0.55
    min_lexical_strength: float = 0.15
    min_evidence: float = 0.62

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")


def known_share(idf_of_terms: Sequence[tuple[float, bool]]) -> float:
    """Idf-weighted share of question terms found in the corpus.

    ``idf_of_terms`` holds, per content term, its weight (the idf it would have
    if it occurred once, so unknown words weigh most) and whether it occurs.
    An empty question has share 0.
    """
    total = sum(weight for weight, _ in idf_of_terms)
    if total <= 0:
        return 0.0
    return sum(weight for weight, present in idf_of_terms if present) / total


def agreement(lexical_top: Sequence[int], dense_top: Sequence[int], depth: int = 5) -> float:
    """Share of the dense top ``depth`` that the lexical top ``depth`` also holds."""
    if depth <= 0 or not lexical_top or not dense_top:
        return 0.0
    return len(set(lexical_top[:depth]) & set(dense_top[:depth])) / depth


def evidence(signals: AbstentionSignals) -> float:
    """One number that rises with every sign that the corpus addresses the question."""
    return (0.45 * signals.dense_top + 0.25 * min(signals.lexical_strength * 2.0, 1.0)
            + 0.15 * signals.known_share + 0.15 * signals.agreement)


def should_abstain(signals: AbstentionSignals, policy: AbstentionPolicy = AbstentionPolicy()) -> bool:
    """True when the documents do not address the question.

    Abstain when most of the question's meaning lies in words the corpus never
    uses, or when no clause is even loosely similar; answer when one clause is
    clearly similar; otherwise weigh all signals together.
    """
    if signals.known_share < policy.min_known_share:
        return True
    if signals.dense_top < policy.min_dense_top:
        return True
    if signals.dense_top >= policy.confident_dense and signals.lexical_strength >= policy.min_lexical_strength:
        return False
    return evidence(signals) < policy.min_evidence


def addresses_question(own: AbstentionSignals, overall: AbstentionSignals,
                       policy: AbstentionPolicy = AbstentionPolicy(), *, max_gap: float = 0.12) -> bool:
    """Whether one authority's documents address a question (for comparisons).

    The question as a whole must be answerable; then the authority's own best
    clause must pass the same test, and be not much less similar than the best
    clause anywhere: a silent council's nearest clause is typically far below
    the councils that really address the question.
    """
    if should_abstain(overall, policy):
        return False
    if should_abstain(own, policy):
        return False
    return own.dense_top >= overall.dense_top - max_gap

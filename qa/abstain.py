"""Deciding that the documents do not address a question.

A fixed threshold on one retrieval score does not separate answerable from
off-topic questions (on this corpus the best dense similarity of off-topic
questions reaches 0.57 while answerable ones go as low as 0.43), so the
decision combines signals, each a pure function of the question, the corpus
statistics and the rankings:

* ``coverage``: the idf-weighted share of the question's specific words
  (those in under a tenth of the passages; unknown words weigh most) that
  the best three clauses contain, directly or under another name from the
  vocabulary, or as another derivation of the same word (see
  :class:`StemFamilies`). "How much council tax will I pay?" finds clauses about the
  council, but none about tax.
* ``dense_top``: the best cosine similarity between question and a clause.
* ``lexical_strength``: the best BM25 score as a share of the most the
  question's words could earn (reported, not used in the decision: it did
  not separate the classes in measurement).
* ``agreement``: whether the lexical and dense retrievers put a common clause
  in their top five (reported, likewise).

* ``normative``: whether the question asks what someone may, must or should
  do (``qa/data/question_forms.toml``). Protocols are written in those terms;
  a question of fact about the same people ("How many days of annual leave do
  officers get?") is more often one they do not answer.

The decision, ``dense_top + coverage_weight * coverage >= min_evidence`` with
a floor on ``dense_top`` and a lower ``min_normative_evidence`` for normative
questions, was chosen on the development questions together with the
project's own answerable and off-topic questions (``eval/questions.jsonl``);
the README section "Abstention" gives the figures.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

DEFAULT_QUESTION_FORMS = Path(__file__).parent / "data" / "question_forms.toml"


@dataclass(frozen=True)
class AbstentionSignals:
    coverage: float
    dense_top: float
    lexical_strength: float
    agreement: float
    normative: bool = False

    def to_dict(self) -> dict[str, float | bool]:
        return {key: value if isinstance(value, bool) else round(value, 4)
                for key, value in asdict(self).items()}


@dataclass(frozen=True)
class AbstentionPolicy:
    """Thresholds of the abstention decision; see :func:`should_abstain`.

    ``min_dense_top``: below this best cosine no clause is even loosely related.
    ``coverage_weight`` and ``min_evidence``: answer when
    ``dense_top + coverage_weight * coverage`` reaches ``min_evidence``.
    Raising ``min_evidence`` abstains more often (fewer wrong answers to
    off-topic questions, more refusals of answerable ones).
    ``min_normative_evidence`` takes the place of ``min_evidence`` for a
    question that asks what someone may, must or should do (see
    :func:`is_normative`). It applies to the question as a whole; in a
    comparison each authority still needs ``min_authority_evidence``
    (measured: lowering that too for such questions showed silent councils a
    clause, false coverage 0.06 to 0.14 on the project's questions).
    ``min_authority_evidence`` and ``max_authority_gap``: in a comparison, an
    authority addresses the question when its own evidence reaches the first
    and is within the second of the best authority's (see ``addresses_question``).
    ``max_coverage_gap`` and ``min_clause_similarity``: an authority whose
    coverage is more than the first below the best authority's, and whose best
    clause has a cosine below the second with every clause shown for the best
    authority, does not address the question: it lacks the question's own words
    and says something else (see ``addresses_question``).
    ``same_clause_similarity``, ``min_same_clause_evidence`` and
    ``max_same_clause_gap``: an authority whose best clause has a cosine of at
    least the first with a clause shown for the best authority says the same
    thing in its own words, and addresses the question on evidence of at least
    the second and within the third of the best authority's.
    ``specific_share``: a question word in at least this share of passages is
    too common to count towards coverage.
    """

    min_dense_top: float = 0.30
    coverage_weight: float = 0.25
    min_evidence: float = 0.64
    min_normative_evidence: float = 0.60
    specific_share: float = 0.10
    min_authority_evidence: float = 0.60
    max_authority_gap: float = 0.20
    max_coverage_gap: float = 0.30
    min_clause_similarity: float = 0.55
    same_clause_similarity: float = 0.70
    min_same_clause_evidence: float = 0.50
    max_same_clause_gap: float = 0.25

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")


MIN_SHARED_STEM = 6


class StemFamilies:
    """A clause's tokens, asked whether it holds a word or another derivation of it.

    The Snowball stemmer leaves some derivations of one word apart: "finances"
    and "financial" give ``financ`` and ``financi``, "criticise" and
    "criticism" ``criticis`` and ``critic``, "register" and "registration"
    ``regist`` and ``registr``. For the coverage signal a question token
    counts as present when a clause token equals it or one is a prefix of the
    other and the shorter has at least ``min_shared`` letters. Six keeps out
    the five-letter stems whose longer forms are other words (``offic`` /
    ``offici``, ``press`` / ``pressur``, ``media`` / ``mediat``); measured:
    five and six give the same figures on both question files, seven loses
    "finances" ~ "financial". Only the presence test is loosened; ranking
    (BM25) still matches stems exactly.
    """

    def __init__(self, tokens, min_shared: int = MIN_SHARED_STEM) -> None:
        self.tokens = set(tokens)
        self.min_shared = min_shared
        self._by_head: dict[str, list[str]] = {}
        for token in self.tokens:
            if len(token) >= min_shared:
                self._by_head.setdefault(token[:min_shared], []).append(token)

    def has(self, token: str) -> bool:
        if token in self.tokens:
            return True
        if len(token) < self.min_shared:
            return False
        return any(token.startswith(other) or other.startswith(token)
                   for other in self._by_head.get(token[:self.min_shared], ()))

    def has_any(self, tokens) -> bool:
        return any(self.has(token) for token in tokens)


def weighted_share(terms: Sequence[tuple[float, bool]]) -> float:
    """Weighted share of terms that are present: ``terms`` holds (weight, present).

    Used for coverage with idf weights, so a rare or unknown word counts more
    than a common one. No terms gives 0.
    """
    total = sum(weight for weight, _ in terms)
    if total <= 0:
        return 0.0
    return sum(weight for weight, present in terms if present) / total


def agreement(lexical_top: Sequence[int], dense_top: Sequence[int], depth: int = 5) -> float:
    """Share of the dense top ``depth`` that the lexical top ``depth`` also holds."""
    if depth <= 0 or not lexical_top or not dense_top:
        return 0.0
    return len(set(lexical_top[:depth]) & set(dense_top[:depth])) / depth


def evidence(signals: AbstentionSignals, policy: "AbstentionPolicy | None" = None) -> float:
    """One number that rises with every sign that the corpus addresses the question."""
    policy = policy or AbstentionPolicy()
    return signals.dense_top + policy.coverage_weight * signals.coverage


def should_abstain(signals: AbstentionSignals, policy: AbstentionPolicy = AbstentionPolicy()) -> bool:
    """True when the documents do not address the question."""
    if signals.dense_top < policy.min_dense_top:
        return True
    needed = policy.min_normative_evidence if signals.normative else policy.min_evidence
    return evidence(signals, policy) < needed


class QuestionFormsError(ValueError):
    pass


@lru_cache(maxsize=4)
def _normative_pattern(path: Path = DEFAULT_QUESTION_FORMS) -> re.Pattern:
    """The words of ``path``'s ``normative`` list as one whole-word pattern."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise QuestionFormsError(f"cannot read question forms file {path}: {exc}") from exc
    words = data.get("normative")
    if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
        raise QuestionFormsError(f"{path}: 'normative' must be a list of words or phrases, "
                                 f'for example normative = ["may", "must", "allowed"]')
    phrases = sorted({r"\s+".join(map(re.escape, w.lower().split())) for w in words}, key=len, reverse=True)
    return re.compile(r"(?<![\w'])(?:" + "|".join(phrases) + r")(?![\w'])")


def is_normative(question: str, path: Path = DEFAULT_QUESTION_FORMS) -> bool:
    """Whether a question asks what someone may, must or should do ("Can I...",
    "Am I allowed to...", "Do officers have to..."), by the words of ``path``."""
    return bool(_normative_pattern(Path(path)).search(question.lower().replace("\u2019", "'")))


def addresses_question(own: AbstentionSignals, overall: AbstentionSignals, best: float,
                       policy: AbstentionPolicy = AbstentionPolicy(), *,
                       best_coverage: float | None = None, similarity: float = 1.0) -> bool:
    """Whether one authority's documents address a question (for comparisons).

    ``overall`` are the signals of the question over the whole corpus, ``best``
    the highest evidence of any authority. The question as a whole must be
    answerable; then the authority's own best clauses need evidence of at
    least ``policy.min_authority_evidence`` and within
    ``policy.max_authority_gap`` of the best authority's: a silent council's
    nearest clause is typically far below the councils that really address
    the question.

    ``best_coverage`` is the coverage of the best authority and ``similarity``
    the cosine of this authority's best clause to the nearest clause shown for
    the best authority. A silent council's nearest clause often shares a word
    of the question but not its subject ("land" for a question on registering
    land one owns, answered by a clause on the right to enter council land):
    it lacks words that the best authority's clauses have and says something
    else. Such an authority (coverage more than ``policy.max_coverage_gap``
    below the best's and similarity below ``policy.min_clause_similarity``)
    does not address the question.

    The same similarity works the other way: an authority whose best clause
    says what the best authority's clauses say (cosine of at least
    ``policy.same_clause_similarity``), in words further from the question's,
    needs only ``policy.min_same_clause_evidence``, within
    ``policy.max_same_clause_gap`` of the best. Chosen on the evaluation
    questions' comparison labels (see README "Comparison").
    """
    if should_abstain(overall, policy):
        return False
    if own.dense_top < policy.min_dense_top:
        return False
    own_evidence = evidence(own, policy)
    says_the_same = similarity >= policy.same_clause_similarity
    minimum = policy.min_same_clause_evidence if says_the_same else policy.min_authority_evidence
    gap = policy.max_same_clause_gap if says_the_same else policy.max_authority_gap
    if own_evidence < minimum or best - own_evidence > gap:
        return False
    if best_coverage is not None and best_coverage - own.coverage > policy.max_coverage_gap:
        return similarity >= policy.min_clause_similarity
    return True

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

import math
import re
import tomllib

import numpy as np
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from .trees import CompiledTrees, compile_trees

DEFAULT_QUESTION_FORMS = Path(__file__).parent / "data" / "question_forms.toml"


@dataclass(frozen=True)
class AbstentionSignals:
    coverage: float
    dense_top: float
    lexical_strength: float
    agreement: float
    normative: bool = False
    long: bool = False
    # The reranker's probability for the best clause (0 without a reranker).
    rerank_top: float = 0.0
    # The question's own scope score (:class:`ScopeModel`, a logit; 0 without one).
    scope: float = 0.0
    # The same read from its words (:class:`WordsScope`, a logit; 0 without one).
    words: float = 0.0

    def to_dict(self) -> dict[str, float | bool]:
        return {key: value if isinstance(value, bool) else round(value, 4)
                for key, value in asdict(self).items()}

    def values(self) -> dict[str, float]:
        """The learned abstention's inputs by name (flags as 0 or 1)."""
        return {key: float(value) for key, value in asdict(self).items()}


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
    :func:`is_normative`). It applies to the question as a whole; whether
    each authority addresses it in a comparison is decided by a
    :class:`ComparisonModel` (see :func:`addresses_question`).
    ``max_coverage_gap`` and ``min_clause_similarity``: in a comparison, an
    authority whose coverage is more than the first below the best authority's,
    and whose best clause has a cosine below the second with every clause
    shown for the best authority, does not address the question: it lacks the
    question's own words and says something else (see ``addresses_question``).
    ``specific_share``: a question word in at least this share of passages is
    too common to count towards coverage.
    ``long_question_allowance``: how much less evidence a long question (see
    :func:`is_long`) needs: the situation told before the question adds
    words that no clause holds and moves its encoding away from the clause's.
    ``agreeing_rankings`` and ``agreement_allowance``: how much less evidence
    a question needs when the lexical and dense rankings share at least that
    share of their first clauses (``agreement``): two retrievers that reach
    the same clauses by different routes, the words and the meaning, are
    stronger evidence than either score says ("Can I accept a bottle of wine
    from a contractor?" meets the gifts clauses both ways, at a cosine of 0.41).
    """

    min_dense_top: float = 0.30
    coverage_weight: float = 0.25
    min_evidence: float = 0.64
    min_normative_evidence: float = 0.60
    specific_share: float = 0.10
    max_coverage_gap: float = 0.30
    min_clause_similarity: float = 0.55
    long_question_allowance: float = 0.05
    agreeing_rankings: float = 0.8
    agreement_allowance: float = 0.10

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
    if signals.long:
        needed -= policy.long_question_allowance
    if signals.agreement >= policy.agreeing_rankings:
        needed -= policy.agreement_allowance
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


@lru_cache(maxsize=4)
def _tier_patterns(path: Path = DEFAULT_QUESTION_FORMS) -> dict[str, re.Pattern]:
    """The ``[tiers]`` table of ``path``: one whole-word pattern per tier of council."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise QuestionFormsError(f"cannot read question forms file {path}: {exc}") from exc
    tiers = data.get("tiers")
    out = {}
    for tier in ("local", "principal"):
        words = tiers.get(tier) if isinstance(tiers, dict) else None
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
            raise QuestionFormsError(f"{path}: [tiers] needs a list '{tier}' of words or phrases, "
                                     f'for example {tier} = ["parish council"]')
        phrases = sorted({r"\s+".join(map(re.escape, w.lower().split())) for w in words}, key=len, reverse=True)
        out[tier] = re.compile(r"(?<!\w)(?:" + "|".join(phrases) + r")(?!\w)")  # "council's" names it too
    return out


def question_tier(question: str, path: Path = DEFAULT_QUESTION_FORMS) -> str:
    """"local" when a question names parish, town or community councils (and not principal ones),
    "principal" for the reverse, "" otherwise (see ``[tiers]`` in qa/data/question_forms.toml)."""
    text = question.lower().replace("\u2019", "'")
    named = [tier for tier, pattern in _tier_patterns(Path(path)).items() if pattern.search(text)]
    return named[0] if len(named) == 1 else ""


def tier_match(question_tier: str, council_tier: str) -> float:
    """+1 when the question names the council's tier, -1 the other one, 0 when either is unknown."""
    if not question_tier or not council_tier:
        return 0.0
    return 1.0 if question_tier == council_tier else -1.0


LONG_QUESTION_WORDS = 20


def is_long(question: str, words: int = LONG_QUESTION_WORDS) -> bool:
    """Whether a question runs to ``words`` words or more: most such questions
    tell a situation before they ask ("The chief executive came to brief our
    group last week... Should she be given the chance to check...?")."""
    return len(question.split()) >= words


# -- comparisons: does one authority address the question? -------------------

DEFAULT_COMPARISON_MODEL = Path(__file__).parent / "data" / "comparison_model.toml"
MAX_CORPUS_RANK = 100  # the whole corpus's ranking holds at most this many clauses worth counting
MAX_COPY_RANK = 31  # a council's own candidates are 30 clauses; a copy not among them counts as 31


@dataclass(frozen=True)
class ComparisonFeatures:
    """What is known of one authority's best clauses in a comparison.

    ``evidence``: the authority's own :func:`evidence`; ``gap``: how far it is
    below the best authority's; ``similarity``: the cosine of its best clause
    with the nearest clause shown for the best authority (1.0 for the best
    authority itself), high when it says the same thing in other words;
    ``corpus_rank``: where its best clause stands in the whole corpus's
    ranking (1 is first; clauses further down than :data:`MAX_CORPUS_RANK`
    count as that): a silent council's nearest clause is rarely near the top
    of all; ``lexical_strength``: its best BM25 score as a share of the most
    the question's words could earn; ``coverage_gap``: how far its coverage
    is below the best authority's.

    The learned decision (:class:`BoostedComparison`) reads more:
    ``rerank_top``, ``rerank_second`` and ``rerank_sum``, the reranker's
    probabilities for its first clause, its second, and its first three;
    ``rerank_gap``, how far its first is below the best council's;
    ``shares_leader`` and ``shares_top``, whether its best clause is a copy or
    rewording of a clause the best council shows, or of the whole question's
    first three (evidence shared across councils); ``tier_match``, +1 when the
    question names the council's tier ("our parish council"), -1 the other
    tier, 0 neither; ``question_rerank`` and ``question_scope``, the question's
    own signals over the whole corpus; ``coverage`` and ``dense_top``, its own;
    ``rerank_third``, the reranker's probability for its third clause;
    ``best_rerank``, the best council's first; ``similarity_head``, the highest
    cosine of any of its first three clauses with the best council's shown ones;
    ``shares_leader_head``, whether any of its first three is a copy or
    rewording of a clause the best council shows; ``leader_copy_rank``, where its
    copy or rewording of the best council's first clause stands among its own
    candidates (:data:`MAX_COPY_RANK` when it has none there). None of them
    depends on which other councils are compared beside it, save through the
    best council's clauses (a council compared on its own is decided as among all).
    """

    evidence: float
    gap: float
    similarity: float
    corpus_rank: int
    lexical_strength: float
    coverage_gap: float = 0.0
    # The reranker's probability that the authority's best clause answers (0 without one).
    rerank_top: float = 0.0
    rerank_second: float = 0.0
    rerank_sum: float = 0.0
    rerank_gap: float = 0.0
    shares_leader: bool = False
    shares_top: bool = False
    tier_match: float = 0.0
    question_rerank: float = 0.0
    question_scope: float = 0.0
    coverage: float = 0.0
    dense_top: float = 0.0
    rerank_third: float = 0.0
    best_rerank: float = 0.0
    similarity_head: float = 0.0
    shares_leader_head: bool = False
    leader_copy_rank: int = MAX_COPY_RANK

    def values(self) -> dict[str, float]:
        """The models' inputs by name (the rank enters as its logarithm, flags as 0 or 1)."""
        return {"evidence": self.evidence, "gap": self.gap, "similarity": self.similarity,
                "log_corpus_rank": math.log(min(max(self.corpus_rank, 1), MAX_CORPUS_RANK)),
                "lexical_strength": self.lexical_strength, "rerank_top": self.rerank_top,
                "coverage_gap": self.coverage_gap, "rerank_second": self.rerank_second,
                "rerank_sum": self.rerank_sum, "rerank_gap": self.rerank_gap,
                "shares_leader": float(self.shares_leader), "shares_top": float(self.shares_top),
                "tier_match": self.tier_match, "question_rerank": self.question_rerank,
                "question_scope": self.question_scope, "coverage": self.coverage, "dense_top": self.dense_top,
                "rerank_third": self.rerank_third, "best_rerank": self.best_rerank,
                "similarity_head": self.similarity_head, "shares_leader_head": float(self.shares_leader_head),
                "log_leader_copy_rank": math.log(min(max(self.leader_copy_rank, 1), MAX_COPY_RANK))}


# The logistic decision's inputs (qa/data/comparison_model.toml, fitted on the packaged encoder).
FEATURE_NAMES = ("evidence", "gap", "similarity", "log_corpus_rank", "lexical_strength", "rerank_top")
# The learned decision's inputs (models/comparison.skops): validation writers w06-w07, coverage
# 0.894 and false coverage 0.084 with the first seventeen against 0.878 and 0.095 for the logistic
# decision over FEATURE_NAMES and its rules (docs/learning.md, "Eighth round"); with the last five
# (from rerank_third), h24-h38 in calibration and the threshold set there, 0.903 and 0.085 against
# 0.896 and 0.083 (docs/learning.md, "Fifteenth round").
BOOSTED_FEATURES = FEATURE_NAMES + ("coverage_gap", "rerank_second", "rerank_sum", "rerank_gap", "shares_leader",
                                    "shares_top", "tier_match", "question_rerank", "question_scope", "coverage",
                                    "dense_top", "rerank_third", "best_rerank", "similarity_head", "shares_leader_head",
                                    "log_leader_copy_rank")


class ComparisonModelError(ValueError):
    pass


@dataclass(frozen=True)
class LogisticDecision:
    """A fitted logistic decision: yes when ``intercept + sum(weight * feature)``
    is at least 0 (a probability of at least one half). Subclasses name their
    features (``FEATURES``), what they decide (``WHAT``) and the command that fits them (``FIT``)."""

    FEATURES = ()
    WHAT = "decision"
    FIT = "protocol-qa train"

    intercept: float
    weights: dict[str, float]
    # The fingerprint of the encoder whose scores it was fitted on ("" for any):
    # a decision fitted on one encoder's similarities means nothing on another's.
    encoder: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(self.FEATURES)
        if unknown:
            raise ComparisonModelError(f"unknown {self.WHAT} features {sorted(unknown)}; "
                                       f"known ones are {', '.join(self.FEATURES)}")

    def score_values(self, values: dict[str, float]) -> float:
        """The score of features given by name."""
        return self.intercept + sum(weight * values[name] for name, weight in self.weights.items())

    def to_toml(self, header: str = "") -> str:
        lines = [f"# {line}".rstrip() for line in header.splitlines()]
        if self.encoder:
            lines.append(f'encoder = "{self.encoder}"')
        lines += [f"intercept = {self.intercept:.4f}", "", "[weights]"]
        lines += [f"{name} = {self.weights[name]:.4f}" for name in self.FEATURES if name in self.weights]
        return "\n".join(lines) + "\n"

    @classmethod
    def load(cls, path: Path):
        """The weights from ``path`` (an error names the file and the fix)."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ComparisonModelError(f"cannot read {cls.WHAT} model {path}: {exc}; restore it from the "
                                       f"repository or write it again with '{cls.FIT}'") from exc
        intercept, weights = data.get("intercept"), data.get("weights")
        if not isinstance(intercept, (int, float)) or not isinstance(weights, dict) or not weights or \
                not all(isinstance(w, (int, float)) for w in weights.values()):
            raise ComparisonModelError(f"{path}: needs a number 'intercept' and a [weights] table of numbers, "
                                       f"for example intercept = -2.0 and {cls.FEATURES[0]} = 2.5")
        try:
            return cls(float(intercept), {name: float(w) for name, w in weights.items()},
                       encoder=str(data.get("encoder", "")))
        except ComparisonModelError as exc:
            raise ComparisonModelError(f"{path}: {exc}") from exc


@dataclass(frozen=True)
class ComparisonModel(LogisticDecision):
    """Whether one authority addresses a question in a comparison. Fitted on
    labelled comparisons by ``protocol-qa fit-compare``, kept in ``qa/data/comparison_model.toml``."""

    FEATURES = FEATURE_NAMES
    WHAT = "comparison"
    FIT = "protocol-qa fit-compare"

    # The hand rules of comparison_decision apply before this decision.
    rules = True

    def score(self, features: ComparisonFeatures) -> float:
        return self.score_values(features.values())

    def scores(self, features: Sequence[ComparisonFeatures]) -> list[float]:
        return [self.score(f) for f in features]


ABSTENTION_FEATURES = ("coverage", "dense_top", "lexical_strength", "agreement", "normative", "long", "rerank_top",
                       "scope", "words")
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_ABSTENTION_MODEL = MODELS_DIR / "abstention.toml"


@dataclass(frozen=True)
class AbstentionModel(LogisticDecision):
    """Whether the corpus addresses a question, from its :class:`AbstentionSignals`.
    Fitted by ``protocol-qa fit-abstention`` on writers' answerable and off-topic
    questions, kept in ``qa/data/abstention_model.toml``; it replaces the
    hand-set :class:`AbstentionPolicy` thresholds where that file exists."""

    FEATURES = ABSTENTION_FEATURES
    WHAT = "abstention"
    FIT = "protocol-qa fit-abstention"

    def answers(self, signals: AbstentionSignals) -> bool:
        return self.score_values(signals.values()) >= 0.0


@lru_cache(maxsize=4)
def load_comparison_model(path: Path = DEFAULT_COMPARISON_MODEL) -> ComparisonModel:
    """The comparison decision's weights from ``path`` (an error names the file and the fix)."""
    return ComparisonModel.load(path)


@lru_cache(maxsize=4)
def load_abstention_model(path: Path = DEFAULT_ABSTENTION_MODEL) -> AbstentionModel | None:
    """The learned abstention's weights, or None where no model has been fitted."""
    return AbstentionModel.load(path) if Path(path).exists() else None


SCOPE_MODEL = MODELS_DIR / "scope.npz"


@dataclass(frozen=True)
class ScopeModel:
    """Whether a question is of the kind the documents answer (conduct, protocols,
    meetings) or not (council tax, bins, parking), read from its encoding alone:
    a logistic regression over the encoder's question vector, fitted by
    ``protocol-qa train`` on the train writers' answerable and off-topic
    questions. Its logit is one of the abstention's signals; validation writers:
    AUC 0.953 with the retrieval signals alone, 0.977 with it (docs/learning.md)."""

    weights: np.ndarray
    intercept: float
    encoder: str

    def score(self, vector: np.ndarray) -> float:
        return float(np.dot(self.weights, vector) + self.intercept)

    def save(self, path: Path) -> None:
        np.savez(path, weights=self.weights.astype(np.float32), intercept=np.float32(self.intercept),
                 encoder=np.array(self.encoder))


class WordsScopeError(ValueError):
    pass


@dataclass(frozen=True)
class WordsScope:
    """Whether a question is of the kind the documents answer, read from its words:
    scikit-learn's ``TfidfVectorizer`` (word unigrams and bigrams) and a logistic
    regression's weights over them, fitted by ``protocol-qa train`` on the train
    writers' answerable and off-topic questions and kept in ``models/scope-words.npz``
    (the vocabulary, its idf and the weights: 28,632 terms in 0.4 MB,
    where skops stored the fitted pipeline in 20 MB). Its logit is the abstention's
    ``words`` signal. The vector :class:`ScopeModel` reads a question's meaning; this
    one its words ("council tax", "bins", "my allotment"), where near-miss questions
    differ (docs/learning.md, "Twenty-fourth round")."""

    vectorizer: object = field(repr=False)
    weights: np.ndarray = field(repr=False)
    intercept: float

    def score(self, question: str) -> float:
        return float((self.vectorizer.transform([question]) @ self.weights)[0] + self.intercept)

    def save(self, path: Path) -> None:
        vocabulary = self.vectorizer.vocabulary_
        terms = sorted(vocabulary, key=vocabulary.get)
        with open(path, "wb") as file:  # np.savez would add ".npz" to a name without it
            np.savez_compressed(file, terms=np.array(terms), idf=self.vectorizer.idf_, weights=self.weights,
                                intercept=np.float64(self.intercept),
                                ngram_range=np.array(self.vectorizer.ngram_range),
                                sublinear_tf=np.bool_(self.vectorizer.sublinear_tf))

    @classmethod
    def load(cls, path: Path) -> "WordsScope":
        """The model of ``path``; an error names the file and the fix."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        try:
            with np.load(path, allow_pickle=False) as data:
                vectorizer = TfidfVectorizer(ngram_range=tuple(int(n) for n in data["ngram_range"]),
                                             sublinear_tf=bool(data["sublinear_tf"]),
                                             vocabulary=[str(term) for term in data["terms"]])
                vectorizer.idf_ = data["idf"]
                return cls(vectorizer, data["weights"].astype(np.float64), float(data["intercept"]))
        except Exception as exc:  # numpy raises many kinds for a damaged or foreign file
            raise WordsScopeError(f"cannot read the words scope model {path}: {exc}; restore it from the "
                                  f"repository or write it again with 'protocol-qa train --stage decisions'") from exc


WORDS_SCOPE_MODEL = MODELS_DIR / "scope-words.npz"


@lru_cache(maxsize=4)
def load_words_scope(path: Path = WORDS_SCOPE_MODEL) -> WordsScope | None:
    """The words scope model of ``path``, or None where there is none."""
    return WordsScope.load(path) if Path(path).exists() else None


@lru_cache(maxsize=4)
def load_scope_model(encoder: str, path: Path = SCOPE_MODEL) -> ScopeModel | None:
    """The scope model fitted on ``encoder``'s vectors, or None."""
    if not Path(path).exists():
        return None
    with np.load(path) as data:
        model = ScopeModel(data["weights"].astype(np.float32), float(data["intercept"]), str(data["encoder"]))
    return model if model.encoder == encoder else None


def fitted_abstention_model(encoder: str, path: Path = DEFAULT_ABSTENTION_MODEL) -> AbstentionModel | None:
    """The learned abstention if it was fitted on ``encoder``'s scores, else None
    (the hand-set :class:`AbstentionPolicy` then decides)."""
    model = load_abstention_model(path)
    return model if model is not None and model.encoder in ("", encoder) else None


@dataclass(frozen=True)
class BoostedComparison:
    """Whether one authority addresses a question, learned: gradient-boosted trees
    (scikit-learn's ``HistGradientBoostingClassifier``, balanced classes) over
    :data:`BOOSTED_FEATURES`, fitted by ``protocol-qa train`` (stage ``decisions``
    or ``comparison``) on the calibration writers' labelled comparisons and kept
    in ``models/comparison.skops`` (skops, which loads only the types it is told
    to trust: no pickle). Its score is the log-odds that the council addresses
    the question; it reads the council's own similarity and coverage gap itself,
    so the hand rules of :func:`comparison_decision` do not apply (``rules``).

    On the validation writers w06-w07 it found 0.894 of the addressing councils'
    answers and showed 0.084 of the silent councils a clause, against 0.878 and
    0.095 for the logistic decision with those rules; on the held-out writers h15-h17,
    0.888 and 0.060 against 0.879 and 0.067 (docs/learning.md, "Eighth round"). Since the
    fifteenth round it reads five more features, is fitted on 43 writers and decides at a
    threshold set on them (:attr:`threshold`): 0.903 and 0.085 on w06-w07."""

    classifier: object = field(repr=False)
    features: tuple[str, ...]
    encoder: str = ""
    note: str = ""
    # The log-odds at which a council counts as addressing the question, set on the
    # calibration writers (qa.fit_comparison.threshold_for); 0 in models fitted before it.
    threshold: float = 0.0
    # The trees as arrays (qa.trees): the same log-odds in about 0.6 ms for a comparison's councils
    # against scikit-learn's 3.5 ms idle and tens of ms beside the reranker's threads; None: scikit-learn's.
    trees: CompiledTrees | None = field(default=None, repr=False, compare=False)
    rules = False

    def __post_init__(self) -> None:
        if self.trees is None:
            object.__setattr__(self, "trees", compile_trees(self.classifier))

    def scores(self, features: Sequence[ComparisonFeatures]) -> list[float]:
        """Each council's log-odds of addressing the question less :attr:`threshold` (0 or
        more: it does), all councils in one call."""
        if not features:
            return []
        rows = np.array([[values[name] for name in self.features] for values in (f.values() for f in features)],
                        dtype=float)
        predict = self.trees.decision_function if self.trees is not None else self.classifier.decision_function
        return [float(v) - self.threshold for v in predict(rows)]

    def score(self, features: ComparisonFeatures) -> float:
        return self.scores([features])[0]

    def save(self, path: Path) -> None:
        import skops.io

        skops.io.dump({"classifier": self.classifier, "features": list(self.features), "encoder": self.encoder,
                       "note": self.note, "threshold": self.threshold}, path)

    @classmethod
    def load(cls, path: Path) -> "BoostedComparison":
        """The model of ``path``; an error names the file and the fix."""
        import skops.io

        try:
            untrusted = skops.io.get_untrusted_types(file=path)
            unexpected = [name for name in untrusted if not name.startswith("sklearn.")]
            if unexpected:
                raise ComparisonModelError(f"holds types other than scikit-learn's: {', '.join(unexpected)}")
            data = skops.io.load(path, trusted=untrusted)
            features = tuple(data["features"])
        except ComparisonModelError as exc:
            raise ComparisonModelError(f"{path}: {exc}; write it again with 'protocol-qa train --stage comparison'")
        except Exception as exc:  # skops raises many kinds for a damaged or foreign file
            raise ComparisonModelError(f"cannot read comparison model {path}: {exc}; restore it from the repository "
                                       f"or write it again with 'protocol-qa train --stage comparison'") from exc
        unknown = set(features) - set(BOOSTED_FEATURES)
        if unknown:
            raise ComparisonModelError(f"{path}: unknown comparison features {sorted(unknown)}; write it again "
                                       f"with 'protocol-qa train --stage comparison'")
        return cls(data["classifier"], features, str(data.get("encoder", "")), str(data.get("note", "")),
                   float(data.get("threshold", 0.0)))


BOOSTED_COMPARISON_MODEL = MODELS_DIR / "comparison.skops"


@lru_cache(maxsize=4)
def load_boosted_comparison(path: Path = BOOSTED_COMPARISON_MODEL) -> BoostedComparison:
    return BoostedComparison.load(path)


def fitted_comparison_model(encoder: str, path: Path = BOOSTED_COMPARISON_MODEL) -> ComparisonModel | BoostedComparison:
    """The learned comparison decision fitted on ``encoder``'s scores, else the logistic one
    fitted with the packaged encoder (``qa/data/comparison_model.toml``)."""
    if Path(path).exists():
        model = load_boosted_comparison(path)
        if model.encoder in ("", encoder):
            return model
    return load_comparison_model()


def addresses_question(own: AbstentionSignals, features: ComparisonFeatures,
                       policy: AbstentionPolicy = AbstentionPolicy(),
                       model: "ComparisonModel | BoostedComparison | None" = None) -> bool:
    """Whether one authority's documents address a question (for comparisons),
    decided on the authority's own features. Its
    best clause must be at least loosely related (``policy.min_dense_top``)
    and ``model`` (by default the fitted one) must say yes to its
    :class:`ComparisonFeatures`.

    A silent council's nearest clause often shares a word of the question but
    not its subject ("land" for a question on registering land one owns,
    answered by a clause on the right to enter council land): it lacks words
    that the best authority's clauses have and says something else. Such an
    authority (coverage more than ``policy.max_coverage_gap`` below the best's
    and similarity below ``policy.min_clause_similarity``) does not address
    the question, whatever the model says.

    A fixed threshold on an authority's evidence, within a gap of the best
    authority's, with exceptions for clauses that lack the question's words or
    say the same as the best authority's, was used before; the fitted model
    adds where the clause stands in the whole corpus and its lexical strength.
    On comparison questions written by a second author and not used to fit
    it, it showed 7 of 61 silent councils a clause instead of 19, and covered
    109 of 194 expected councils instead of 114 (README "Comparison").
    """
    return comparison_decision(own, features, policy, model)[0]


def comparison_decision(own: AbstentionSignals, features: ComparisonFeatures,
                        policy: AbstentionPolicy = AbstentionPolicy(),
                        model: "ComparisonModel | BoostedComparison | None" = None,
                        score: float | None = None) -> tuple[bool, str]:
    """:func:`addresses_question` with the reason, in plain words, when the answer is no
    (``score``: the model's score of ``features``, when already computed for every council at once).
    The hand rules apply only before the logistic decision (``model.rules``)."""
    model = model or load_comparison_model()
    if model.rules and own.dense_top < policy.min_dense_top:
        return False, f"its nearest clause is not about this (similarity {own.dense_top:.2f})"
    if model.rules and features.coverage_gap > policy.max_coverage_gap and \
            features.similarity < policy.min_clause_similarity:
        return False, ("its nearest clause lacks the question's subject and says something other than "
                       "the councils that address it")
    score = model.score(features) if score is None else score
    if score >= 0.0:
        return True, ""
    # The probability the model gives, whatever the threshold it is decided at.
    probability = 1.0 / (1.0 + math.exp(-(score + getattr(model, "threshold", 0.0))))
    return False, (f"its nearest clause is not judged to answer the question "
                   f"(probability {probability:.2f}; it ranks {features.corpus_rank} in the whole corpus)")

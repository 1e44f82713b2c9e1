"""Whether a later question is close enough in meaning to a verified one to be offered its ruling.

A verified interpretation rules on one question; a later question should see
it when it asks the same thing in other words (a paraphrase), and not when it
shares most of the words but changes the fact that decides the answer (a £20
gift against a £70 one, an adult son against a wife). Retrieval signals cannot
tell these apart: a near question is, by construction, answered by the same
clause, and the encoder places it closer than a paraphrase
(docs/record.md measures both).

What does separate them is the shape of the difference: a paraphrase shares
the meaning but few words, a near question most words but not all. So the
score is a logistic regression over three features of the pair:

- ``cosine``: the fine-tuned encoder's cosine of the two questions (how close
  in meaning), and its square, so that the score can fall again for questions
  that are nearly the same words (the near question);
- ``overlap``: the Jaccard overlap of their stemmed content words.

Two questions with the same content words (the same question asked again,
whatever the punctuation, small words, framing such as "please" or "could", and
the vocabulary's names of the same people, "cllr" for "councillor") always match, and two that name
different amounts or dates never do. The weights and the threshold are fitted
by ``python -m qa.evaluate_record --fit`` and kept, with the encoder they were
fitted with, in ``qa/data/pipeline.toml`` (``[record_match]``); with any other
encoder the matcher is not used and :meth:`qa.record.Record.matching` falls
back to the clause rule.
"""

from __future__ import annotations

import math
import re
import threading
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .config import PIPELINE_FILE

__all__ = ["MatchSettings", "QuestionMatcher", "load_match_settings", "pair_features", "numbers", "content_stems",
           "same_question"]

_NUMBER = re.compile(r"\d[\d,.]*")
_WORD = re.compile(r"[a-z0-9£]+")
# Words that carry no fact of the question: pronouns, articles, auxiliaries. Negations and
# modal verbs that change an answer ("not", "must", "may") are kept as content.
_FUNCTION_WORDS = frozenset(
    "a an the i me my mine we us our you your he him his she her it its they them their this that these those "
    "of to in on at for from by with as about into is are was were be been being am do does did have has had "
    "and or so if what which who whom whose when where how there here just any some".split())
# The framing of a request, ignored only when deciding that two questions are the same one asked again.
_FRAMING_WORDS = frozenset(
    "please thanks thank hi hello can could would wonder wondering quick query actually really".split())


def numbers(text: str) -> set[str]:
    """Amounts, dates and counts in a question ("£40", "28 days"): two questions naming different
    ones are different questions, whatever their words share."""
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _same_people() -> dict[str, str]:
    """One-word names of the same people in the project's vocabulary (its groups with a ``role``:
    "cllr" and "member" are councillors, "staff" and "employee" officers), each stem to its group's first."""
    from .vocabulary import load_vocabulary

    stem = _stemmer().stemWord
    out: dict[str, str] = {}
    for group in load_vocabulary():
        conditional = {name for name, _word in group.followed_by}
        words = [n for n in group.names if " " not in n and n not in conditional]
        if group.role and group.reword and len(words) > 1:
            for word in words:
                out.setdefault(stem(word), stem(words[0]))
    return out


def content_stems(text: str) -> frozenset[str]:
    """The stemmed content words of a question (function words dropped): the overlap feature's words."""
    stem = _stemmer().stemWord
    return frozenset(stem(w) for w in _WORD.findall(text.lower()) if w not in _FUNCTION_WORDS)


def same_question(first: str, second: str) -> bool:
    """Whether two questions have the same content words once the framing of a request ("please",
    "could", "thanks") is set aside and names of the same people ("cllr", "member") are made one:
    the same question asked again, which the overlap feature alone would read as a near question."""
    same = _same_people()

    def words(text: str) -> frozenset[str]:
        kept = " ".join(w for w in _WORD.findall(text.lower()) if w not in _FRAMING_WORDS)
        return frozenset(same.get(s, s) for s in content_stems(kept))

    return words(first) == words(second)


def pair_features(cosine: float, first: str, second: str) -> tuple[float, float, float]:
    """``(cosine, cosine², overlap)`` for two questions whose encoder cosine is ``cosine``."""
    a, b = content_stems(first), content_stems(second)
    overlap = len(a & b) / len(a | b) if a | b else 1.0
    return (cosine, cosine * cosine, overlap)


@dataclass(frozen=True)
class MatchSettings:
    """The fitted matcher: logistic weights over :func:`pair_features`, an intercept, the
    threshold on its probability, and the fingerprint of the encoder it was fitted with."""

    weights: tuple[float, float, float]
    intercept: float
    threshold: float
    encoder: str

    def __post_init__(self) -> None:
        if len(self.weights) != 3:
            raise ValueError(f"record_match.weights must have 3 numbers (cosine, cosine squared, overlap), "
                             f"got {len(self.weights)}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"record_match.threshold must be between 0 and 1, got {self.threshold}")

    def probability(self, features: Sequence[float]) -> float:
        z = self.intercept + sum(w * f for w, f in zip(self.weights, features))
        return 1.0 / (1.0 + math.exp(-z))


def load_match_settings(path: Path = PIPELINE_FILE) -> MatchSettings | None:
    """The ``[record_match]`` table of ``path``, or None when it has none (never fitted)."""
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("record_match")
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} cannot be read ({exc}); restore the file from the repository") from exc
    if not table:
        return None
    try:
        return MatchSettings(tuple(float(w) for w in table["weights"]), float(table["intercept"]),
                             float(table["threshold"]), str(table["encoder"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: [record_match] lacks or mistypes {exc}; run "
                         "'python -m qa.evaluate_record --fit' to write it again") from exc


class QuestionMatcher:
    """Scores a question against verified questions with one encoder; thread-safe.

    The verified questions' vectors are kept (they change only when one is
    verified), so a question costs one encoding however many interpretations
    there are.
    """

    def __init__(self, embedder, settings: MatchSettings) -> None:
        if embedder.fingerprint != settings.encoder:
            raise ValueError(f"the record matcher was fitted with encoder {settings.encoder}, not "
                             f"{embedder.fingerprint}; run 'python -m qa.evaluate_record --fit'")
        self.embedder = embedder
        self.settings = settings
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_embedder(cls, embedder, path: Path = PIPELINE_FILE) -> "QuestionMatcher | None":
        """The matcher when ``path`` has one fitted with ``embedder``'s weights, else None."""
        settings = load_match_settings(path)
        if settings is None or embedder is None or embedder.fingerprint != settings.encoder:
            return None
        return cls(embedder, settings)

    def _vector(self, questions: Sequence[str]) -> list[np.ndarray]:
        with self._lock:
            missing = [q for q in dict.fromkeys(questions) if q not in self._vectors]
        if missing:
            encoded = self.embedder.encode(missing)
            with self._lock:
                self._vectors.update(zip(missing, np.asarray(encoded, dtype=np.float32)))
        with self._lock:
            return [self._vectors[q] for q in questions]

    def scores(self, question: str, verified: Sequence[str]) -> list[float]:
        """The probability that ``question`` asks what each of ``verified`` asked."""
        if not verified:
            return []
        asked = np.asarray(self.embedder.encode([question]), dtype=np.float32)[0]
        asked_numbers = numbers(question)
        out = []
        for text, vector in zip(verified, self._vector(list(verified))):
            recorded_numbers = numbers(text)
            if asked_numbers and recorded_numbers and asked_numbers != recorded_numbers:
                out.append(0.0)
            elif same_question(question, text):
                out.append(1.0)
            else:
                out.append(self.settings.probability(pair_features(float(asked @ vector), question, text)))
        return out

    def matches(self, question: str, verified: Sequence[str]) -> list[bool]:
        return [score >= self.settings.threshold for score in self.scores(question, verified)]

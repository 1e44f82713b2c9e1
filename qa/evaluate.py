"""Scoring question files with the metrics of the evaluation README.

A result *matches* an expectation when its authority equals the expectation's
(ignoring case) and its normalised text contains the expectation's normalised
``contains``. Normalisation: Unicode NFKC, lower case, curly quotes to straight,
every run of characters other than a-z, 0-9 and £ replaced by one space, trimmed.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_NON_WORD = re.compile(r"[^a-z0-9£]+")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().translate(_QUOTES)
    return _NON_WORD.sub(" ", text).strip()


@dataclass(frozen=True)
class Expectation:
    authority: str
    contains: str


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    kind: str                      # single | multi | none
    expect: tuple[Expectation, ...]
    silent: tuple[str, ...] = ()


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a question file; a malformed line is an error naming the line."""
    questions = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            questions.append(EvalQuestion(
                id=str(raw["id"]), question=raw["question"], kind=raw["kind"],
                expect=tuple(Expectation(e["authority"], e["contains"]) for e in raw.get("expect", [])),
                silent=tuple(raw.get("silent", []) or []),
            ))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}, line {number}: not a valid question ({exc}); "
                             "see the format in the evaluation README") from exc
    return questions


def matches(result: dict, expectation: Expectation) -> bool:
    """The result is the expected council's clause, or names it among the councils holding the
    same clause word for word (``also_in``: the words shown are then that council's words)."""
    authorities = {result["authority"].lower()} | {c["authority"].lower() for c in result.get("also_in") or ()
                                                     if c.get("likeness") == "identical"}
    return (expectation.authority.lower() in authorities
            and normalise(expectation.contains) in normalise(result["text"]))


def first_match_rank(results: Sequence[dict], expect: Sequence[Expectation], depth: int = 10) -> int | None:
    for result in results[:depth]:
        if any(matches(result, e) for e in expect):
            return result["rank"]
    return None


@dataclass
class Scores:
    success_at_1: float = 0.0
    success_at_5: float = 0.0
    mrr_at_10: float = 0.0
    abstention_accuracy: float = 0.0
    false_abstention: float = 0.0
    answerable: int = 0
    off_topic: int = 0
    misses: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def score_answers(questions: Sequence[EvalQuestion], answers: Iterable[dict]) -> Scores:
    """Score ``ask`` answers (JSON objects of the contract), one per question, in order."""
    scores = Scores()
    s1 = s5 = rr = abstained_none = false_abstain = 0.0
    for question, answer in zip(questions, answers, strict=True):
        if question.kind == "none":
            scores.off_topic += 1
            if not answer["answered"]:
                abstained_none += 1
            else:
                scores.misses.append(f"{question.id}: answered an off-topic question")
            continue
        scores.answerable += 1
        if not answer["answered"]:
            false_abstain += 1
            scores.misses.append(f"{question.id}: abstained on an answerable question")
            continue
        rank = first_match_rank(answer["results"], question.expect)
        if rank is None:
            scores.misses.append(f"{question.id}: no match in the top 10")
            continue
        s1 += rank <= 1
        s5 += rank <= 5
        rr += 1.0 / rank
        if rank > 5:
            scores.misses.append(f"{question.id}: first match at rank {rank}")
    if scores.answerable:
        scores.success_at_1 = s1 / scores.answerable
        scores.success_at_5 = s5 / scores.answerable
        scores.mrr_at_10 = rr / scores.answerable
        scores.false_abstention = false_abstain / scores.answerable
    if scores.off_topic:
        scores.abstention_accuracy = abstained_none / scores.off_topic
    return scores


@dataclass
class CompareScores:
    coverage: float = 0.0
    false_coverage: float = 0.0
    expected: int = 0
    silent: int = 0
    misses: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def score_comparisons(questions: Sequence[EvalQuestion], comparisons: Iterable[dict]) -> CompareScores:
    """Coverage over ``multi`` questions' expected authorities; false coverage over ``silent`` ones."""
    scores = CompareScores()
    covered = shown_silent = 0
    for question, comparison in zip(questions, comparisons, strict=True):
        entries = {entry["authority"].lower(): entry for entry in comparison["authorities"]}
        if question.kind == "multi":
            for authority in dict.fromkeys(e.authority for e in question.expect):
                scores.expected += 1
                entry = entries.get(authority.lower())
                own = [e for e in question.expect if e.authority.lower() == authority.lower()]
                if entry and entry["found"] and any(matches(r, e) for r in entry["results"] for e in own):
                    covered += 1
                else:
                    scores.misses.append(f"{question.id}: {authority} not covered")
        for authority in question.silent:
            scores.silent += 1
            entry = entries.get(authority.lower())
            if entry and entry["found"]:
                shown_silent += 1
                scores.misses.append(f"{question.id}: silent {authority} shown as found")
    scores.coverage = covered / scores.expected if scores.expected else 0.0
    scores.false_coverage = shown_silent / scores.silent if scores.silent else 0.0
    return scores

"""Fitting the abstention decision on writers' answerable and off-topic questions.

Each question gives one example: its :class:`~qa.abstain.AbstentionSignals`
over the whole corpus, and whether it is answerable (``kind`` other than
``none``). A logistic regression with balanced class weights is fitted on
them and written to ``qa/data/abstention_model.toml``, where
:class:`~qa.answer.Answerer` reads it in place of the hand-set thresholds.

The examples must come from questions the encoder was not trained on (the
``calibration`` writers): on its own training questions a fine-tuned encoder
is more confident than it will be on new ones, and a decision fitted there
would abstain too readily.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .abstain import ABSTENTION_FEATURES, AbstentionModel, ScopeModel, WordsScope
from .answer import Answerer, clean_question
from .evaluate import EvalQuestion

DEFAULT_C = 1.0  # inverse regularisation strength


@dataclass(frozen=True)
class WordsScopeSettings:
    """How :func:`fit_words_scope` reads and weighs a question's words. Chosen in the
    twenty-fourth round (docs/learning.md) among logistic regressions over the vector
    (C 0.3-10), a 256-unit MLP over it, and this, by validation false abstention at equal
    off-topic abstention, with the abstention refitted on the calibration writers."""

    ngram_range: tuple[int, int] = (1, 2)  # words and pairs of words ("council tax", "my shares")
    min_df: int = 2  # a word or pair in one question only says nothing general
    c: float = 3.0  # inverse regularisation strength


@dataclass(frozen=True)
class Example:
    question: str  # the question's id
    features: dict[str, float]
    answerable: bool


def labelled_examples(answerer: Answerer, questions: Iterable[EvalQuestion]) -> list[Example]:
    """One example per question: its signals over the whole corpus."""
    examples = []
    for question in questions:
        text, problem = clean_question(question.question)
        if problem:
            raise ValueError(f"question {question.id}: {problem}")
        query = answerer.prepare(text)
        ranked, lexical, dense = answerer.ranked(query)
        signals = answerer.signals(query, lexical, dense, ranked)
        examples.append(Example(question.id, signals.values(), question.kind != "none"))
    return examples


def fit(examples: Sequence[Example], c: float = DEFAULT_C, *, encoder: str = "") -> AbstentionModel:
    """A logistic regression over :data:`~qa.abstain.ABSTENTION_FEATURES`."""
    counts = Counter(e.answerable for e in examples)
    if counts[True] == 0 or counts[False] == 0:
        raise ValueError("fitting abstention needs answerable and off-topic ('none') questions")
    from sklearn.linear_model import LogisticRegression

    x = np.array([[e.features[name] for name in ABSTENTION_FEATURES] for e in examples], dtype=float)
    y = np.array([e.answerable for e in examples], dtype=int)
    regression = LogisticRegression(C=c, class_weight="balanced", max_iter=10_000).fit(x, y)
    return AbstentionModel(float(regression.intercept_[0]),
                           {name: float(w) for name, w in zip(ABSTENTION_FEATURES, regression.coef_[0])},
                           encoder=encoder)


def summary(model: AbstentionModel, examples: Sequence[Example]) -> dict[str, float | int]:
    """How the model decides ``examples``: share of answerable ones answered and of off-topic ones refused."""
    answerable = [model.score_values(e.features) >= 0 for e in examples if e.answerable]
    off_topic = [model.score_values(e.features) < 0 for e in examples if not e.answerable]
    return {"answerable": len(answerable), "off_topic": len(off_topic),
            "false_abstention": 1 - sum(answerable) / len(answerable) if answerable else 0.0,
            "abstention_accuracy": sum(off_topic) / len(off_topic) if off_topic else 0.0}


def write_model(model: AbstentionModel, path: Path, sources: Sequence[str], c: float,
                fitted: dict[str, float | int]) -> None:
    header = (
        "The abstention decision (qa.answer.Answerer.abstains): a question is answered when\n"
        "intercept + the weighted sum of its signals is at least 0.\n"
        f"Written by 'protocol-qa fit-abstention' from the writers {', '.join(sources)}\n"
        f"({fitted['answerable']} answerable and {fitted['off_topic']} off-topic questions, C = {c}).\n"
        f"On those questions: false abstention {fitted['false_abstention']:.3f}, "
        f"off-topic abstention {fitted['abstention_accuracy']:.3f}.")
    Path(path).write_text(model.to_toml(header), encoding="utf-8")


def fit_scope(encoder, questions: Sequence[EvalQuestion], c: float = DEFAULT_C) -> ScopeModel:
    """A logistic regression over ``encoder``'s vectors of ``questions``: answerable or off-topic."""
    from sklearn.linear_model import LogisticRegression

    labels = np.array([q.kind != "none" for q in questions], dtype=int)
    if labels.min() == labels.max():
        raise ValueError("fitting the scope model needs answerable and off-topic ('none') questions")
    vectors = encoder.encode([q.question for q in questions], batch_size=64)
    regression = LogisticRegression(C=c, class_weight="balanced", max_iter=10_000).fit(vectors, labels)
    return ScopeModel(regression.coef_[0].astype(np.float32), float(regression.intercept_[0]), encoder.fingerprint)


def fit_words_scope(questions: Sequence[EvalQuestion], settings: WordsScopeSettings = WordsScopeSettings()) -> WordsScope:
    """TF-IDF and a logistic regression over ``questions``' words: answerable or off-topic."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    labels = np.array([q.kind != "none" for q in questions], dtype=int)
    if labels.min() == labels.max():
        raise ValueError("fitting the words scope model needs answerable and off-topic ('none') questions")
    vectorizer = TfidfVectorizer(ngram_range=settings.ngram_range, min_df=settings.min_df, sublinear_tf=True)
    features = vectorizer.fit_transform([q.question for q in questions])
    regression = LogisticRegression(C=settings.c, class_weight="balanced", max_iter=10_000).fit(features, labels)
    return WordsScope(vectorizer, regression.coef_[0].astype(np.float64), float(regression.intercept_[0]))

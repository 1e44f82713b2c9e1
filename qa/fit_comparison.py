"""Fitting the comparison decision on labelled comparisons.

Every question of an evaluation file that names councils expected to address
it (``expect``) or known to be silent (``silent``) gives one labelled example
per such council: its :class:`~qa.abstain.ComparisonFeatures` in a comparison,
and whether it addresses the question. Two decisions are fitted on them, both
with balanced class weights (addressing and silent councils count alike, whichever
are the fewer): the learned one, gradient-boosted trees over
:data:`~qa.abstain.BOOSTED_FEATURES` (:func:`fit_boosted`, written to
``models/comparison.skops`` by ``protocol-qa train``), and the logistic one over
:data:`~qa.abstain.FEATURE_NAMES` that serves any other encoder (:func:`fit`,
``qa/data/comparison_model.toml``, ``protocol-qa fit-compare``). Predictions
grouped by question (ten folds) say how a decision does on questions it was not
fitted on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .abstain import BOOSTED_FEATURES, FEATURE_NAMES, BoostedComparison, ComparisonModel
from .answer import Answerer, clean_question
from .compare import authority_order, authority_runs
from .evaluate import EvalQuestion

DEFAULT_C = 1.0  # inverse regularisation strength; measured over 0.3 to 3 (README "Comparison")
# The learned decision's trees (scikit-learn HistGradientBoostingClassifier): chosen on the validation
# writers w06-w07 among 300 to 600 rounds, learning rates 0.03 and 0.05, leaves of at least 20 to 100
# examples, depth 4 or free (coverage 0.888 to 0.895 at false coverage 0.08 over 23 features, these
# 0.8925); over the 17 shipped features, coverage 0.894 and false coverage 0.084 at its own
# threshold (docs/learning.md, "Eighth round"). Without early stopping: with it, a tenth of the
# examples held out at random made the seed move validation coverage by 0.004 (0.8969 to 0.9008
# over seeds 0-4; docs/learning.md, "Fifteenth round").
BOOSTED = {"max_iter": 300, "learning_rate": 0.05, "min_samples_leaf": 100, "early_stopping": False}
# The share of silent councils the decision may show a clause, out of fold on the calibration writers.
# 0.0749 from the fifteenth round (what the seventeen features gave at even odds there) to the twenty-second.
# Held-out false coverage ran above validation's while coverage ran well above its target, so the twenty-third
# round took, by a rule written first, the smallest of 0.0749, 0.065 and 0.055 keeping the validation writers'
# coverage at least 0.915: per council of w06, w07 and h54-h56, coverage 0.945 / 0.938 / 0.928 and false
# coverage 0.078 / 0.069 / 0.059 (docs/learning.md, "Twenty-third round").
SILENT_FOUND = 0.055
SEED = 0
HELD_OUT_FOLDS = 10  # the held-out report's folds, by question


@dataclass(frozen=True)
class Example:
    question: str  # the question's id
    authority: str
    features: dict[str, float]
    addresses: bool


def labelled_examples(answerer: Answerer, questions: Iterable[EvalQuestion]) -> list[Example]:
    """One example per council that a question expects or lists as silent."""
    order = authority_order(answerer)
    examples = []
    for question in questions:
        expected = {e.authority.lower() for e in question.expect}
        silent = {name.lower() for name in question.silent}
        if not expected and not silent:
            continue
        text, problem = clean_question(question.question)
        if problem:
            raise ValueError(f"question {question.id}: {problem}")
        runs = authority_runs(answerer, answerer.prepare(text), order)
        for run, features in zip(runs.runs, runs.features):
            name = run.name.lower()
            if name in expected or name in silent:
                examples.append(Example(question.id, run.name, features.values(), name in expected))
    return examples


def _matrix(examples: Sequence[Example], names: Sequence[str] = FEATURE_NAMES) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[e.features[name] for name in names] for e in examples], dtype=float)
    y = np.array([e.addresses for e in examples], dtype=int)
    return x, y


def fit(examples: Sequence[Example], c: float = DEFAULT_C, *, encoder: str = "") -> ComparisonModel:
    """A logistic regression over :data:`~qa.abstain.FEATURE_NAMES`."""
    counts = Counter(e.addresses for e in examples)
    if counts[True] == 0 or counts[False] == 0:
        raise ValueError("fitting needs councils that address questions and councils that are silent: "
                         "add 'silent' lists to the question file")
    from sklearn.linear_model import LogisticRegression

    x, y = _matrix(examples)
    regression = LogisticRegression(C=c, class_weight="balanced", max_iter=10_000).fit(x, y)
    return ComparisonModel(float(regression.intercept_[0]),
                           {name: float(w) for name, w in zip(FEATURE_NAMES, regression.coef_[0])},
                           encoder=encoder)


def fit_boosted(examples: Sequence[Example], *, encoder: str = "", seed: int = SEED,
                threshold: float = 0.0) -> BoostedComparison:
    """Gradient-boosted trees over :data:`~qa.abstain.BOOSTED_FEATURES`, silent and addressing
    councils weighted equally (as the logistic decision's balanced classes), deciding at
    ``threshold`` log-odds (see :func:`threshold_for`)."""
    counts = Counter(e.addresses for e in examples)
    if counts[True] == 0 or counts[False] == 0:
        raise ValueError("fitting needs councils that address questions and councils that are silent: "
                         "add 'silent' lists to the question file")
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = _matrix(examples, BOOSTED_FEATURES)
    classifier = HistGradientBoostingClassifier(class_weight="balanced", random_state=seed, **BOOSTED).fit(x, y)
    return BoostedComparison(classifier, BOOSTED_FEATURES, encoder=encoder, threshold=threshold)


def _question_folds(examples: Sequence[Example], folds: int):
    """Train and test rows of ``folds`` groups of questions (all of one question's councils in one group)."""
    from sklearn.model_selection import GroupKFold

    groups = [e.question for e in examples]
    return GroupKFold(n_splits=min(folds, len(set(groups)))).split(np.zeros(len(examples)), groups=groups)


def held_out_scores(examples: Sequence[Example], folds: int = HELD_OUT_FOLDS) -> list[float]:
    """Each example's log-odds from trees fitted on other questions' examples (questions dealt
    into ``folds`` groups, as :func:`held_out_decisions`)."""
    scores = [0.0] * len(examples)
    for train_rows, test_rows in _question_folds(examples, folds):
        model = fit_boosted([examples[i] for i in train_rows])
        x, _ = _matrix([examples[i] for i in test_rows], model.features)
        for i, score in zip(test_rows, model.classifier.decision_function(x)):
            scores[i] = float(score)
    return scores


def threshold_for(examples: Sequence[Example], scores: Sequence[float], silent_found: float = SILENT_FOUND) -> float:
    """The lowest log-odds at which at most ``silent_found`` of the silent councils among
    ``examples`` would be shown a clause, by their held-out ``scores``."""
    silent = np.sort(np.array([s for e, s in zip(examples, scores) if not e.addresses], dtype=float))[::-1]
    if len(silent) == 0:
        raise ValueError("setting the threshold needs councils known to be silent: add 'silent' lists")
    allowed = int(np.floor(silent_found * len(silent)))  # silent councils that may score at or above it
    if allowed >= len(silent):
        return float(silent[-1])
    # Just above the first silent score that must fall below it.
    return float(np.nextafter(silent[allowed], np.inf))


def held_out_decisions(examples: Sequence[Example], c: float = DEFAULT_C, folds: int = HELD_OUT_FOLDS,
                       *, boosted: bool = False) -> list[bool]:
    """Each example decided by a model fitted on other questions' examples.

    Questions are dealt into ``folds`` groups (all of one question's councils in one
    group) and each group is decided by a model fitted on the rest; with fewer
    questions than folds this is leave-one-question-out. A fit per question made
    the report quadratic: about 20 minutes at 3,000 questions. The trees
    (``boosted``) decide at even odds.
    """
    if boosted:
        return [score >= 0.0 for score in held_out_scores(examples, folds)]
    decisions: list[bool] = [False] * len(examples)
    for train_rows, test_rows in _question_folds(examples, folds):
        model = fit([examples[i] for i in train_rows], c)
        for i in test_rows:
            decisions[i] = model.score_values(examples[i].features) >= 0.0
    return decisions


def summary(examples: Sequence[Example], decisions: Sequence[bool]) -> dict[str, float | int]:
    """Share of addressing councils decided so, and of silent councils decided otherwise."""
    addressing = [d for e, d in zip(examples, decisions) if e.addresses]
    silent = [d for e, d in zip(examples, decisions) if not e.addresses]
    return {"addressing": len(addressing), "silent": len(silent),
            "found_when_addressing": sum(addressing) / len(addressing) if addressing else 0.0,
            "found_when_silent": sum(silent) / len(silent) if silent else 0.0}


def write_model(model: ComparisonModel, path: Path, sources: Sequence[Path], c: float,
                held_out: dict[str, float | int]) -> None:
    header = (
        "The comparison decision (qa.abstain.addresses_question): an authority addresses\n"
        "a question when intercept + the weighted sum of its features is at least 0.\n"
        f"Written by 'protocol-qa fit-compare' from {', '.join(p.name for p in sources)}\n"
        f"({held_out['addressing']} addressing and {held_out['silent']} silent councils, C = {c}).\n"
        "Fitted without the question (ten folds by question), the decision found "
        f"{held_out['found_when_addressing']:.3f} of the addressing councils\n"
        f"and {held_out['found_when_silent']:.3f} of the silent ones.")
    Path(path).write_text(model.to_toml(header), encoding="utf-8")


def write_boosted(model: BoostedComparison, path: Path, sources: Sequence[str], held_out: dict[str, float | int]) -> None:
    """Save ``model`` with a note of what it was fitted on and how it did without each question."""
    note = (f"Fitted by 'protocol-qa train' on {', '.join(sources)} ({held_out['addressing']} addressing and "
            f"{held_out['silent']} silent councils); deciding at {model.threshold:+.4f} log-odds, fitted without the "
            f"question (ten folds by question) it found "
            f"{held_out['found_when_addressing']:.3f} of the addressing councils and "
            f"{held_out['found_when_silent']:.3f} of the silent ones.")
    BoostedComparison(model.classifier, model.features, model.encoder, note, model.threshold).save(path)

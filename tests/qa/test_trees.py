"""The comparison decision's trees walked as arrays give scikit-learn's log-odds to the last bit."""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from qa.abstain import BOOSTED_COMPARISON_MODEL, load_boosted_comparison
from qa.trees import compile_trees
from tests.qa.test_boosted_comparison import features_of, made_up_examples


def rows_with_gaps(n, width, seed):
    """Rows on several scales, with some values missing (NaN) and some repeated exactly."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, width)) * rng.choice([0.01, 1.0, 100.0], size=(1, width))
    x[:, 0] = rng.integers(0, 3, size=n)  # a column of few values: rows land exactly on thresholds
    x[rng.random(x.shape) < 0.05] = np.nan
    return x


def test_trees_fitted_on_missing_values_score_exactly_as_scikit_learn():
    x = rows_with_gaps(3000, 6, seed=1)
    y = (np.nan_to_num(x[:, 1], nan=0.7) + 0.3 * x[:, 0] > 0.9) ^ np.isnan(x[:, 2])
    classifier = HistGradientBoostingClassifier(max_iter=60, random_state=0, early_stopping=False).fit(x, y)
    trees = compile_trees(classifier)
    assert trees is not None
    sample = rows_with_gaps(2000, 6, seed=2)
    assert np.array_equal(trees.decision_function(sample), classifier.decision_function(sample))
    assert np.array_equal(trees.decision_function(sample[:1]), classifier.decision_function(sample[:1]))


@pytest.mark.skipif(not BOOSTED_COMPARISON_MODEL.exists(), reason="no shipped comparison model")
def test_the_shipped_decision_scores_exactly_as_scikit_learn():
    model = load_boosted_comparison()
    assert model.trees is not None
    sample = rows_with_gaps(2000, len(model.features), seed=3)
    expected = model.classifier.decision_function(sample)
    assert np.array_equal(model.trees.decision_function(sample), expected)
    # The decision's own scores (a comparison's councils) are those log-odds less its threshold.
    features = [features_of(e.features) for e in made_up_examples(n=20, seed=9)]
    rows = np.array([[f.values()[name] for name in model.features] for f in features])
    assert model.scores(features) == list(model.classifier.decision_function(rows) - model.threshold)


def test_models_it_cannot_read_are_left_to_scikit_learn():
    rng = np.random.default_rng(4)
    x = rng.random((300, 3))
    three_classes = HistGradientBoostingClassifier(max_iter=5).fit(x, rng.integers(0, 3, size=300))
    assert compile_trees(three_classes) is None
    kinds = rng.integers(0, 4, size=300)
    categorical = HistGradientBoostingClassifier(max_iter=5, categorical_features=[0]).fit(
        np.column_stack([kinds, x[:, 1:]]), np.isin(kinds, [1, 3]))
    assert compile_trees(categorical) is None
    assert compile_trees(object()) is None

"""A fitted gradient-boosted trees classifier read as arrays: every tree walked at once.

scikit-learn's ``HistGradientBoostingClassifier.decision_function`` walks its 300 trees one call
each, each call a parallel loop over the rows: about 3.5 ms for a comparison's few councils on an
idle 2-core machine, and several times that inside a comparison, whose reranker leaves its own
threads spinning (docs/performance.md, "sixteenth round"). The comparison decision reads a handful
of rows at a time, so this module walks all trees together, level by level, in a few NumPy
operations, and adds their values in scikit-learn's order: the same log-odds to the last bit
(tests/qa/test_trees.py checks it on the shipped model and on trees fitted with missing values).

Only what the comparison decision uses is supported: binary classification, numeric features (no
categorical splits). :func:`compile_trees` returns None for anything else, and the caller keeps
scikit-learn's own prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CompiledTrees:
    """Every tree's nodes in flat arrays, tree after tree (a node's children are flat indices;
    a leaf is its own left and right child, so walking on from it stays there)."""

    roots: np.ndarray  # int64 (trees,): each tree's first node
    feature: np.ndarray  # int64: the feature a node splits on
    threshold: np.ndarray  # float64: rows at or below it go left
    missing_left: np.ndarray  # bool: a missing value (NaN) goes left
    left: np.ndarray  # int64
    right: np.ndarray
    value: np.ndarray  # float64: a leaf's value
    baseline: float  # the log-odds every prediction starts from
    depth: int  # the deepest leaf's depth: steps enough to reach any leaf

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """The log-odds of each row of ``x`` (rows, features), as scikit-learn computes them."""
        x = np.asarray(x, dtype=np.float64)
        width = x.shape[1]
        cells = x.ravel()
        row_start = (np.arange(x.shape[0]) * width)[None, :]
        node = np.repeat(self.roots[:, None], x.shape[0], axis=1)
        missing = bool(np.isnan(cells).any())
        for _ in range(self.depth):
            values = cells.take(row_start + self.feature.take(node))
            go_left = values <= self.threshold.take(node)
            if missing:
                go_left = np.where(np.isnan(values), self.missing_left.take(node), go_left)
            node = np.where(go_left, self.left.take(node), self.right.take(node))
        # scikit-learn adds tree after tree to the baseline; cumsum adds in that order too.
        leaves = self.value.take(node)
        totals = np.cumsum(np.vstack([np.full((1, x.shape[0]), self.baseline), leaves]), axis=0)
        return totals[-1]


def compile_trees(classifier) -> CompiledTrees | None:
    """The fitted ``HistGradientBoostingClassifier``'s trees as :class:`CompiledTrees`, or None
    when it has categorical splits or more than one tree an iteration (more than two classes)."""
    predictors = getattr(classifier, "_predictors", None)
    baseline = np.asarray(getattr(classifier, "_baseline_prediction", np.zeros(0))).reshape(-1)
    if not predictors or baseline.size != 1 or any(len(iteration) != 1 for iteration in predictors):
        return None
    nodes = [iteration[0].nodes for iteration in predictors]
    if any(n["is_categorical"].any() for n in nodes):
        return None
    sizes = np.array([len(n) for n in nodes], dtype=np.int64)
    roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    flat = np.concatenate(nodes)
    offset = np.repeat(roots, sizes)
    leaf = flat["is_leaf"].astype(bool)
    own = np.arange(len(flat), dtype=np.int64)
    left = np.where(leaf, own, flat["left"].astype(np.int64) + offset)
    right = np.where(leaf, own, flat["right"].astype(np.int64) + offset)
    depth = int(flat["depth"].max())
    return CompiledTrees(roots, flat["feature_idx"].astype(np.int64), flat["num_threshold"].astype(np.float64),
                         flat["missing_go_to_left"].astype(bool), left, right, flat["value"].astype(np.float64),
                         float(baseline[0]), depth)

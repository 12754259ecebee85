"""PairInfluence's count-product sums against the dense pairs x rows influence they stand for."""

import numpy as np
from scipy import sparse

from audit.metrics.pair_influence import PairInfluence


def _example(seed: int = 3) -> PairInfluence:
    """40 pairs, 3 groups (bases) at 2 thresholds; a pair may have trials in several groups."""
    rng = np.random.default_rng(seed)
    n_pairs, n_groups, n_thresholds = 40, 3, 2
    trials = rng.integers(0, 4, size=(n_pairs, n_groups)) * (rng.random((n_pairs, n_groups)) < 0.6)
    base = np.tile(np.arange(n_groups), n_thresholds)
    errors = rng.binomial(trials[:, base], np.repeat([0.3, 0.1], n_groups))
    totals = trials.sum(axis=0)[base].astype(np.float64)
    rate = errors.sum(axis=0) / totals
    keys = np.sort(rng.choice(10_000, size=n_pairs, replace=False))
    return PairInfluence.from_counts(keys, sparse.csr_matrix(errors), sparse.csr_matrix(trials),
                                     base, rate, 1.0 / totals)


def test_cubes_of_rows_equal_the_dense_sum_over_pairs():
    pairs = _example()
    assert 0 < pairs.erred.size < pairs.keys.size  # both paths: pairs with and without errors
    np.testing.assert_allclose(pairs.cubes(), np.sum(pairs.dense() ** 3, axis=0), rtol=1e-12)


def test_combined_rows_cubes_and_products_equal_the_dense_combination():
    """Combinations reading one, two and three groups, and a row across thresholds."""
    pairs = _example()
    weights = np.zeros((6, 5))
    weights[0, 0] = 1.0                               # one group
    weights[0, 1], weights[1, 1] = 2.0, -0.5          # two groups (a difference, a log ratio)
    weights[3, 2], weights[4, 2], weights[5, 2] = 1.0, -1.0, 0.25  # three groups
    weights[1, 3], weights[4, 3] = 1.0, -1.0          # one group at two thresholds
    combined = pairs.combine(weights)
    dense = pairs.dense() @ weights
    np.testing.assert_allclose(combined.dense(), dense, rtol=1e-12)
    np.testing.assert_allclose(combined.cubes(), np.sum(dense**3, axis=0), rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(combined.cross(pairs), dense.T @ pairs.dense(), rtol=1e-12,
                               atol=1e-18)
    np.testing.assert_allclose(combined.diagonal(combined), np.sum(dense**2, axis=0),
                               rtol=1e-12, atol=1e-18)
    picked = combined.columns(np.array([1, 2]))
    np.testing.assert_allclose(picked.cubes(), np.sum(dense[:, 1:3] ** 3, axis=0), rtol=1e-12)

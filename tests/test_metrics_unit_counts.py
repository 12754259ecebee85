"""Unordered subject-pair codes against numpy's own unique."""

from __future__ import annotations

import numpy as np
import pytest

from audit.metrics.unit_counts import PAIR_BASE, unordered_pairs


@pytest.mark.parametrize(("n", "subjects"), [(0, 3), (1, 3), (50, 2), (5000, 40), (20000, 3000)])
def test_unordered_pairs_equal_numpy_unique(n, subjects):
    rng = np.random.default_rng(n)
    a = rng.integers(0, subjects, n).astype(np.int32)
    b = rng.integers(0, subjects, n).astype(np.int32)
    keys, inverse = unordered_pairs(a, b)
    want_keys, want_inverse = np.unique(
        np.minimum(a, b).astype(np.int64) * PAIR_BASE + np.maximum(a, b), return_inverse=True)
    np.testing.assert_array_equal(keys, want_keys)
    np.testing.assert_array_equal(inverse, want_inverse.ravel())


def test_unordered_pairs_name_both_orientations_once():
    keys, inverse = unordered_pairs(np.array([4, 1, 1, 2]), np.array([1, 4, 2, 1]))
    assert keys.tolist() == [1 * PAIR_BASE + 2, 1 * PAIR_BASE + 4]
    assert inverse.tolist() == [1, 1, 0, 0]


def test_unordered_pairs_fall_back_when_codes_do_not_pack():
    a = np.array([0, 3_000_000_000 // 2], dtype=np.int64)  # n * n needs more than 63 - 1 bits
    b = np.array([2_000_000_000, 5], dtype=np.int64)
    keys, inverse = unordered_pairs(a, b)
    assert keys.tolist() == [0 * PAIR_BASE + 2_000_000_000, 5 * PAIR_BASE + 1_500_000_000]
    assert inverse.tolist() == [0, 1]

"""Subject pairs sorted once: codes and order against numpy's unique, trial tables against
scipy's COO construction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from audit.metrics.subject_pairs import PAIR_BASE, _sort_kind, subject_pairs


def _inverse(pairs) -> np.ndarray:
    """Each trial's position among the sorted pairs, read from the pairs' order and starts."""
    out = np.empty(pairs.order.size, dtype=np.int64)
    out[pairs.order] = np.repeat(np.arange(pairs.keys.size), np.diff(pairs.starts))
    return out


@pytest.mark.parametrize(("n", "subjects"), [(0, 3), (1, 3), (50, 2), (5000, 40), (20000, 3000)])
def test_pairs_equal_numpy_unique(n, subjects):
    rng = np.random.default_rng(n)
    a = rng.integers(0, subjects, n).astype(np.int32)
    b = rng.integers(0, subjects, n).astype(np.int32)
    pairs = subject_pairs(a, b)
    want_keys, want_inverse = np.unique(
        np.minimum(a, b).astype(np.int64) * PAIR_BASE + np.maximum(a, b), return_inverse=True)
    np.testing.assert_array_equal(pairs.keys, want_keys)
    np.testing.assert_array_equal(_inverse(pairs), want_inverse.ravel())
    # Trials of one pair are listed in trial order.
    assert all(np.all(np.diff(pairs.order[s:e]) > 0)
               for s, e in zip(pairs.starts[:-1], pairs.starts[1:], strict=True))


def test_pairs_name_both_orientations_once():
    pairs = subject_pairs(np.array([4, 1, 1, 2]), np.array([1, 4, 2, 1]))
    assert pairs.keys.tolist() == [1 * PAIR_BASE + 2, 1 * PAIR_BASE + 4]
    assert _inverse(pairs).tolist() == [1, 1, 0, 0]


def _trials(n: int, subjects: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, subjects, n).astype(np.int32),
            rng.integers(0, subjects, n).astype(np.int32))


@pytest.mark.parametrize(("n", "subjects", "n_groups"),
                         [(0, 3, 2), (1, 3, 1), (60, 4, 3), (500, 30, 5), (3000, 400, 1),
                          (3000, 2000, 7)])
def test_trial_table_equals_the_coo_construction(n, subjects, n_groups):
    """Pairs met once, several times in one group, and in several groups."""
    a, b = _trials(n, subjects, seed=n + subjects)
    group = np.random.default_rng(n).integers(0, n_groups, n)
    pairs = subject_pairs(a, b)
    keys, inverse = np.unique(np.minimum(a, b).astype(np.int64) * PAIR_BASE + np.maximum(a, b),
                              return_inverse=True)
    want = sparse.csr_matrix((np.ones(n, dtype=np.int32), (inverse.ravel(), group)),
                             shape=(keys.size, n_groups))
    got = pairs.trials(group, n_groups)
    np.testing.assert_array_equal(pairs.keys, keys)
    np.testing.assert_array_equal(_inverse(pairs), inverse.ravel())
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    assert got.has_canonical_format and got.dtype == np.int32


def test_positions_name_each_trials_pair_in_either_orientation():
    pairs = subject_pairs(np.array([4, 1, 1, 2, 7]), np.array([1, 4, 2, 1, 0]))
    assert pairs.keys.tolist() == [7, PAIR_BASE + 2, PAIR_BASE + 4]
    assert pairs.positions(np.array([4, 0, 1, 3])).tolist() == [0, 2, 2, 1]


def test_wide_codes_sort_by_argsort():
    a = np.array([0, 3_000_000_000 // 2, 0], dtype=np.int64)  # n * n needs more than 62 bits
    b = np.array([2_000_000_000, 5, 2_000_000_000], dtype=np.int64)
    pairs = subject_pairs(a, b)
    assert pairs.keys.tolist() == [2_000_000_000, 5 * PAIR_BASE + 1_500_000_000]
    assert _inverse(pairs).tolist() == [0, 1, 0]
    assert pairs.trials(np.array([1, 0, 1]), 2).toarray().tolist() == [[0, 2], [1, 0]]


def test_a_pair_table_cannot_rewrite_the_row_pointers_it_shares():
    pairs = subject_pairs(np.array([0, 1, 0]), np.array([1, 0, 2]))
    table = pairs.trials(np.array([0, 1, 1]), 2)
    assert table.indptr is pairs.starts  # shared by every breakdown's table, not copied
    with pytest.raises(ValueError, match="read-only"):
        table.indptr[0] = 1


@pytest.mark.parametrize("ordered", [True, False])
def test_pairs_in_log_order_or_shuffled_give_the_same_codes(ordered):
    """Trials written pair by pair (ascending runs: merged) and shuffled (quicksort): the pairs
    against numpy's unique either way."""
    rng = np.random.default_rng(5)
    low = rng.integers(0, 290, 4000).astype(np.int32)
    high = (low + rng.integers(0, 5, 4000)).astype(np.int32)  # pairs met several times too
    written = np.argsort(low * 300 + high, kind="stable") if ordered else np.arange(low.size)
    low, high = low[written], high[written]
    swap = rng.random(low.size) < 0.5  # either orientation
    a, b = np.where(swap, high, low), np.where(swap, low, high)
    codes = (np.minimum(a, b).astype(np.int64) * 300 + np.maximum(a, b)) << 12 | np.arange(a.size)
    assert _sort_kind(codes) == ("stable" if ordered else "quicksort")
    pairs = subject_pairs(a, b)
    want_keys, want_inverse = np.unique(
        np.minimum(a, b).astype(np.int64) * PAIR_BASE + np.maximum(a, b), return_inverse=True)
    np.testing.assert_array_equal(pairs.keys, want_keys)
    np.testing.assert_array_equal(_inverse(pairs), want_inverse.ravel())

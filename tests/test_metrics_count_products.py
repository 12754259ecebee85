"""Count products and erred pairs of PairInfluence against dense computations."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from audit.metrics.pair_influence import PairInfluence, count_products, own_products


def _count_table(rng: np.random.Generator, n_pairs: int, n_bases: int) -> sparse.csr_matrix:
    counts = rng.integers(0, 4, size=(n_pairs, n_bases)) * (rng.random((n_pairs, n_bases)) < 0.4)
    return sparse.csr_matrix((np.minimum(counts, 1) if rng.random() < 0.5 else counts).astype(
        np.int32))


def test_count_products_equal_the_dense_products():
    """A table with itself (and with a copy sharing its arrays), and two different tables,
    with counts of 1 only and with larger counts."""
    rng = np.random.default_rng(11)
    for _ in range(60):
        a, b = _count_table(rng, 50, 4), _count_table(rng, 50, 3)
        same = sparse.csr_matrix((a.data, a.indices, a.indptr), shape=a.shape)
        for power in (1, 2):
            own = (a.toarray().astype(np.float64) ** power).T @ a.toarray()
            np.testing.assert_array_equal(count_products(a, a, power=power), own)
            np.testing.assert_array_equal(count_products(a, same, power=power), own)
            np.testing.assert_array_equal(own_products(a, (1, 2))[power - 1], own)
            np.testing.assert_array_equal(count_products(a, b, power=power),
                                          (a.toarray() ** power).T @ b.toarray())


def test_from_counts_keeps_the_rows_of_pairs_with_an_error():
    rng = np.random.default_rng(4)
    errors = sparse.coo_matrix((np.ones(30), (rng.integers(0, 40, 30), rng.integers(0, 3, 30))),
                               shape=(40, 3))  # repeated coordinates are summed
    pairs = PairInfluence.from_counts(np.arange(40), errors, sparse.csr_matrix((40, 1)),
                                      np.zeros(3, dtype=int), np.zeros(3), np.ones(3))
    dense = errors.toarray()
    np.testing.assert_array_equal(pairs.erred, np.flatnonzero(dense.any(axis=1)))
    np.testing.assert_array_equal(pairs.errors.toarray(), dense[pairs.erred])


def test_own_products_sum_a_column_repeated_within_a_row_first():
    """A table not in canonical form (column 0 twice in row 0): as the dense product."""
    table = sparse.csr_matrix((np.array([1, 1, 2], np.int32), np.array([0, 0, 1]),
                               np.array([0, 2, 3])), shape=(2, 2))
    dense = table.toarray().astype(np.float64)  # scipy sums the repeats when densifying
    for power, found in zip((1, 2), own_products(table, (1, 2)), strict=True):
        np.testing.assert_array_equal(found, (dense ** power).T @ dense)


def test_a_grouping_beside_its_overall_table_has_the_gram_of_the_products():
    """An overall pair table (each pair's trials in one column) beside a grouping's on the same
    pairs: the Gram matrix read from the grouping's own products equals the dense product,
    either way round; a table that is not the totals goes through count_products."""
    from audit.metrics.pair_influence import totals_of

    rng = np.random.default_rng(11)
    dense = rng.integers(0, 3, size=(400, 4)) * (rng.random((400, 4)) < 0.5)
    dense[dense.sum(axis=1) == 0, 0] = 1  # every pair has a trial
    by_group = sparse.csr_matrix(dense.astype(np.int32))
    overall = sparse.csr_matrix(dense.sum(axis=1, keepdims=True).astype(np.int32))
    assert totals_of(by_group, overall) and not totals_of(overall, by_group)
    shifted = overall.copy()
    shifted.data[7] += 1
    assert not totals_of(by_group, shifted)

    def influence(trials):
        n_bases = trials.shape[1]
        return PairInfluence(np.arange(400), np.zeros(0, dtype=np.int64),
                             sparse.csr_matrix((0, n_bases)), trials, np.arange(n_bases),
                             np.ones(n_bases), np.ones(n_bases))

    grouped, whole, other = influence(by_group), influence(overall), influence(shifted)
    np.testing.assert_array_equal(grouped._gram(whole), dense.T @ dense.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(whole._gram(grouped), dense.sum(axis=1, keepdims=True).T @ dense)
    np.testing.assert_array_equal(grouped._gram(other), dense.T @ shifted.toarray())

"""Cluster-robust variance: one-way against statsmodels, dyadic against a brute-force loop."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import sparse

from audit.metrics.variance import (
    ClusterCounts,
    correlation,
    design_effects,
    influence,
    rate_variance,
)


def _one_way(errors, trials):
    return ClusterCounts(
        sparse.csr_matrix(np.asarray(errors, float)), sparse.csr_matrix(np.asarray(trials, float))
    )


def test_one_way_equals_statsmodels_cluster_robust_mean():
    # Per-trial 0/1 outcomes of 6 subjects; the rate is the OLS intercept, whose
    # cluster-robust variance (one regressor) is exactly the sandwich used here.
    rng = np.random.default_rng(1)
    trials = rng.integers(1, 30, size=6)
    errors = rng.binomial(trials, 0.3)
    y = np.concatenate([[1] * e + [0] * (n - e) for e, n in zip(errors, trials, strict=True)])
    subject = np.repeat(np.arange(6), trials)
    fit = sm.OLS(y, np.ones_like(y, dtype=float)).fit(
        cov_type="cluster", cov_kwds={"groups": subject}
    )
    p, v = rate_variance(_one_way(errors[:, None], trials[:, None]))
    assert p[0] == pytest.approx(fit.params[0])
    assert v[0] == pytest.approx(fit.cov_params()[0, 0], rel=1e-10)


def _dyadic(pairs, subjects=None):
    """ClusterCounts of one rate from (subject a, subject b, errors, trials) per pair cell."""
    subjects = subjects or 1 + max(max(a, b) for a, b, _, _ in pairs)
    e_s, n_s = np.zeros((subjects, 1)), np.zeros((subjects, 1))
    keys = sorted({(min(a, b), max(a, b)) for a, b, _, _ in pairs})
    e_p, n_p = np.zeros((len(keys), 1)), np.zeros((len(keys), 1))
    for a, b, e, n in pairs:
        for s in (a, b):
            e_s[s] += e
            n_s[s] += n
        k = keys.index((min(a, b), max(a, b)))
        e_p[k] += e
        n_p[k] += n
    as_csr = sparse.csr_matrix
    pair_keys = np.array([a * subjects + b for a, b in keys])
    return ClusterCounts(as_csr(e_s), as_csr(n_s), as_csr(e_p), as_csr(n_p), pair_keys)


def test_dyadic_equals_the_definition_as_a_loop_over_pairs_of_trials():
    # Trials between 5 people, some pairs seen twice and in both orientations.
    trials = [(0, 1, 1), (1, 0, 0), (0, 2, 0), (1, 2, 1), (2, 3, 0), (3, 4, 1), (0, 4, 0),
              (1, 3, 0), (1, 3, 1), (2, 4, 0)]
    p = sum(t[2] for t in trials) / len(trials)
    u = [e - p for _, _, e in trials]
    # Sum of u_d u_d' over every two trials sharing at least one person (Aronow et al. 2015).
    total = sum(
        u[i] * u[j]
        for i, j in itertools.product(range(len(trials)), repeat=2)
        if {trials[i][0], trials[i][1]} & {trials[j][0], trials[j][1]}
    )
    g = 5
    expected = g / (g - 1) * total / len(trials) ** 2
    rates, variance = rate_variance(_dyadic([(a, b, e, 1) for a, b, e in trials]))
    assert rates[0] == pytest.approx(p)
    assert variance[0] == pytest.approx(expected, rel=1e-12)


def test_dyadic_exceeds_probe_only_when_people_recur_on_both_sides():
    # Person 0 is in every false match, as probe and as reference.
    pairs = [(0, k, 1, 1) for k in range(1, 6)] + [(k, 0, 1, 1) for k in range(6, 11)]
    pairs += [(a, b, 0, 1) for a in range(1, 11) for b in range(1, 11) if a < b]
    dyadic = rate_variance(_dyadic(pairs))[1][0]
    probe_errors = np.zeros((11, 1))
    probe_trials = np.zeros((11, 1))
    for a, _, e, n in pairs:
        probe_errors[a] += e
        probe_trials[a] += n
    probe_only = rate_variance(_one_way(probe_errors, probe_trials))[1][0]
    assert dyadic > 1.5 * probe_only


def test_correlation_of_groups_sharing_no_subject_is_zero():
    errors = np.array([[2, 0], [1, 0], [0, 3], [0, 1]], float)
    trials = np.array([[10, 0], [10, 0], [0, 10], [0, 10]], float)
    np.testing.assert_array_equal(correlation(_one_way(errors, trials)), np.eye(2))


def test_design_effect_floor_and_undefined():
    effects = design_effects(np.array([0.1, 0.0, 0.5]), np.array([0.0001, 0.0, -1.0]),
                             np.array([100, 100, 100]))
    np.testing.assert_allclose(effects, [1.0, 1.0, 1.0])
    assert design_effects(np.array([0.1]), np.array([0.0009 * 4]), np.array([100]))[0] == (
        pytest.approx(4.0))


def _corrected_example():
    """A dyadic rate minus half another's, and the combined influence built by hand.

    Returns the corrected influence, its own influence, and the hand-built
    subject sums and pair sums, pairs matched on their keys.
    """
    pairs = [(0, 1, 1, 2), (1, 2, 0, 2), (2, 3, 1, 2), (0, 3, 0, 2)]
    _, spread = influence(_dyadic(pairs, subjects=6))
    _, other = influence(_dyadic([(0, 1, 2, 3), (4, 5, 0, 3)], subjects=6))
    combined = spread.minus(other, np.array([0]), np.array([0.5]))
    subjects = spread.subjects.toarray()[:, 0] - 0.5 * other.subjects.toarray()[:, 0]

    def by_key(keys, matrix):
        return dict(zip(keys.tolist(), matrix.dense()[:, 0], strict=True))

    mine, theirs = by_key(spread.pairs.keys, spread.pairs), by_key(other.pairs.keys, other.pairs)
    keys = sorted(set(mine) | set(theirs))
    pair = np.array([mine.get(k, 0.0) - 0.5 * theirs.get(k, 0.0) for k in keys])
    return combined, spread, subjects, pair


def test_minus_subtracts_a_scaled_column_per_subject_and_per_pair():
    """Against the explicit combined influence, pairs matched on their keys by hand."""
    combined, spread, subjects, pair = _corrected_example()
    assert len(pair) == 5  # pair {0,1} occurs in both: one combined row
    g = spread.clusters[0]
    expected = g / (g - 1) * (np.sum(subjects**2) - np.sum(pair**2))
    np.testing.assert_allclose(combined.variance()[0], expected, rtol=1e-12)
    assert combined.variance()[0] != spread.variance()[0]


def test_third_cumulants_and_effective_clusters_use_the_corrected_subject_sums():
    """Cubes of the corrected subject sums less the row's own pairs' cubes (as documented)."""
    combined, spread, subjects, _ = _corrected_example()
    own = spread.pairs.dense()[:, 0]
    g = spread.clusters[0]
    np.testing.assert_allclose(combined.third_cumulants()[0],
                               g / (g - 1) * (np.sum(subjects**3) - np.sum(own**3)), rtol=1e-12)
    np.testing.assert_allclose(combined.effective_clusters()[0],
                               np.sum(subjects**2) ** 2 / np.sum(subjects**4), rtol=1e-12)


def test_combine_is_the_influence_of_the_difference_of_two_rates():
    """Two FMR groups sharing people: the difference's variance from its own sums by hand."""
    first = [(0, 1, 1, 2), (1, 2, 0, 2), (2, 3, 1, 2), (0, 3, 0, 2)]
    second = [(1, 0, 0, 3), (3, 1, 1, 2), (4, 2, 0, 2)]
    a, b = (_dyadic(rows, subjects=5) for rows in (first, second))
    keys = np.union1d(a.pair_keys, b.pair_keys)

    def widen(counts, matrix):  # one pair row per key of the union
        out = np.zeros((keys.size, 1))
        out[np.searchsorted(keys, counts.pair_keys)] = matrix.toarray()
        return sparse.csr_matrix(out)

    both = ClusterCounts(sparse.hstack([a.errors, b.errors]).tocsr(),
                         sparse.hstack([a.trials, b.trials]).tocsr(),
                         sparse.hstack([widen(a, a.pair_errors), widen(b, b.pair_errors)]).tocsr(),
                         sparse.hstack([widen(a, a.pair_trials), widen(b, b.pair_trials)]).tocsr(),
                         keys)
    rates, spread = influence(both)
    difference = spread.combine(np.array([[1.0], [-1.0]]))
    subjects = (spread.subjects[:, [0]] - spread.subjects[:, [1]]).toarray()[:, 0]
    pairs = spread.pairs.dense()[:, 0] - spread.pairs.dense()[:, 1]
    g = max(spread.clusters)
    np.testing.assert_allclose(difference.variance()[0],
                               g / (g - 1) * (subjects @ subjects - pairs @ pairs), rtol=1e-12)
    products = spread.products()  # the same from the two rates' products
    np.testing.assert_allclose(
        difference.variance()[0],
        g / (g - 1) * (products[0, 0] + products[1, 1] - 2 * products[0, 1]), rtol=1e-12)
    np.testing.assert_allclose(difference.third_cumulants()[0],
                               g / (g - 1) * (np.sum(subjects**3) - np.sum(pairs**3)), rtol=1e-12)

def test_power_sums_by_column_equal_by_row_and_a_loop_in_row_order():
    """The same sums, bit for bit, from a matrix by row, by column (unsorted rows within
    its columns too) and a loop adding each column's entries in row order."""
    from audit.metrics.skewness import power_sums

    rng = np.random.default_rng(4)
    dense = rng.normal(size=(300, 7)) * (rng.random((300, 7)) < 0.4)
    want = {p: np.zeros(7) for p in (2, 3, 4)}
    for j in range(7):
        for i in range(300):
            x = dense[i, j]
            if x != 0.0:
                want[2][j] += x * x
                want[3][j] += x * x * x
                want[4][j] += (x * x) * (x * x)
    by_column = sparse.csc_matrix(dense)
    shuffled = sparse.csc_matrix(by_column, copy=True)
    for j in range(7):  # the rows of each column out of order
        part = slice(shuffled.indptr[j], shuffled.indptr[j + 1])
        turn = rng.permutation(part.stop - part.start)
        shuffled.indices[part] = shuffled.indices[part][turn]
        shuffled.data[part] = shuffled.data[part][turn]
    shuffled.has_sorted_indices = False
    for matrix in (sparse.csr_matrix(dense), by_column, shuffled):
        for p, got in zip((2, 3, 4), power_sums(matrix, 2, 3, 4), strict=True):
            np.testing.assert_array_equal(got, want[p])


@pytest.mark.parametrize("filled", [True, False])
def test_subject_moments_dense_or_sparse_equal_a_loop_in_row_order(monkeypatch, filled):
    """The corrected subject sums' moments, bit for bit, whether formed dense (in blocks
    narrower than the table, the last one narrower still) or sparse: against a loop
    forming each corrected entry (references in order) and adding each column in row
    order."""
    from audit.metrics import skewness
    from audit.metrics.variance import Correction, Influence

    rng = np.random.default_rng(7)
    n, m = 50, 7

    def sparse_normal(rows, columns, share):
        return rng.normal(size=(rows, columns)) * (rng.random((rows, columns)) < share)

    subjects = sparse_normal(n, m, 0.3)
    references = [sparse_normal(n, 1, 0.8), sparse_normal(n, 2, 0.8)]
    picks = [rng.normal(size=(1, m)) * (rng.random((1, m)) < 0.7), rng.normal(size=(2, m))]
    corrections = tuple(Correction(Influence(sparse.csr_matrix(r), None, np.ones(r.shape[1])), p)
                        for r, p in zip(references, picks, strict=True))
    spread = Influence(sparse.csr_matrix(subjects), None, np.full(m, 40.0), corrections)
    want = {p: np.zeros(m) for p in (2, 3, 4)}
    for j in range(m):
        for i in range(n):
            x = subjects[i, j]
            for r, p in zip(references, picks, strict=True):
                shared = r[i, 0] * p[0, j]
                for k in range(1, r.shape[1]):
                    shared += r[i, k] * p[k, j]
                x -= shared
            want[2][j] += x * x
            want[3][j] += x * x * x
            want[4][j] += (x * x) * (x * x)
    monkeypatch.setattr(skewness, "DENSE_SHARE", 0.0 if filled else 2.0)
    monkeypatch.setattr(skewness, "DENSE_BLOCK", 3 * n)  # blocks of 3, 3 and 1 rows
    got = skewness.subject_moments(spread)
    for p in (2, 3, 4):
        np.testing.assert_array_equal(got[p], want[p])

"""Wilson, the zero-error bound and the subject-clustered bootstrap."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import sparse, stats

from audit.metrics.intervals import (
    BAD_CONFIDENCE,
    BAD_COUNTS,
    BAD_N_BOOT,
    bootstrap_rates,
    percentile_interval,
    wilson_interval,
    zero_error_upper_bound,
)


@pytest.mark.parametrize(
    ("errors", "trials"), [(0, 1), (0, 50), (1, 4), (7, 7), (13, 1000), (500, 1000)]
)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_equals_scipy(errors, trials, confidence):
    low, high = wilson_interval(errors, trials, confidence=confidence)
    expected = stats.binomtest(errors, trials).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_wilson_is_vectorised_and_nan_without_trials():
    low, high = wilson_interval(np.array([1, 0]), np.array([4, 0]))
    assert low[0] == pytest.approx(0.04558726) and np.isnan(low[1]) and np.isnan(high[1])


@pytest.mark.parametrize("trials", [1, 10, 300, 10_000])
def test_zero_error_bound_is_exact(trials):
    bound = zero_error_upper_bound(trials)
    assert (1 - bound) ** trials == pytest.approx(0.05)  # P(no error | rate = bound) = alpha
    expected = stats.binomtest(0, trials, alternative="less").proportion_ci(confidence_level=0.95)
    assert bound == pytest.approx(expected.high)


def test_zero_error_bound_is_about_three_over_n():
    assert zero_error_upper_bound(3000) == pytest.approx(3 / 3000, rel=0.01)
    assert np.isnan(zero_error_upper_bound(0))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: wilson_interval(3, 2), BAD_COUNTS),
        (lambda: wilson_interval(-1, 2), BAD_COUNTS),
        (lambda: wilson_interval(1, 2, confidence=1.0), BAD_CONFIDENCE.format(confidence=1.0)),
        (lambda: bootstrap_rates([[1]], [[2]], n_boot=0, seed=0), BAD_N_BOOT.format(n_boot=0)),
        (lambda: bootstrap_rates([[3]], [[2]], n_boot=5, seed=0), BAD_COUNTS),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_bootstrap_same_seed_same_output_and_other_seed_differs():
    rng = np.random.default_rng(0)
    trials = rng.integers(1, 20, (50, 3))
    errors = rng.binomial(trials, 0.2)
    first = bootstrap_rates(errors, trials, n_boot=300, seed=11)
    again = bootstrap_rates(sparse.csr_matrix(errors), trials, n_boot=300, seed=11)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, bootstrap_rates(errors, trials, n_boot=300, seed=12))


def test_bootstrap_equals_a_loop_that_resamples_subjects():
    rng = np.random.default_rng(1)
    trials = rng.integers(0, 6, (12, 2))
    errors = rng.binomial(trials, 0.3)
    replicates = bootstrap_rates(errors, trials, n_boot=40, seed=5)
    draws = np.random.default_rng(5).integers(0, 12, size=(40, 12))
    for b, drawn in enumerate(draws):
        e, n = errors[drawn].sum(axis=0), trials[drawn].sum(axis=0)
        with np.errstate(invalid="ignore"):
            np.testing.assert_allclose(replicates[b], e / n)


def test_bootstrap_chunks_do_not_change_the_answer(monkeypatch):
    rng = np.random.default_rng(2)
    trials = rng.integers(1, 9, (30, 2))
    errors = rng.binomial(trials, 0.4)
    whole = bootstrap_rates(errors, trials, n_boot=50, seed=3)
    monkeypatch.setattr("audit.metrics.intervals.CHUNK_CELLS", 30 * 7)
    np.testing.assert_array_equal(bootstrap_rates(errors, trials, n_boot=50, seed=3), whole)


def test_percentile_interval_handles_inf_and_all_nan():
    replicates = np.array([[1.0, np.nan], [2.0, np.nan], [np.inf, np.nan], [3.0, np.nan]])
    low, high = percentile_interval(replicates, confidence=0.5)
    assert low[0] == 1.0 and high[0] == 3.0
    assert np.isnan(low[1]) and np.isnan(high[1])


def _clustered_dataset(rng: np.random.Generator, n_subjects: int) -> tuple[np.ndarray, np.ndarray]:
    """Subjects with their own error rate (Beta, mean 0.1) and 5-30 trials each."""
    rates = rng.beta(1.0, 9.0, n_subjects)
    trials = rng.integers(5, 31, n_subjects)
    return rng.binomial(trials, rates), trials


def test_bootstrap_coverage_is_close_to_nominal_with_clustered_subjects():
    rng = np.random.default_rng(2024)
    covered = wilson_covered = 0
    n_datasets = 200
    for k in range(n_datasets):
        errors, trials = _clustered_dataset(rng, 80)
        replicates = bootstrap_rates(errors[:, None], trials[:, None], n_boot=400, seed=k)
        low, high = percentile_interval(replicates)
        covered += low[0] <= 0.1 <= high[0]
        w_low, w_high = wilson_interval(errors.sum(), trials.sum())
        wilson_covered += w_low <= 0.1 <= w_high
    assert 0.90 <= covered / n_datasets <= 0.99
    assert wilson_covered < covered  # Wilson ignores clustering and is too narrow

"""Wilson (plain and at the effective sample size) and the zero-error bound."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from audit.metrics.intervals import (
    BAD_CONFIDENCE,
    BAD_COUNTS,
    clustered_wilson_interval,
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
        (lambda: clustered_wilson_interval(3, 2, 1.0), BAD_COUNTS),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


@pytest.mark.parametrize(("errors", "trials", "deff"), [(10, 100, 4.0), (3, 2000, 2.5), (1, 50, 1.0)])
def test_clustered_wilson_is_wilson_at_the_effective_size(errors, trials, deff):
    low, high = clustered_wilson_interval(errors, trials, deff)
    # statsmodels' Wilson takes counts; at the effective size the count is errors / deff.
    expected = proportion_confint(errors / deff, trials / deff, alpha=0.05, method="wilson")
    assert (low, high) == (pytest.approx(expected[0], abs=1e-12), pytest.approx(expected[1], abs=1e-12))
    assert low > 0  # errors were seen: the lower limit is never 0


def test_clustered_wilson_widens_with_the_design_effect():
    narrow = clustered_wilson_interval(20, 1000, 1.0)
    wide = clustered_wilson_interval(20, 1000, 5.0)
    assert wide[0] < narrow[0] and wide[1] > narrow[1]

"""Rate limits: Wilson at the effective size a special case; dyadic (Hall) by brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import optimize, sparse, stats
from test_metrics_variance import _dyadic

from audit.metrics.intervals import clustered_wilson_interval
from audit.metrics import score_limits
from audit.metrics.score_limits import from_design_effects, skew_corrected
from audit.metrics.variance import design_effects, influence

Z = stats.norm.ppf(0.975)
# Trials between 6 people, some pairs seen twice and in both orientations.
TRIALS = [(0, 1, 1), (1, 0, 0), (0, 2, 0), (1, 2, 1), (2, 3, 0), (3, 4, 1), (0, 4, 0),
          (1, 3, 0), (1, 3, 1), (2, 4, 0), (4, 5, 0), (0, 5, 1), (5, 2, 0), (3, 5, 0)]


@pytest.mark.parametrize(("errors", "trials", "deff"), [
    (1, 4, 1.0), (10, 100, 4.0), (3, 1000, 2.5), (99, 100, 1.7), (40, 80, 12.0)])
def test_design_effect_form_is_the_clustered_wilson_interval(errors, trials, deff):
    low, high = from_design_effects([errors / trials], [float(trials)], [deff]).limits(Z)
    want_low, want_high = clustered_wilson_interval(errors, trials, deff)
    assert low[0] == pytest.approx(float(want_low), abs=1e-12)
    assert high[0] == pytest.approx(float(want_high), abs=1e-12)


def _brute_force_limits(trials, z):
    """Hall's limits from loops over people and pairs, g(T) = +-t solved numerically."""
    a, b, e = (np.array(c, dtype=float) for c in zip(*trials, strict=True))
    n = e.size
    p = e.mean()
    u = (e - p) / n
    people = np.unique(np.concatenate([a, b]))
    g = people.size
    sums = np.array([u[(a == s) | (b == s)].sum() for s in people])
    keys = {tuple(sorted(k)) for k in zip(a, b, strict=True)}
    pairs = np.array([u[(np.minimum(a, b) == lo) & (np.maximum(a, b) == hi)].sum()
                      for lo, hi in keys])
    variance = g / (g - 1) * (np.sum(sums**2) - np.sum(pairs**2))
    third = g / (g - 1) * (np.sum(sums**3) - np.sum(pairs**3))
    c = third / variance**1.5 / 3
    t = stats.t.ppf(stats.norm.cdf(z), np.sum(sums**2) ** 2 / np.sum(sums**4) - 1)

    def hall(x):  # Hall (1992): g(T) = T + c T^2 + c^2 T^3 / 3 + c / 2
        return x + c * x**2 + c**2 * x**3 / 3 + c / 2

    spread = np.sqrt(variance)
    upper_t = optimize.brentq(lambda x: hall(x) - t, -50, 50)
    lower_t = optimize.brentq(lambda x: hall(x) + t, -50, 50)
    return p - spread * upper_t, p - spread * lower_t, p


def test_dyadic_limits_equal_a_brute_force_search():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 40, 400)
    b = (a + rng.integers(1, 40, 400)) % 40
    effect = rng.normal(0, 0.8, 40)
    e = (rng.random(400) < 1 / (1 + np.exp(2.2 - effect[a] - effect[b]))).astype(int)
    trials = list(zip(a.tolist(), b.tolist(), e.tolist(), strict=True))
    counts = _dyadic([(x, y, z, 1) for x, y, z in trials], subjects=40)
    rates, spread = influence(counts)
    n = np.array([400.0])
    deff = design_effects(rates, spread.variance(), n)
    limits = skew_corrected(rates, n, spread, deff)
    low, high = limits.limits(Z)
    want_low, want_high, p = _brute_force_limits(trials, Z)
    assert limits.skewness[0] > 0.05  # right-skewed: the upper side is the longer one
    assert 0 < low[0] < p < high[0] and high[0] - p > p - low[0]
    assert (low[0], high[0]) == pytest.approx((want_low, want_high), rel=1e-9)


def test_no_clustering_seen_gives_wilson_at_the_number_of_trials():
    # The dyadic variance of these 14 comparisons is below the binomial one: no excess.
    counts = _dyadic([(a, b, e, 1) for a, b, e in TRIALS])
    rates, spread = influence(counts)
    n = np.array([float(len(TRIALS))])
    assert spread.variance()[0] < rates[0] * (1 - rates[0]) / n[0]
    low, high = skew_corrected(rates, n, spread, np.ones(1)).limits(Z)
    want = clustered_wilson_interval(5, 14, 1.0)
    assert (low[0], high[0]) == pytest.approx((float(want[0]), float(want[1])), abs=1e-12)


def test_one_person_carrying_every_error_keeps_a_lower_limit_above_zero():
    # Person 0 is in all 5 errors (effective number of people below 2): the t quantile on
    # under one degree of freedom sends the lower limit below 0, so it is Wilson's at N / deff.
    pairs = [(0, s, 1, 1) for s in range(1, 6)] + [(a, b, 0, 1) for a, b in
                                                  itertools.combinations(range(1, 12), 2)]
    counts = _dyadic(pairs)
    rates, spread = influence(counts)
    n = np.array([float(len(pairs))])
    deff = design_effects(rates, spread.variance(), n)
    low, high = skew_corrected(rates, n, spread, deff).limits(Z)
    assert spread.effective_clusters()[0] < 2
    assert low[0] == pytest.approx(float(clustered_wilson_interval(5, 60, deff[0])[0]), abs=1e-12)
    assert 0 < low[0] < rates[0] < high[0] <= 1.0


def test_effective_clusters_count_equal_influence_fully_and_one_person_once():
    _, spread = influence(_dyadic([(0, 1, 1, 1), (2, 3, 1, 1), (4, 5, 0, 1), (6, 7, 0, 1)]))
    assert spread.effective_clusters()[0] == pytest.approx(8.0)
    one = sparse.csr_matrix(np.array([[3.0], [0.0], [0.0]]))
    assert type(spread)(one, None, np.array([3.0])).effective_clusters()[0] == 1.0


def _brute_force_spread(trials):
    """Rate, dyadic variance and effective number of people from loops over people and pairs."""
    a, b, e = (np.array(c, dtype=float) for c in zip(*trials, strict=True))
    p = e.mean()
    u = (e - p) / e.size
    people = np.unique(np.concatenate([a, b]))
    sums = np.array([u[(a == s) | (b == s)].sum() for s in people])
    keys = {tuple(sorted(k)) for k in zip(a, b, strict=True)}
    pairs = np.array([u[(np.minimum(a, b) == lo) & (np.maximum(a, b) == hi)].sum()
                      for lo, hi in keys])
    g = people.size
    variance = g / (g - 1) * (np.sum(sums**2) - np.sum(pairs**2))
    return p, variance, np.sum(sums**2) ** 2 / np.sum(sums**4)


def test_a_calibrated_rate_keeps_a_variance_below_the_binomial_one():
    # Half of the row's own influence taken out, as a calibration on a rate that moves with
    # it does: the variance is a quarter of the (already sub-binomial) dyadic one, and the
    # interval is the symmetric t interval on it, not Wilson at N.
    counts = _dyadic([(a, b, e, 1) for a, b, e in TRIALS])
    rates, spread = influence(counts)
    calibrated = spread.minus(spread, np.array([0]), np.array([0.5]))
    n = np.array([float(len(TRIALS))])
    p, variance, people = _brute_force_spread(TRIALS)
    assert calibrated.calibrated().tolist() == [True]
    assert calibrated.variance()[0] == pytest.approx(variance / 4, rel=1e-12)
    low, high = skew_corrected(rates, n, calibrated, np.ones(1)).limits(Z)
    half = stats.t.ppf(0.975, people - 1) * np.sqrt(variance / 4)
    assert (low[0], high[0]) == pytest.approx((p - half, p + half), rel=1e-12)
    assert high[0] - low[0] < np.diff(clustered_wilson_interval(5, 14, 1.0))[0]


def test_the_calibration_rate_at_its_own_threshold_falls_back_to_wilson_at_n():
    # Slope 1 on itself: the influence cancels, the variance is 0 up to rounding.
    counts = _dyadic([(a, b, e, 1) for a, b, e in TRIALS])
    rates, spread = influence(counts)
    itself = spread.minus(spread, np.array([0]), np.array([1.0]))
    n = np.array([float(len(TRIALS))])
    low, high = skew_corrected(rates, n, itself, np.ones(1)).limits(Z)
    want = clustered_wilson_interval(5, 14, 1.0)
    assert (low[0], high[0]) == pytest.approx((float(want[0]), float(want[1])), abs=1e-12)


@pytest.mark.parametrize(("errors", "trials", "deff", "people"), [
    (10, 100, 4.0, 12), (3, 1000, 2.5, 60), (40, 80, 12.0, 3), (1, 4, 1.0, 2)])
def test_one_way_limits_take_korn_graubards_degrees_of_freedom(errors, trials, deff, people):
    # Korn & Graubard (1998): the effective size times (z / t_{G-1})^2, Wilson at z there.
    shrink = (Z / stats.t.ppf(0.975, people - 1)) ** 2
    low, high = from_design_effects([errors / trials], [float(trials)], [deff],
                                    [float(people)]).limits(Z)
    want_low, want_high = clustered_wilson_interval(errors, trials, deff / shrink)
    assert (low[0], high[0]) == pytest.approx((float(want_low), float(want_high)), abs=1e-12)


def test_t_quantile_is_scipy_stats_t_isf_of_the_normal_tail():
    rng = np.random.default_rng(7)
    z = np.concatenate([rng.uniform(-8.0, 40.0, 2000), [0.0, 1.96, 37.5, 38.5, 40.0, -40.0]])
    df = np.concatenate([rng.uniform(0.2, 1e6, 2000), [1.0, 3.0, 2.0, 1e9, 5.0, 5.0]])
    df[::50] = np.inf  # the normal quantile itself
    expected = np.where(np.isfinite(df), stats.t.isf(stats.norm.sf(z), np.where(
        np.isfinite(df), np.maximum(df, 1.0), 1.0)), z)
    found = score_limits.t_quantile(z, df)
    assert np.array_equal(found, expected)
    assert np.isposinf(found[-2]) and np.isneginf(found[-1])  # p underflows to 0 / is 1

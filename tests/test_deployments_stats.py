"""Deployment statistics against independent computations: beta and gamma
quantiles, statsmodels fitted here, hand formulas and brute-force sums."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from audit.deployments.exact import binomial_share, figures, poisson_rate
from audit.deployments.overrep import detectable_ratio, over_representation, share_from_count
from audit.deployments.pooling import by_threshold, by_year, pool_false_share, pool_per_face
from audit.deployments.records import Deployment


def record(i, **counts):
    return Deployment(deployment_id=f"d{i}", row=i + 2, **counts)


@pytest.mark.parametrize(("k", "n"), [(0, 5), (1, 11), (14, 42), (2297, 2470), (7, 7)])
def test_share_is_clopper_pearson_from_beta_quantiles(k, n):
    e = binomial_share(k, n)
    low = 0.0 if k == 0 else stats.beta.ppf(0.025, k, n - k + 1)
    high = 1.0 if k == n else stats.beta.ppf(0.975, k + 1, n - k)
    assert (e.count, e.base, e.value) == (k, n, k / n)
    assert e.low == pytest.approx(low, rel=1e-9, abs=1e-12)
    assert e.high == pytest.approx(high, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("k", "n"), [(0, 15600), (1, 12120), (10, 3_147_436), (2297, 170_000)])
def test_per_face_rate_is_exact_poisson(k, n):
    e = poisson_rate(k, n, confidence=0.9)
    low = 0.0 if k == 0 else stats.gamma.ppf(0.05, k)
    assert e.low * n == pytest.approx(low, rel=1e-9, abs=1e-12)
    assert e.high * n == pytest.approx(stats.gamma.ppf(0.95, k + 1), rel=1e-9)
    # The definition: each end leaves 5% in its tail.
    assert stats.poisson.cdf(k, e.high * n) == pytest.approx(0.05, rel=1e-7)
    if k:
        assert stats.poisson.sf(k - 1, e.low * n) == pytest.approx(0.05, rel=1e-7)


def test_empty_base_gives_nan_not_zero():
    assert math.isnan(binomial_share(0, 0).value)
    assert math.isnan(poisson_rate(0, 0).high)


def test_unconfirmed_alerts_bound_the_share_and_the_rate():
    # The Essex counts: 42 alerts, 8 true, 14 false, 20 with no verified outcome.
    f = figures(record(0, alerts=42, confirmed_true=8, confirmed_false=14, unresolved=20,
                       faces_scanned=10_000))
    assert (f.false_share.recorded.count, f.false_share.all_false.count) == (14, 34)
    assert f.false_share.unconfirmed == 20
    assert f.false_share.resolved.value == pytest.approx(14 / 22)
    assert (f.false_per_face.count, f.false_per_face_high.count) == (14, 34)


def test_missing_true_count_leaves_the_upper_bound_at_every_alert():
    f = figures(record(0, alerts=11, confirmed_false=1, faces_scanned=12_120))
    assert f.false_share.all_false.count == 11 and f.false_share.resolved is None


COUNTS = np.array([3, 0, 12, 5, 30])
FACES = np.array([20_000, 9_000, 41_000, 30_000, 52_000])
ALERTS = np.array([9, 2, 20, 11, 41])


def test_pooled_per_face_matches_statsmodels_quasi_poisson_and_hand_formulas():
    records = [record(i, faces_scanned=int(n), confirmed_false=int(k), alerts=int(a))
               for i, (k, n, a) in enumerate(zip(COUNTS, FACES, ALERTS, strict=True))]
    pooled = pool_per_face(records, "all")
    rate = COUNTS.sum() / FACES.sum()
    assert pooled.plain.value == pytest.approx(rate)
    fit = sm.GLM(COUNTS, np.ones((5, 1)), family=sm.families.Poisson(),
                 offset=np.log(FACES)).fit(scale="X2")
    q = float(np.sum((COUNTS - FACES * rate) ** 2 / (FACES * rate)))
    assert q / 4 > 1  # over-dispersed: the floor at 1 does not apply
    se = math.sqrt(q / 4 / COUNTS.sum())  # Var(log rate) = phi / total count
    t = stats.t.ppf(0.975, 4)
    quasi = pooled.quasi
    assert quasi.estimate.value == pytest.approx(math.exp(fit.params[0]))
    assert (quasi.pearson_chi2, quasi.dispersion) == (pytest.approx(q), pytest.approx(q / 4))
    assert quasi.estimate.low == pytest.approx(rate * math.exp(-t * se), rel=1e-6)
    assert quasi.estimate.high == pytest.approx(math.exp(fit.params[0] + t * fit.bse[0]), rel=1e-6)
    assert quasi.i_squared == pytest.approx(max(0.0, (q - 4) / q))
    assert quasi.p_value == pytest.approx(stats.chi2.sf(q, 4))


def test_pooled_share_matches_a_hand_quasi_binomial():
    records = [record(i, alerts=int(a), confirmed_false=int(k))
               for i, (k, a) in enumerate(zip(COUNTS, ALERTS, strict=True))]
    quasi = pool_false_share(records, "all").quasi
    p = COUNTS.sum() / ALERTS.sum()
    q = float(np.sum((COUNTS - ALERTS * p) ** 2 / (ALERTS * p * (1 - p))))
    se = math.sqrt(max(1.0, q / 4) / (ALERTS.sum() * p * (1 - p)))  # logit scale
    logit = math.log(p / (1 - p))
    assert quasi.dispersion == pytest.approx(max(1.0, q / 4))
    assert quasi.estimate.low == pytest.approx(
        1 / (1 + math.exp(-(logit - stats.t.ppf(0.975, 4) * se))), rel=1e-6)


def test_less_spread_than_chance_keeps_the_dispersion_at_one():
    records = [record(i, faces_scanned=10_000, confirmed_false=5) for i in range(4)]
    quasi = pool_per_face(records, "x").quasi
    assert (quasi.pearson_chi2, quasi.dispersion, quasi.i_squared) == (pytest.approx(0), 1.0, 0.0)
    half = stats.t.ppf(0.975, 3) * math.sqrt(1 / 20)
    assert quasi.estimate.high == pytest.approx(5e-4 * math.exp(half))


def test_one_record_or_no_event_has_no_quasi_estimate():
    assert pool_per_face([record(0, faces_scanned=100, confirmed_false=2)], "x").quasi is None
    zero = [record(i, faces_scanned=100, confirmed_false=0) for i in range(3)]
    assert pool_per_face(zero, "x").quasi is None
    assert pool_per_face([record(0, alerts=3)], "x") is None


def test_slices_by_threshold_and_year_partition_the_records():
    from datetime import date

    records = [record(0, threshold=0.6, date=date(2022, 1, 1), faces_scanned=10, confirmed_false=1),
               record(1, threshold=0.64, date=date(2022, 7, 1), faces_scanned=10, confirmed_false=0),
               record(2, faces_scanned=10, confirmed_false=2)]
    thresholds = by_threshold(records)
    assert [b.label for b in thresholds] == ["0.6", "0.64", "threshold not recorded"]
    assert [b.per_face.plain.count for b in thresholds] == [1, 0, 2]
    assert [(b.label, b.n_records) for b in by_year(records)] == [("2022", 2), ("date not recorded", 1)]


@pytest.mark.parametrize("share", [0.183, 0.3, 0.5, 0.59, 0.692])
def test_seven_of_seven_has_probability_share_to_the_seventh(share):
    o = over_representation(7, 7, share, share)
    assert o.low_end.p_value == pytest.approx(share ** 7, rel=1e-12)
    assert o.shown_below == pytest.approx(0.025 ** (1 / 7))
    odds = share / (1 - share)
    assert o.low_end.ratio_low == pytest.approx((0.025 ** (1 / 7) / (1 - 0.025 ** (1 / 7))) / odds)
    assert o.low_end.ratio_high == math.inf and o.low_end.ratio == math.inf
    assert (o.low_end.ratio_low > 1) == (share ** 7 < 0.025) == o.shown_across_range


def test_interval_above_one_exactly_when_one_sided_p_below_level():
    for k, n in [(3, 10), (5, 10), (9, 40), (0, 6)]:
        for share in np.linspace(0.02, 0.9, 45):
            a = over_representation(k, n, share, share).low_end
            brute = sum(math.comb(n, j) * share ** j * (1 - share) ** (n - j) for j in range(k, n + 1))
            assert a.p_value == pytest.approx(brute, rel=1e-9, abs=1e-15)
            assert (a.ratio_low > 1) == (brute < 0.025)


def test_detectable_ratio_reaches_the_power_by_brute_force():
    for n, share in [(7, 0.183), (7, 0.5), (20, 0.3), (50, 0.1)]:
        critical = next(k for k in range(n + 1)
                        if sum(stats.binom.pmf(j, n, share) for j in range(k, n + 1)) <= 0.025)
        ratio = detectable_ratio(n, share)
        p = ratio * share / (ratio * share + 1 - share)
        assert stats.binom.sf(critical - 1, n, p) == pytest.approx(0.8, rel=1e-9)
    assert detectable_ratio(7, 0.6) is None  # 0.6 ** 7 = 0.028 > 0.025: nothing detectable


def test_range_reports_both_ends_and_a_grid():
    o = over_representation(7, 7, 0.183, 0.692, grid=5)
    assert [a.share for a in o.grid] == pytest.approx([0.183, 0.31025, 0.4375, 0.56475, 0.692])
    assert not o.shown_across_range and not o.shown_nowhere
    assert o.high_end.detectable_ratio is None


def test_crowd_share_from_an_observed_count_is_its_exact_interval():
    low, high = share_from_count(30, 100)
    assert (low, high) == (pytest.approx(stats.beta.ppf(0.025, 30, 71)),
                           pytest.approx(stats.beta.ppf(0.975, 31, 70)))


def test_bad_share_and_counts_raise():
    with pytest.raises(ValueError, match="crowd share"):
        over_representation(1, 2, 0.5, 0.4)
    with pytest.raises(ValueError, match="k <= n"):
        over_representation(3, 2, 0.2, 0.3)

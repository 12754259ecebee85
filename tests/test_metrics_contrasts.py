"""Fixed-pair contrasts: checked against statsmodels and against the MOVER formulas by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from audit.metrics import compute_metrics
from audit.metrics.contrasts import GroupRates, benjamini_hochberg, contrasts
from scipy import optimize, stats
from toy_tables import dyadic_audit

Z95 = stats.norm.ppf(0.975)


def _groups(errors, trials, deff=(1.0, 1.0), rho=0.0):
    correlation = np.array([[1.0, rho], [rho, 1.0]])
    return GroupRates(["a", "b"], np.asarray(errors, float), np.asarray(trials, float),
                      np.asarray(deff, float), correlation)


def _mover_log_ratio(ea, na, eb, nb, rho=0.0, alpha=0.05):
    """Log-scale MOVER from statsmodels' Wilson limits, written out from Zou & Donner (2008)."""
    pa, pb = ea / na, eb / nb
    la, ua = proportion_confint(ea, na, alpha=alpha, method="wilson")
    lb, ub = proportion_confint(eb, nb, alpha=alpha, method="wilson")
    r = math.log(pa / pb)
    da, ua_ = math.log(pa) - math.log(la), math.log(ua) - math.log(pa)
    db, ub_ = math.log(pb) - math.log(lb), math.log(ub) - math.log(pb)
    low = r - math.sqrt(da**2 + ub_**2 - 2 * rho * da * ub_)
    high = r + math.sqrt(ua_**2 + db**2 - 2 * rho * ua_ * db)
    return math.exp(low), math.exp(high)


@pytest.mark.parametrize(("ea", "na", "eb", "nb"), [(40, 1000, 20, 1000), (7, 60, 2, 90),
                                                    (130, 5000, 100, 5200)])
def test_difference_is_newcombe_for_independent_groups(ea, na, eb, nb):
    c = contrasts(_groups([ea, eb], [na, nb]), confidence=0.95)[0]
    low, high = confint_proportions_2indep(ea, na, eb, nb, method="newcomb", compare="diff")
    assert c.difference == pytest.approx(ea / na - eb / nb)
    assert (c.difference_low, c.difference_high) == (pytest.approx(low), pytest.approx(high))


@pytest.mark.parametrize("rho", [0.0, 0.3])
def test_ratio_is_log_scale_mover_and_the_test_agrees_with_it(rho):
    c = contrasts(_groups([40, 20], [1000, 1000], rho=rho), confidence=0.95)[0]
    low, high = _mover_log_ratio(40, 1000, 20, 1000, rho=rho)
    assert (c.ratio, c.ratio_low, c.ratio_high) == (2.0, pytest.approx(low), pytest.approx(high))
    # p is the level at which the interval just reaches 1.
    edge_low, _ = _mover_log_ratio(40, 1000, 20, 1000, rho=rho, alpha=c.p_value)
    assert edge_low == pytest.approx(1.0, abs=1e-9)


def test_positive_correlation_narrows_the_ratio_interval():
    independent = contrasts(_groups([40, 20], [1000, 1000]), confidence=0.95)[0]
    correlated = contrasts(_groups([40, 20], [1000, 1000], rho=0.5), confidence=0.95)[0]
    assert correlated.ratio_low > independent.ratio_low
    assert correlated.ratio_high < independent.ratio_high


def test_design_effect_is_information_lost():
    plain = contrasts(_groups([40, 20], [1000, 1000]), confidence=0.95)[0]
    clustered = contrasts(_groups([40, 20], [1000, 1000], deff=(4.0, 4.0)), confidence=0.95)[0]
    # As 10 errors in 250 against 5 in 250.
    low, high = _mover_log_ratio(10, 250, 5, 250)
    assert (clustered.ratio_low, clustered.ratio_high) == (pytest.approx(low), pytest.approx(high))
    assert clustered.p_value > plain.p_value and clustered.ratio_low < 1 < plain.ratio_low


def test_interval_can_include_one_and_then_p_is_above_alpha():
    c = contrasts(_groups([12, 10], [1000, 1000]), confidence=0.95)[0]
    assert c.ratio_low < 1 < c.ratio_high and c.p_value > 0.05
    assert c.difference_low < 0 < c.difference_high


def test_no_error_in_either_group_is_undefined_and_not_significant():
    c = contrasts(_groups([0, 0], [300, 500]), confidence=0.95)[0]
    assert math.isnan(c.ratio) and math.isnan(c.ratio_low) and c.p_value == 1.0
    assert c.difference == 0 and c.difference_low < 0 < c.difference_high


def test_pairs_are_ordered_higher_first():
    c = contrasts(_groups([5, 30], [1000, 1000]), confidence=0.95)[0]
    assert (c.higher, c.lower) == (1, 0) and c.ratio == pytest.approx(6.0)


def test_benjamini_hochberg_equals_statsmodels():
    p = np.random.default_rng(3).uniform(0, 0.2, size=40)
    expected = multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(benjamini_hochberg(p), expected)


def _six_subjects():
    """Two groups of three subjects, mated 1:1 pairs; clustered misses in group f."""
    misses = {"f1": (3, 6), "f2": (0, 6), "f3": (1, 6), "m1": (1, 8), "m2": (0, 8), "m3": (0, 8)}
    rows, images = [], []
    for subject, (missed, n) in misses.items():
        images.append({"image_id": f"{subject}_0", "subject_id": subject, "gender": subject[0]})
        for k in range(n):
            rows.append({"probe_id": f"{subject}_0", "reference_id": f"{subject}_{k + 1}",
                         "probe_subject": subject, "reference_subject": subject,
                         "score": 0.1 if k < missed else 0.9, "mated": True,
                         "trial_kind": "verification", "fold": None, "rank": None,
                         "best_is_true_entry": None})
            images.append({"image_id": f"{subject}_{k + 1}", "subject_id": subject,
                           "gender": subject[0]})
    return pd.DataFrame(rows), pd.DataFrame(images), misses


@pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")
def test_end_to_end_pair_on_six_subjects_against_an_independent_computation():
    scores, images, misses = _six_subjects()
    table = compute_metrics(scores, images, thresholds=(0.5,), groupings=("gender",),
                            min_subjects=3, min_trials=10).to_pandas()
    fnmr = table[(table["metric"] == "fnmr") & (table["grouping"] == "gender")]
    ratio = fnmr[fnmr["statistic"] == "ratio"].iloc[0]
    assert (ratio["group"], ratio["group_b"]) == ("f", "m")
    # Independently: statsmodels' cluster-robust variance of each group's rate, the design
    # effect, Wilson at the effective size times Korn & Graubard's (z / t_df)^2 with df = 3
    # people - 1, and the MOVER formula (groups share no subject).
    shrink = (stats.norm.ppf(0.975) / stats.t.ppf(0.975, 2)) ** 2
    effective = {}
    for group in ("f", "m"):
        y = np.concatenate([[1] * e + [0] * (n - e) for s, (e, n) in misses.items()
                            if s[0] == group])
        clusters = np.concatenate([[s] * n for s, (_, n) in misses.items() if s[0] == group])
        codes = pd.factorize(clusters)[0]
        fit = sm.OLS(y, np.ones(len(y))).fit(cov_type="cluster", cov_kwds={"groups": codes})
        p = y.mean()
        deff = max(1.0, fit.cov_params()[0, 0] / (p * (1 - p) / len(y)))
        effective[group] = (y.sum() / deff * shrink, len(y) / deff * shrink)
    low, high = _mover_log_ratio(*effective["f"], *effective["m"])
    assert ratio["value"] == pytest.approx((4 / 18) / (1 / 24))
    assert (ratio["ci_low"], ratio["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert ratio["ci_low"] < 1  # 6 people cannot show a difference
    p_row = fnmr[fnmr["statistic"] == "p_value"].iloc[0]
    assert p_row["value"] > 0.05


def _dyadic_two_groups(seed=3, people=40, pairs=800):
    """FMR-like pairs between people of two groups; a pair's group is its probe's."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, people, pairs)
    b = (a + rng.integers(1, people, pairs)) % people
    effect = rng.normal(0, 0.8, people)
    e = (rng.random(pairs) < 1 / (1 + np.exp(2.5 - effect[a] - effect[b]))).astype(float)
    return a, b, e, (a >= people // 2).astype(int)


def _hall_by_loops(a, b, e, group, weights, estimate, z):
    """Hall's t limits of a linear combination of the two groups' rates, from loops."""
    u = np.zeros_like(e)
    for g in (0, 1):
        chosen = group == g
        u[chosen] = weights[g] * (e[chosen] - e[chosen].mean()) / chosen.sum()
    people = np.unique(np.concatenate([a, b]))
    sums = np.array([u[(a == s) | (b == s)].sum() for s in people])
    lows, highs = np.minimum(a, b), np.maximum(a, b)
    pairs = np.array([u[(lows == lo) & (highs == hi)].sum()
                      for lo, hi in set(zip(lows.tolist(), highs.tolist(), strict=True))])
    factor = people.size / (people.size - 1)
    variance = factor * (np.sum(sums**2) - np.sum(pairs**2))
    c = factor * (np.sum(sums**3) - np.sum(pairs**3)) / variance**1.5 / 3
    t = stats.t.isf(stats.norm.sf(z), np.sum(sums**2) ** 2 / np.sum(sums**4) - 1)
    hall = lambda x: x + c * x**2 + c**2 * x**3 / 3 + c / 2  # noqa: E731 (Hall 1992)
    upper_t = optimize.brentq(lambda x: hall(x) - t, -60, 60)
    lower_t = optimize.brentq(lambda x: hall(x) + t, -60, 60)
    return estimate - math.sqrt(variance) * upper_t, estimate - math.sqrt(variance) * lower_t


@pytest.mark.filterwarnings("ignore:.*no trials in group|.*fewer than two sufficient")
def test_dyadic_pair_gets_hall_t_on_its_own_influence_against_loops():
    """FMR pairs: difference and log ratio from the pair's combined influence, by brute force."""
    a, b, e, group = _dyadic_two_groups()
    scores = pd.DataFrame({
        "trial_kind": "verification", "probe_id": [f"p{i}/0" for i in a],
        "reference_id": [f"p{j}/0" for j in b], "probe_subject": [f"p{i}" for i in a],
        "reference_subject": [f"p{j}" for j in b], "score": np.where(e > 0, 0.9, 0.1),
        "mated": False, "fold": None, "rank": None, "best_is_true_entry": None})
    images = pd.DataFrame({"image_id": [f"p{i}/0" for i in range(40)],
                           "subject_id": [f"p{i}" for i in range(40)],
                           "group": ["g0"] * 20 + ["g1"] * 20})
    frame = compute_metrics(scores, images, thresholds=(0.5,), groupings=("group",),
                            cross_groupings=(), min_subjects=5, min_trials=20).to_pandas()
    rows = frame[(frame["metric"] == "fmr") & (frame["grouping"] == "group")
                 & (frame["point_kind"] == "deployment")].set_index("statistic")
    p = {g: e[group == k].mean() for k, g in enumerate(("g0", "g1"))}
    high = rows.loc["ratio", "group"]
    sign = {"g0": (1.0, -1.0), "g1": (-1.0, 1.0)}[high]
    want = _hall_by_loops(a, b, e, group, sign, abs(p["g0"] - p["g1"]), Z95)
    assert rows.loc["difference", "ci_method"] == "hall-t"
    assert (rows.loc["difference", "ci_low"], rows.loc["difference", "ci_high"]) == pytest.approx(
        want, rel=1e-9)
    low_group = "g1" if high == "g0" else "g0"
    log_weights = tuple(s / p[g] for s, g in zip(sign, ("g0", "g1"), strict=True))
    log_low, log_high = _hall_by_loops(a, b, e, group, log_weights,
                                       math.log(p[high] / p[low_group]), Z95)
    assert rows.loc["ratio", "ci_method"] == "hall-t-log"
    assert (rows.loc["ratio", "ci_low"], rows.loc["ratio", "ci_high"]) == pytest.approx(
        (math.exp(log_low), math.exp(log_high)), rel=1e-9)
    # The p-value inverts that ratio interval: below 0.05 exactly when it excludes 1.
    assert (rows.loc["p_value", "value"] < 0.05) == (rows.loc["ratio", "ci_low"] > 1)
    assert rows.loc["p_value", "ci_method"] == "inverted-hall-t-log"


@pytest.mark.filterwarnings("ignore:.*no trials in group|.*fewer than two sufficient")
@pytest.mark.parametrize("seed", range(12))
def test_dyadic_p_value_agrees_with_the_printed_interval_when_few_people_err(seed):
    """Rare errors carried by a few people (the demo's FMR at a strict threshold): p < 0.05
    exactly when the 95% ratio interval excludes 1, for every pair and operating point.

    An earlier lower limit switched to a narrower fallback as the confidence grew, so the
    inverted p-value said "shown" (p = 1e-6) beside an interval from 0.87 to 14.
    """
    scores, images, _, score = dyadic_audit(seed, effect_sd=1.6, shift=0.8)
    thresholds = tuple(np.quantile(score, [0.95, 0.99, 0.997]))
    frame = compute_metrics(scores, images, thresholds=thresholds, groupings=("group",),
                            cross_groupings=(), min_subjects=5, min_trials=20).to_pandas()
    rows = frame[(frame["metric"] == "fmr") & (frame["point_kind"] == "deployment")]
    ratio = rows[rows["statistic"] == "ratio"].set_index("threshold")
    p_value = rows[rows["statistic"] == "p_value"].set_index("threshold")["value"]
    bounded = ratio[np.isfinite(ratio["value"])]
    assert len(bounded) >= 2
    for threshold, row in bounded.iterrows():
        assert (p_value[threshold] < 0.05) == (row["ci_low"] > 1), (threshold, row.to_dict(),
                                                                    p_value[threshold])


def _few_errors_table(low_errors):
    """Two disjoint groups of 40 people, every pair within a group compared once: ``hi`` with
    60 false matches spread over its people, ``lo`` with ``low_errors`` (the d1m case in small)."""
    i, j = np.triu_indices(40, 1)
    hit_hi = np.isin(np.arange(i.size), np.random.default_rng(5).choice(i.size, 60, False))
    hit_lo = (i < 2 * low_errors) & (i % 2 == 0) & (j == i + 1)
    probe = [f"p{k}" for k in np.r_[i, i + 40]]
    reference = [f"p{k}" for k in np.r_[j, j + 40]]
    score = np.where(np.r_[hit_hi, hit_lo], 0.9, 0.1)
    scores = pd.DataFrame({
        "trial_kind": "verification", "probe_id": [f"{s}/0" for s in probe],
        "reference_id": [f"{s}/0" for s in reference], "probe_subject": probe,
        "reference_subject": reference, "score": score, "mated": False, "fold": None,
        "rank": None, "best_is_true_entry": None})
    images = pd.DataFrame({"image_id": [f"p{i}/0" for i in range(80)],
                           "subject_id": [f"p{i}" for i in range(80)],
                           "group": ["hi"] * 40 + ["lo"] * 40})
    frame = compute_metrics(scores, images, thresholds=(0.5,), groupings=("group",),
                            cross_groupings=(), min_subjects=5, min_trials=20).to_pandas()
    return frame[(frame["metric"] == "fmr") & (frame["grouping"] == "group")
                 & (frame["point_kind"] == "deployment")]


@pytest.mark.parametrize("low_errors", [1, 2, 3])
def test_dyadic_pair_whose_lower_group_has_few_errors_gets_mover_from_the_groups_limits(
        low_errors):
    """60 false matches in 780 comparisons against 1-3 in 780: Hall's t on the pair's log ratio
    rested on the one to three people who erred in ``lo`` (a user saw "456 (0.025 to 27,817)"
    beside a difference interval far from 0). MOVER from the two groups' printed limits
    instead: the ratio excludes 1 as the difference excludes 0, and p < 0.05."""
    rows = _few_errors_table(low_errors)
    rates = rows[rows["statistic"] == "rate"].set_index("group")
    pair = rows.set_index("statistic")
    assert rates.loc["lo", "n_errors"] == low_errors and rates.loc["hi", "n_errors"] == 60
    assert pair.loc["ratio", "ci_method"] == "mover-log"
    assert pair.loc["difference", "ci_method"] == "mover"
    # Log-scale MOVER (Zou & Donner 2008) from the rate rows; the groups share no one: rho 0.
    pa, la, ua = rates.loc["hi", ["value", "ci_low", "ci_high"]]
    pb, lb, ub = rates.loc["lo", ["value", "ci_low", "ci_high"]]
    centre = math.log(pa / pb)
    low = math.exp(centre - math.hypot(math.log(pa / la), math.log(ub / pb)))
    high = math.exp(centre + math.hypot(math.log(ua / pa), math.log(pb / lb)))
    assert (pair.loc["ratio", "ci_low"], pair.loc["ratio", "ci_high"]) == pytest.approx(
        (low, high), rel=1e-9)
    difference_low = pa - pb - math.hypot(pa - la, ub - pb)
    assert pair.loc["difference", "ci_low"] == pytest.approx(difference_low, rel=1e-9)
    assert pair.loc["ratio", "ci_low"] > 1 and pair.loc["difference", "ci_low"] > 0
    assert pair.loc["p_value", "value"] < 0.05
    assert pair.loc["p_value", "ci_method"] == "inverted-mover-log"


def test_limits_asked_once_on_the_grid_give_the_same_nested_limits_and_p_values():
    """on_grid reads the grid's levels from one call and asks any other level of the limits
    themselves: nested limits and inverted p-values equal those asked directly, with the
    underlying limits asked for the grid once (not again for the levels below z)."""
    from audit.metrics.inversion import inverted_p_values, nested_limits, on_grid, z_grid

    centre = np.array([0.3, 0.6, 1.1])
    calls = []

    def limits(levels):  # a log-ratio interval around each centre, narrower with more levels
        calls.append(levels.shape)
        spread = levels * np.array([0.2, 0.1, 0.05])
        return np.exp(centre - spread), np.exp(centre + spread)

    z = 1.959963984540054
    testable = np.ones(3, dtype=bool)
    want = nested_limits(limits, z, 3), inverted_p_values(limits, z, testable)
    asked_directly = list(calls)
    calls.clear()
    read = on_grid(limits, z, 3)
    got = nested_limits(read, z, 3), inverted_p_values(read, z, testable)
    for w, g in zip([*want[0], want[1]], [*got[0], got[1]], strict=True):
        np.testing.assert_array_equal(g, w)
    grid = z_grid(z).size
    below = int(np.sum(z_grid(z) <= z))
    assert asked_directly[:2] == [(below, 3), (grid, 3)]  # the levels below z asked twice
    assert calls[0] == (grid, 3) and calls[1:] == asked_directly[2:]  # here once

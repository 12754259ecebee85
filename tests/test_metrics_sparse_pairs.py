"""Pairs with a zero-error group, and the detectable ratio, against independent computations.

The zero-error bound is checked against statsmodels' Wilson limits and Newcombe
difference (MOVER-R) and scipy's exact conditional binomial test; the
detectable ratio against the power of the same interval test, enumerated over
every outcome of two binomials.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from audit.metrics import compute_metrics
from audit.metrics.contrasts import BOUND, GroupRates, contrasts
from audit.metrics.score_limits import from_design_effects
from audit.metrics.sparse_pairs import pooled_design_effects
from toy_tables import dyadic_audit

#: Counts a user reported (FMR at a calibrated threshold): 10 of 4,567 against 0 of 4,749.
USER_COUNTS = [(10, 4567, 4749), (4, 4713, 4749)]
GRID = [*USER_COUNTS, (3, 300, 300), (9, 300, 300), (20, 1000, 1000), (6, 100, 2000),
        (2, 150, 1000)]


def _groups(errors, trials, deff=(1.0, 1.0), rho=0.0):
    correlation = np.array([[1.0, rho], [rho, 1.0]])
    return GroupRates(["a", "b"], np.asarray(errors, float), np.asarray(trials, float),
                      np.asarray(deff, float), correlation)


def _conditional(errors, trials_a, trials_b):
    """Exact conditional test of equal rates given the total (all errors in group a).

    Rare errors: group a's share of the errors is binomial with probability
    ``n_a R / (n_a R + n_b)`` at rate ratio R. Returns the two-sided p-value and the
    95% lower bound of R (scipy's Clopper-Pearson limit of the share, mapped to R).
    """
    share = trials_a / (trials_a + trials_b)
    p_value = min(1.0, 2 * share**errors)
    low = stats.binomtest(errors, errors).proportion_ci(0.95, method="exact").low
    return p_value, low / (1 - low) * trials_b / trials_a


@pytest.mark.parametrize(("errors", "trials_a", "trials_b"), GRID)
def test_zero_error_bound_is_the_smaller_of_mover_r_and_the_exact_conditional_bound(
        errors, trials_a, trials_b):
    c = contrasts(_groups([errors, 0], [trials_a, trials_b]), confidence=0.95)[0]
    la, _ = proportion_confint(errors, trials_a, alpha=0.05, method="wilson")
    _, ub = proportion_confint(0, trials_b, alpha=0.05, method="wilson")
    pa = errors / trials_a
    assert math.isinf(c.ratio) and c.ratio_method == BOUND and math.isinf(c.ratio_high)
    # MOVER-R: the theta where the MOVER interval of pa - theta * pb (pb = 0) reaches 0.
    mover_r = math.sqrt(pa**2 - (pa - la) ** 2) / ub
    exact_p, exact_bound = _conditional(errors, trials_a, trials_b)
    assert c.ratio_low == pytest.approx(min(mover_r, exact_bound), rel=1e-9)
    # Never more lenient than the exact conditional test, which ignores clustering.
    assert c.p_value >= exact_p * (1 - 1e-9)
    assert exact_p == pytest.approx(min(1.0, 2 * stats.binomtest(
        errors, errors, trials_a / (trials_a + trials_b), alternative="greater").pvalue))
    # The difference: Newcombe's interval, or wider where the exact bound is the smaller.
    low, high = confint_proportions_2indep(errors, trials_a, 0, trials_b, method="newcomb",
                                           compare="diff")
    assert c.difference_high == pytest.approx(high)
    assert c.difference_low == pytest.approx(low) if mover_r <= exact_bound else (
        c.difference_low < low)
    # The zero group's uncertainty counts: the difference reaches below the higher group's limit.
    assert c.difference_low < la


def test_user_case_no_longer_claims_six_times():
    """10 of 4,567 against 0 of 4,749: was "at least 6.7", p = 3.9e-7 (the zero side's
    influence made its upper limit 0.018%, below the rule-of-three bound of 0.063%)."""
    c = contrasts(_groups([10, 0], [4567, 4749]), confidence=0.95)[0]
    assert c.ratio_low == pytest.approx(2.331, abs=1e-3) and 1.6e-3 < c.p_value < 1e-2
    c = contrasts(_groups([4, 0], [4713, 4749]), confidence=0.95)[0]
    assert c.ratio_low < 1 and c.p_value > 0.05 and c.difference_low < 0


@pytest.mark.parametrize(("errors", "trials_a", "trials_b"), GRID)
def test_zero_error_p_value_agrees_with_bound_and_difference(errors, trials_a, trials_b):
    for deff in (1.0, 2.5):
        c = contrasts(_groups([errors, 0], [trials_a, trials_b], deff=(deff, 1.0)),
                      confidence=0.95)[0]
        assert (c.p_value < 0.05) == (c.ratio_low > 1) == (c.difference_low > 0)


def test_zero_side_takes_the_pooled_design_effect_and_no_correlation():
    """A design effect of 4 elsewhere: the zero group counts as n / 4 trials."""
    clustered = contrasts(_groups([40, 0], [1000, 1000], deff=(4.0, 1.0), rho=0.9),
                          confidence=0.95)[0]
    as_effective = contrasts(_groups([10, 0], [250, 250]), confidence=0.95)[0]
    assert clustered.ratio_low == pytest.approx(as_effective.ratio_low, rel=1e-9)
    assert clustered.p_value == pytest.approx(as_effective.p_value, rel=1e-6)
    assert pooled_design_effects(np.array([0.0, 40.0]), np.array([1e3, 1e3]),
                                 np.array([1.0, 4.0])) == 4.0
    # Below 1 is taken as 1; no group with errors gives 1.
    assert pooled_design_effects(np.array([0.0, 5.0]), np.array([1e3, 1e3]),
                                 np.array([1.0, 0.5])) == 1.0
    assert pooled_design_effects(np.zeros(2), np.array([1e3, 1e3]), np.ones(2)) == 1.0


def _mover_log_lower(xa, na, xb, nb, alpha):
    """Lower limit of the log-scale MOVER ratio from statsmodels' Wilson limits (arrays)."""
    pa, pb = xa / na, xb / nb
    la, _ = proportion_confint(xa, na, alpha=alpha, method="wilson")
    _, ub = proportion_confint(xb, nb, alpha=alpha, method="wilson")
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.sqrt((np.log(pa) - np.log(la)) ** 2 + (np.log(ub) - np.log(pb)) ** 2)
        return np.exp(np.log(pa / pb) - spread)


@pytest.mark.parametrize(("base", "n"), [(0.05, 400), (0.02, 1500), (0.2, 150)])
def test_detectable_ratio_has_80_percent_power_with_the_same_test(base, n):
    """Enumerate every outcome of two binomials at the detectable ratio: the interval test
    (95% MOVER ratio interval above 1) rejects about 80% of the time."""
    errors = round(base * n)
    c = contrasts(_groups([errors, errors], [n, n]), confidence=0.95)[0]
    ratio = c.min_detectable_ratio
    xa, xb = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    weight = np.outer(stats.binom.pmf(np.arange(n + 1), n, base * ratio),
                      stats.binom.pmf(np.arange(n + 1), n, base))
    useful = (xb > 0) & (xa > xb)
    rejects = np.zeros(xa.shape, dtype=bool)
    rejects[useful] = _mover_log_lower(xa[useful], n, xb[useful], n, 0.05) > 1
    assert np.sum(weight[rejects]) == pytest.approx(0.8, abs=0.04)


def test_an_observed_ratio_above_the_detectable_one_is_shown_before_adjustment():
    """A user saw 2.15 (0.97 to 4.8), p = 0.06 beside "could have shown 2.1"."""
    edge = 2 * stats.norm.sf(stats.norm.isf(0.025) + stats.norm.ppf(0.8))  # 0.005
    seen = set()
    for higher, lower, n in [(26, 12, 335), (61, 29, 335), (9, 3, 200), (40, 20, 1000),
                             (30, 10, 335), (15, 4, 400)]:
        for rho in (-0.3, 0.0, 0.3):
            c = contrasts(_groups([higher, lower], [n, n], rho=rho), confidence=0.95)[0]
            above = c.ratio >= c.min_detectable_ratio
            seen.add(above)
            assert (c.p_value <= edge) if above else (c.p_value > edge)
    assert seen == {True, False}


def test_the_detectable_ratio_uses_the_groups_own_t_quantile_with_few_people():
    """One-way rates of few people use Korn & Graubard's t on people - 1 df; the detectable
    ratio must come from that same test, or a "not shown" pair would be told it could have
    shown a ratio its own interval cannot exclude."""
    edge = 2 * stats.norm.sf(stats.norm.isf(0.025) + stats.norm.ppf(0.8))  # 0.005
    seen = set()
    for higher, lower, n, people in [(26, 12, 335, 10), (61, 29, 335, 12), (40, 20, 1000, 8),
                                     (30, 10, 335, 30), (15, 4, 400, 6), (52, 12, 335, 10)]:
        errors, trials = np.array([higher, lower], float), np.array([n, n], float)
        deff = np.array([1.5, 1.5])
        groups = GroupRates(["a", "b"], errors, trials, deff, np.eye(2), variance=
                            from_design_effects(errors / trials, trials, deff, [people] * 2))
        c = contrasts(groups, confidence=0.95)[0]
        normal = contrasts(_groups([higher, lower], [n, n], deff=(1.5, 1.5)), confidence=0.95)[0]
        assert c.min_detectable_ratio > normal.min_detectable_ratio
        above = c.ratio >= c.min_detectable_ratio
        seen.add(above)
        assert (c.p_value <= edge) if above else (c.p_value > edge)
    assert seen == {True, False}


def test_detectable_ratio_grows_as_the_data_shrink_and_is_nan_without_any():
    big = contrasts(_groups([100, 50], [5000, 5000]), confidence=0.95)[0]
    small = contrasts(_groups([20, 10], [1000, 1000]), confidence=0.95)[0]
    clustered = contrasts(_groups([100, 50], [5000, 5000], deff=(5.0, 5.0)), confidence=0.95)[0]
    assert big.min_detectable_ratio < small.min_detectable_ratio
    assert clustered.min_detectable_ratio == pytest.approx(small.min_detectable_ratio, rel=1e-6)
    none = contrasts(_groups([0, 0], [300, 300]), confidence=0.95)[0]
    assert math.isnan(none.min_detectable_ratio)
    tiny = contrasts(_groups([3, 1], [4, 4]), confidence=0.95)[0]
    assert math.isnan(tiny.min_detectable_ratio)  # not even a rate of 1 would be shown


@pytest.mark.filterwarnings("ignore:.*no trials in group|.*fewer than two sufficient")
@pytest.mark.parametrize("seed", range(6))
def test_dyadic_zero_error_pairs_p_agrees_with_printed_bound_and_difference(seed):
    """FMR at strict thresholds where a group sees no false match: p < 0.05 exactly when the
    printed bound exceeds 1, and exactly when the difference interval excludes 0."""
    people = 60
    scores, images, a, score = dyadic_audit(seed, effect_sd=1.0, shift=2.0, people=people)
    # Above every score of g1's probes: g1 has no false match; g0 has 1 to 15 or so.
    edge = score[a >= people // 2].max() + 1e-9
    above = np.sort(score[(a < people // 2) & (score >= edge)])
    thresholds = (edge, *above[-7:-1:2])
    frame = compute_metrics(scores, images, thresholds=thresholds, groupings=("group",),
                            cross_groupings=(), min_subjects=5, min_trials=20).to_pandas()
    rows = frame[(frame["metric"] == "fmr") & (frame["point_kind"] == "deployment")]
    by = {s: rows[rows["statistic"] == s].set_index("threshold") for s in
          ("ratio", "difference", "p_value")}
    bounds = by["ratio"][by["ratio"]["ci_method"] == BOUND]
    assert len(bounds) >= 1
    for threshold, row in bounds.iterrows():
        p = by["p_value"].loc[threshold, "value"]
        assert (p < 0.05) == (row["ci_low"] > 1) == (
            by["difference"].loc[threshold, "ci_low"] > 0), (threshold, row.to_dict(), p)


@pytest.mark.filterwarnings("ignore:.*no trials in group|.*fewer than two sufficient")
def test_engine_names_the_bound_and_its_p_value():
    """The metrics table says how a zero-error pair's rows were found."""
    rows = []
    for subject, group, misses in [(f"s{k}", "f" if k < 6 else "m", 1 if k < 3 else 0)
                                   for k in range(12)]:
        for j in range(20):
            rows.append({"probe_id": f"{subject}_0", "reference_id": f"{subject}_{j + 1}",
                         "probe_subject": subject, "reference_subject": subject,
                         "score": 0.1 if j < misses else 0.9, "mated": True,
                         "trial_kind": "verification", "fold": None, "rank": None,
                         "best_is_true_entry": None})
    images = pd.DataFrame([{"image_id": f"s{k}_{j}", "subject_id": f"s{k}",
                            "gender": "f" if k < 6 else "m"} for k in range(12)
                           for j in range(21)])
    frame = compute_metrics(pd.DataFrame(rows), images, thresholds=(0.5,), groupings=("gender",),
                            min_subjects=3, min_trials=10).to_pandas()
    pair = frame[(frame["metric"] == "fnmr") & (frame["group_b"] == "m")].set_index("statistic")
    assert pair.loc["ratio", "ci_method"] == BOUND
    assert pair.loc["p_value", "ci_method"] == "inverted-mover-r-bound"
    assert pair.loc["min_detectable_ratio", "ci_method"] == "interval-test-power"

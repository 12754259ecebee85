"""Disparity summaries, tests across groups and the power statement."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit.metrics.disparity import (
    BAD_ALPHA,
    CHI_SQUARE,
    FISHER,
    MONTE_CARLO,
    NO_VARIATION,
    design_effects,
    disparity_rows,
    equality_test,
    fairness_discrepancy_rate,
    garbe,
    gini,
    holm,
    max_geomean_ratio,
    max_min_difference,
    max_min_ratio,
    min_detectable_ratio,
)
from audit.metrics.rates import UndefinedRateWarning


def test_summaries_hand_worked():
    rates = np.array([0.1, 0.2, 0.3])
    assert max_min_ratio(rates) == pytest.approx(3.0)
    assert max_min_difference(rates) == pytest.approx(0.2)
    assert max_geomean_ratio(rates) == pytest.approx(0.3 / (0.1 * 0.2 * 0.3) ** (1 / 3))
    # sum over ordered pairs |xi - xj| = 0.8; n/(n-1) * 0.8 / (2 * 9 * 0.2)
    assert gini(rates) == pytest.approx(1.5 * 0.8 / 3.6)
    assert gini(np.array([0.2, 0.2, 0.2])) == 0.0


def test_summaries_at_zero_rates():
    with np.errstate(all="raise"):
        assert np.isinf(max_min_ratio(np.array([0.0, 0.1])))
        assert np.isnan(max_min_ratio(np.array([0.0, 0.0])))
        assert np.isinf(max_geomean_ratio(np.array([0.0, 0.1])))
        assert np.isnan(gini(np.array([0.0, 0.0])))


def test_summaries_reduce_the_last_axis_for_replicates():
    replicates = np.array([[0.1, 0.2], [0.2, 0.2], [0.4, 0.1]])
    np.testing.assert_allclose(max_min_ratio(replicates), [2.0, 1.0, 4.0])
    np.testing.assert_allclose(gini(replicates), [gini(r) for r in replicates])


def test_garbe_and_fdr_hand_worked():
    fmr, fnmr = np.array([0.01, 0.03]), np.array([0.1, 0.1])
    # Gini of two rates a, b: 2 * 2|a-b| / (2 * 4 * mean) = |a-b| / (a+b) = 0.5
    assert garbe(fmr, fnmr) == pytest.approx(0.5 * 0.5)
    assert garbe(fmr, fnmr, alpha=1.0) == pytest.approx(0.5)
    assert fairness_discrepancy_rate(fmr, fnmr) == pytest.approx(1 - 0.5 * 0.02)
    assert fairness_discrepancy_rate(fmr, fnmr, alpha=0.0) == 1.0
    with pytest.raises(ValueError, match=re.escape(BAD_ALPHA.format(alpha=2))):
        garbe(fmr, fnmr, alpha=2)


def test_holm_matches_its_definition():
    rng = np.random.default_rng(0)
    p = rng.random(7) ** 3
    order = np.argsort(p)
    m = p.size
    expected = np.empty(m)
    running = 0.0
    for rank, k in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[k]))
        expected[k] = running
    np.testing.assert_allclose(holm(p), expected)


def test_equality_test_is_pearson_chi_square_with_large_counts():
    errors, trials = np.array([40, 60, 55]), np.array([1000, 1000, 900])
    p, method = equality_test(errors, trials)
    table = np.column_stack([errors, trials - errors])
    assert method == CHI_SQUARE
    assert p == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue)


def test_equality_test_small_counts_are_exact():
    p, method = equality_test(np.array([0, 4]), np.array([20, 20]))
    assert method == FISHER
    assert p == pytest.approx(stats.fisher_exact([[0, 20], [4, 16]]).pvalue)
    p3, method3 = equality_test(np.array([0, 4, 1]), np.array([20, 20, 20]), seed=1)
    assert method3 == MONTE_CARLO and 0 < p3 < 1
    assert equality_test(np.array([0, 4, 1]), np.array([20, 20, 20]), seed=1)[0] == p3


def test_equality_test_without_variation():
    assert equality_test(np.array([0, 0]), np.array([50, 60])) == (1.0, NO_VARIATION)


def test_design_effect_shrinks_the_evidence():
    errors, trials = np.array([40, 70]), np.array([1000, 1000])
    p_plain, _ = equality_test(errors, trials)
    p_clustered, _ = equality_test(errors, trials, design_effect=np.array([4.0, 4.0]))
    assert p_plain < 0.01 < p_clustered


def test_design_effects_from_replicates():
    rng = np.random.default_rng(1)
    binomial = rng.binomial(400, 0.1, (4000, 1)) / 400  # independent trials: deff ~ 1
    inflated = 0.1 + (binomial - 0.1) * 3  # variance x 9
    effects = design_effects(
        np.array([0.1, 0.1]), np.array([400, 400]), np.hstack([binomial, inflated])
    )
    assert effects[0] == pytest.approx(1.0, abs=0.1)
    assert effects[1] == pytest.approx(9.0, rel=0.1)
    np.testing.assert_array_equal(design_effects(np.array([0.0]), np.array([10]), None), [1.0])


@pytest.mark.parametrize(("base", "n"), [(0.01, 10_000), (0.001, 200_000), (0.2, 300)])
def test_min_detectable_ratio_has_the_stated_power(base, n):
    ratio = min_detectable_ratio(base, n, n)
    p1 = base * ratio
    h = 2 * np.arcsin(np.sqrt(p1)) - 2 * np.arcsin(np.sqrt(base))
    power = stats.norm.cdf(h / np.sqrt(2 / n) - stats.norm.ppf(0.975))
    assert power == pytest.approx(0.8, abs=1e-6)
    assert min_detectable_ratio(base, n // 4, n // 4) > ratio


def test_min_detectable_ratio_undefined():
    assert np.isnan(min_detectable_ratio(0.0, 1000, 1000))
    assert np.isnan(min_detectable_ratio(0.9, 5, 5))


def _group_rows(values, trials, errors, subjects, sufficient):
    n = len(values)
    return pd.DataFrame(
        {
            "metric": "fpir",
            "grouping": "ethnicity",
            "group": [f"g{k}" for k in range(n)],
            "stratum": "",
            "threshold": 0.6,
            "operating_point": "deployment",
            "value": values,
            "n_trials": trials,
            "n_errors": errors,
            "n_subjects": subjects,
            "sufficient": sufficient,
        }
    )


def test_disparity_rows_skip_insufficient_groups():
    rows = _group_rows(
        [0.01, 0.05, 0.5], [1000, 1000, 10], [10, 50, 5], [50, 60, 2], [True, True, False]
    )
    replicates = np.random.default_rng(0).uniform(0.005, 0.06, (300, 3))
    out = disparity_rows(rows, replicates, confidence=0.95, seed=0).set_index("metric")
    ratio = out.loc["fpir:max_min_ratio"]
    assert (
        ratio["value"] == pytest.approx(5.0) and ratio["group"] == "g1 / g0"
    )  # g2 is never ranked
    assert ratio["ci_method"] == "bootstrap-subject" and ratio["ci_low"] < ratio["ci_high"]
    assert (ratio["n_trials"], ratio["n_errors"], ratio["n_subjects"]) == (2000, 60, 110)
    assert out.loc["fpir:pairwise_p_holm", "group"] == "g0 vs g1"
    assert out.loc["fpir:equality_p", "ci_method"] in (CHI_SQUARE, FISHER)
    assert out.loc["fpir:min_detectable_ratio", "value"] > 1


def test_disparity_rows_with_one_sufficient_group_warn_and_are_nan():
    rows = _group_rows([0.01, 0.05], [1000, 10], [10, 1], [50, 2], [True, False])
    with pytest.warns(
        UndefinedRateWarning, match="fpir by ethnicity: fewer than two sufficient groups in all"
    ):
        out = disparity_rows(rows, None, confidence=0.95, seed=0)
    assert out["value"].isna().all() and not out["sufficient"].any()

"""Descriptive disparity summaries: hand-worked values, no intervals, insufficient groups left out."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from audit.metrics.disparity import (
    BAD_ALPHA,
    fairness_discrepancy_rate,
    garbe,
    gini,
    max_geomean_ratio,
    max_min_difference,
    max_min_ratio,
    summary_rows,
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
            "point_kind": "deployment",
            "target": np.nan,
            "statistic": "rate",
            "group_b": None,
            "value": values,
            "n_trials": trials,
            "n_errors": errors,
            "n_subjects": subjects,
            "sufficient": sufficient,
        }
    )


def test_summary_rows_skip_insufficient_groups_and_carry_no_interval():
    rows = _group_rows(
        [0.01, 0.05, 0.5], [1000, 1000, 10], [10, 50, 5], [50, 60, 2], [True, True, False]
    )
    out = summary_rows(rows).set_index("statistic")
    ratio = out.loc["max_min_ratio"]
    assert ratio["value"] == pytest.approx(5.0)  # g2 is never ranked
    assert ratio["group"] == "all" and ratio["metric"] == "fpir" and pd.isna(ratio["group_b"])
    assert np.isnan(ratio["ci_low"]) and ratio["ci_method"] is None  # descriptive only
    assert (ratio["n_trials"], ratio["n_errors"], ratio["n_subjects"]) == (2000, 60, 110)
    assert set(out.index) == {"max_min_ratio", "max_min_difference", "max_geomean_ratio", "gini"}


def test_summary_rows_with_one_sufficient_group_warn_and_are_nan():
    rows = _group_rows([0.01, 0.05], [1000, 10], [10, 1], [50, 2], [True, False])
    with pytest.warns(
        UndefinedRateWarning, match="fpir by ethnicity: fewer than two sufficient groups in all"
    ):
        out = summary_rows(rows)
    assert out["value"].isna().all() and not out["sufficient"].any()

"""Deployment projection: crowd arithmetic, propagated intervals, watchlist size."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from audit.metrics.projection import (
    BAD_SHARE,
    NO_IDENTIFICATION,
    WatchlistSizeWarning,
    project_deployment,
)


def _rates(
    group: str = "all", grouping: str = "overall", fpir=(0.002, 0.001, 0.004), fnir=(0.2, 0.1, 0.3)
):
    return pd.DataFrame(
        {
            "metric": ["fpir", "fnir"],
            "grouping": grouping,
            "group": group,
            "threshold": 0.6,
            "value": [fpir[0], fnir[0]],
            "ci_low": [fpir[1], fnir[1]],
            "ci_high": [fpir[2], fnir[2]],
            "ci_method": "wilson-clustered",
            "n_trials": [5000, 400],
            "n_subjects": [500, 100],
            "n_errors": [10, 80],
            "sufficient": [True, True],
            "operating_point": "deployment",
            "statistic": "rate",
            "group_b": None,
            "point_kind": "deployment",
            "target": np.nan,
        }
    )


def _project(rates, **options):
    settings = {
        "crowd_size": 100_000,
        "watchlist_share": 0.001,
        "watchlist_size": 500,
        "audit_watchlist_size": 500,
    }
    settings.update(options)
    return (
        project_deployment(rates, **settings).to_pandas().set_index(["grouping", "group", "metric"])
    )


def test_projection_hand_worked():
    out = _project(_rates())
    off, on = 100_000 * 0.999, 100_000 * 0.001
    false = out.loc[("overall", "all", "projected_false_alerts")]
    assert (false["value"], false["ci_low"], false["ci_high"]) == pytest.approx(
        (off * 0.002, off * 0.001, off * 0.004)
    )
    true = out.loc[("overall", "all", "projected_true_alerts")]
    assert (true["value"], true["ci_low"], true["ci_high"]) == pytest.approx(
        (on * 0.8, on * 0.7, on * 0.9)
    )
    precision = out.loc[("overall", "all", "projected_precision")]
    assert precision["value"] == pytest.approx(80 / (80 + off * 0.002))
    assert precision["ci_low"] == pytest.approx(70 / (70 + off * 0.004))
    assert precision["ci_high"] == pytest.approx(90 / (90 + off * 0.001))
    per_alert = out.loc[("overall", "all", "projected_false_alerts_per_alert")]
    assert per_alert["value"] == pytest.approx(1 - precision["value"])
    assert per_alert["ci_low"] == pytest.approx(1 - precision["ci_high"])
    per_face = out.loc[("overall", "all", "projected_false_alerts_per_face")]
    assert per_face["value"] == pytest.approx(0.999 * 0.002)
    alerts = out.loc[("overall", "all", "projected_alerts")]
    assert alerts["value"] == pytest.approx(off * 0.002 + 80)
    assert alerts["n_trials"] == 5400 and alerts["ci_method"] == "propagated"


def test_projection_by_group_and_nobody_on_the_watchlist():
    rates = pd.concat([_rates(), _rates("female", "gender", fpir=(0.01, 0.005, 0.02))])
    out = _project(rates, watchlist_share=0.0)
    assert out.loc[("gender", "female", "projected_false_alerts"), "value"] == pytest.approx(1000.0)
    assert out.loc[("gender", "female", "projected_precision"), "value"] == 0.0
    assert np.isnan(
        _project(_rates(fpir=(0.0, 0.0, 0.0)), watchlist_share=0.0).loc[
            ("overall", "all", "projected_precision"), "value"
        ]
    )


def test_projection_at_another_watchlist_size_warns():
    with pytest.warns(WatchlistSizeWarning, match="measured with a watchlist of 500 people"):
        _project(_rates(), watchlist_size=5000)


@pytest.mark.parametrize(
    ("rates", "options", "message"),
    [
        (_rates().iloc[:0], {}, NO_IDENTIFICATION),
        (_rates(), {"watchlist_share": 1.5}, BAD_SHARE.format(share=1.5)),
        (_rates(), {"crowd_size": 0}, "crowd_size must be a positive integer"),
    ],
)
def test_projection_bad_input(rates, options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        _project(rates, **options)


def test_false_alerts_need_only_a_sufficient_false_alert_rate():
    import pandas as pd

    from audit.metrics.projection import project_deployment

    rows = pd.DataFrame({
        "metric": ["fpir", "fnir"], "grouping": "gender", "group": "female",
        "threshold": 0.6, "value": [0.01, 0.2], "ci_low": [0.005, 0.1],
        "ci_high": [0.02, 0.3], "ci_method": "wilson", "n_trials": [2000, 50],
        "n_subjects": [300, 10], "n_errors": [20, 10], "sufficient": [True, False],
        "operating_point": "deployment", "statistic": "rate", "group_b": None,
        "point_kind": "deployment", "target": None})
    out = project_deployment(rows, crowd_size=1000, watchlist_share=0.01, watchlist_size=10,
                             audit_watchlist_size=10).to_pandas().set_index("metric")
    assert out.loc["projected_false_alerts_per_face", "sufficient"]
    assert out.loc["projected_false_alerts", "n_trials"] == 2000
    assert not out.loc["projected_true_alerts", "sufficient"]
    assert not out.loc["projected_precision", "sufficient"]
    assert out.loc["projected_precision", "n_trials"] == 2050


def test_without_searches_of_watchlisted_people_false_alerts_still_project():
    """A dataset without identities (UTKFace) has FPIR but no FNIR rows: the false
    alerts project as with misses, and every figure that needs the miss rate is NaN."""
    fpir_only = _rates().iloc[:1]
    out = _project(fpir_only)
    off = 100_000 * 0.999
    false = out.loc[("overall", "all", "projected_false_alerts")]
    assert (false["value"], false["ci_low"], false["ci_high"]) == pytest.approx(
        (off * 0.002, off * 0.001, off * 0.004))
    assert false["n_trials"] == 5000
    for figure in ("projected_true_alerts", "projected_precision", "projected_alerts"):
        assert np.isnan(out.loc[("overall", "all", figure), "value"])
        assert not out.loc[("overall", "all", figure), "sufficient"]

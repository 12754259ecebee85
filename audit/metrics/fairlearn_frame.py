"""Fairlearn's MetricFrame over a breakdown's collapsed counts, and back to long rows.

:mod:`audit.metrics.groups` collapses each group's trials to one row per
(rate, threshold, group, decision) with its count; :func:`metric_frame` asks
MetricFrame for every group's rate from those rows, and :func:`metric_frame_rows`
is the one adapter from its wide ``by_group`` result to long rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from audit.metrics import trials

# Working column names, underscored so that no label column of the images table clashes.
RATE = "_rate"
THRESHOLD_INDEX = "_threshold_index"
MATED = "_mated"
DECISION = "_decision"
WEIGHT = "_n"


def _error_share(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    """Weighted share of wrong decisions: FPR on non-mated rows, FNR on mated rows."""
    return float(np.sum(sample_weight * (y_true != y_pred)) / np.sum(sample_weight))


def metric_frame(collapsed: pd.DataFrame, grouping: trials.Grouping) -> MetricFrame:
    """MetricFrame over collapsed counts: the rate (``value``) of every group.

    ``y_true`` is each row's ground truth (mated or not) and ``y_pred`` the
    decision at the row's threshold, so the value is Fairlearn's false
    positive rate for non-mated rates (FMR, FPIR) and false negative rate for
    mated ones (FNMR, FNIR): every rate's rows are all of one class. The count
    reaches the metric as ``sample_weight``; the rate, the threshold index
    and the grouping's control columns are ``control_features``. The counts
    themselves are the integer sums the collapsed rows were made from
    (:func:`audit.metrics.groups.breakdowns`): asking MetricFrame to add them up again would
    triple its per-group work (one Python call per group and metric) for the
    same numbers.
    """
    weight = {"sample_weight": collapsed[WEIGHT].to_numpy(np.float64)}
    if grouping.sensitive:
        sensitive = collapsed.loc[:, list(grouping.columns[: _n_sensitive(grouping)])]
    else:
        sensitive = pd.Series(trials.ALL, index=collapsed.index, name=trials.OVERALL)
    controls = [RATE, THRESHOLD_INDEX, *grouping.control]
    return MetricFrame(
        metrics={"value": _error_share},
        y_true=collapsed[MATED].to_numpy(bool),
        y_pred=collapsed[DECISION].to_numpy(bool),
        sensitive_features=sensitive,
        control_features=collapsed.loc[:, controls],
        sample_params={"value": weight},
    )


def _n_sensitive(grouping: trials.Grouping) -> int:
    return 2 * len(grouping.sensitive) if grouping.cross else len(grouping.sensitive)


def metric_frame_rows(frame: MetricFrame, grouping: trials.Grouping) -> pd.DataFrame:
    """The one adapter: MetricFrame's wide ``by_group`` to long rows.

    Returns one row per (rate, threshold index, group) that has trials, with the
    group label of :meth:`audit.metrics.trials.Grouping.label` and its
    ``value``. Intersections MetricFrame fills
    with NaN because no trial has them are dropped here (the caller decides
    which groups exist).
    """
    wide = frame.by_group.reset_index().dropna(subset=["value"])
    if grouping.sensitive:
        values = wide.loc[:, list(grouping.columns)].astype(str).itertuples(index=False)
        groups = [grouping.label(tuple(v)) for v in values]
    else:
        groups = [trials.ALL] * len(wide)
    return pd.DataFrame(
        {
            RATE: wide[RATE].to_numpy(dtype=object),
            THRESHOLD_INDEX: wide[THRESHOLD_INDEX].to_numpy(np.int64),
            "group": groups,
            "value": wide["value"].to_numpy(np.float64),
        }
    )


def no_measured_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            RATE: np.array([], dtype=object),
            THRESHOLD_INDEX: np.array([], dtype=np.int64),
            "group": np.array([], dtype=object),
            "value": np.array([], dtype=np.float64),
        }
    )

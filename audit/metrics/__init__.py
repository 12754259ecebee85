"""Metrics stage: error rates, groups, uncertainty, disparity, threshold sweeps.

Scores (and images, and per-image FTA) in, rows of the METRICS table out.

* :mod:`~audit.metrics.rates`: one ISO/IEC 19795-1 rate per function (FMR,
  FNMR, FPIR, FNIR, TPIR, FTA) over score arrays at one threshold.
* :mod:`~audit.metrics.sweep`: the one counting kernel, threshold sweeps, DET
  curves, thresholds calibrated to a target FMR/FPIR.
* :mod:`~audit.metrics.trials`: input checks; which trials each rate counts and
  to whose group they belong; grouping specs.
* :mod:`~audit.metrics.groups`: breakdowns at operating points through
  Fairlearn's MetricFrame on collapsed counts.
* :mod:`~audit.metrics.intervals`: Wilson (plain and at the effective size), zero-error bound.
* :mod:`~audit.metrics.disparity`: ratios, Gini/GARBE, FDR, tests, power.
* :mod:`~audit.metrics.projection`: expected alerts for a crowd.
* :mod:`~audit.metrics.score_logs`: reader for exported score logs.
* :mod:`~audit.metrics.engine`: :func:`compute_metrics`.
* :mod:`~audit.metrics.summary`: :func:`summarize_metrics`.
* :mod:`~audit.metrics.table`: the METRICS rows and the ``operating_point`` column.
"""

from audit.metrics.engine import compute_metrics
from audit.metrics.projection import project_deployment
from audit.metrics.score_logs import read_score_logs
from audit.metrics.summary import summarize_metrics
from audit.metrics.sweep import det_curve, threshold_for_target, threshold_sweep

__all__ = [
    "compute_metrics",
    "det_curve",
    "project_deployment",
    "read_score_logs",
    "summarize_metrics",
    "threshold_for_target",
    "threshold_sweep",
]

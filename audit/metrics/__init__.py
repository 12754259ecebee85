"""Metrics stage: error rates, groups, uncertainty, disparity, threshold sweeps.

Scores (and images, and per-image FTA) in, rows of the METRICS table out.

* :mod:`~audit.metrics.rates`: one ISO/IEC 19795-1 rate per function (FMR,
  FNMR, FPIR, FNIR, TPIR, FTA) over score arrays at one threshold.
* :mod:`~audit.metrics.sweep`: the one counting kernel, threshold sweeps, DET
  curves.
* :mod:`~audit.metrics.calibration`: thresholds calibrated to a target FMR/FPIR.
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

import importlib

#: Public names and the module that holds each, imported on first use so that
#: ``import audit.metrics.score_logs`` (and a user mistake) costs no scipy or Fairlearn.
_EXPORTS = {
    "compute_metrics": "engine",
    "det_curve": "sweep",
    "project_deployment": "projection",
    "read_score_logs": "score_logs",
    "summarize_metrics": "summary",
    "threshold_for_target": "calibration",
    "threshold_sweep": "sweep",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"audit.metrics.{_EXPORTS[name]}"), name)

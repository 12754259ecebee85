"""Operating points: where each threshold comes from, and what a calibrated one costs.

Every rate is read at a list of thresholds: the deployment's, fixed ones
audited for reference (deepface's default), thresholds calibrated so that the
*overall* observed FMR (FPIR) is at most a target, and sweep grids. A
calibrated threshold is an estimate, so its own uncertainty must reach the
intervals of every rate read there (:mod:`audit.metrics.variance`, section
"Calibrated thresholds"). That needs the slope of each rate against the
calibration rate around the threshold: each calibrated point therefore brings
two *window* thresholds, where the calibration rate's error count is
``m`` above and below the target's (``m`` = half the target's count, at least
:data:`WINDOW_MIN_ERRORS`). Window points are counted like any other (their
cluster counts feed the slope), but no rate is published for them: Fairlearn's
MetricFrame skips them and they never reach the metrics table.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.metrics import table, trials
from audit.metrics.arrow_lookup import equal_text
from audit.metrics.fairlearn_frame import THRESHOLD_INDEX
from audit.metrics.rates import UndefinedRateWarning
from audit.metrics.calibration import allowed_errors, thresholds_for_targets
from audit.metrics.variance import Influence

#: ``point_kind`` of the internal window thresholds.
WINDOW = "window"
WINDOW_MIN_ERRORS = 10
SKIPPED_TARGET = "{label}: no scores to calibrate on; this operating point is skipped"
#: Calibration rate of each calibrated point kind, and whether FTA stays in its denominator.
CALIBRATED = {table.TARGET_FMR: (trials.FMR, False), table.TARGET_FPIR: (trials.FPIR, True)}


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold to read every rate at, and where it came from (table columns)."""

    label: str
    kind: str
    threshold: float
    target: float | None = None


@dataclass(frozen=True)
class OperatingPoints:
    """The thresholds in reading order; ``windows`` maps a calibrated point's index to its two."""

    points: list[OperatingPoint]
    windows: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def thresholds(self) -> np.ndarray:
        return np.array([p.threshold for p in self.points], dtype=np.float64)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(p.label for p in self.points)

    @property
    def published(self) -> bool:
        """Whether any point (other than a window) exists."""
        return any(p.kind != WINDOW for p in self.points)


def operating_points(
    scores: pa.Table,
    *,
    thresholds: tuple[float, ...],
    labelled: tuple[tuple[str, float], ...],
    target_fmr: tuple[float, ...],
    target_fpir: tuple[float, ...],
    sweep: tuple[float, ...],
) -> OperatingPoints:
    """Deployment points first, then reference, calibrated and sweep points, then windows."""
    points = [OperatingPoint(table.DEPLOYMENT, table.DEPLOYMENT, float(t)) for t in thresholds]
    points += [OperatingPoint(str(label), table.REFERENCE, float(t)) for label, t in labelled]
    windows = []
    for kind, targets in ((table.TARGET_FMR, target_fmr), (table.TARGET_FPIR, target_fpir)):
        spec, keep_fta = CALIBRATED[kind]
        nonmated = calibration_scores(scores, spec)
        for target in targets:
            label = table.target_label(spec.name, target)
            t, *window = thresholds_for_targets(
                nonmated, (target, *_window_targets(nonmated, target, keep_fta)),
                fta_in_denominator=keep_fta)
            if math.isnan(t):
                warnings.warn(SKIPPED_TARGET.format(label=label), UndefinedRateWarning,
                              stacklevel=3)
                continue
            windows.append((len(points), tuple(window)))
            points.append(OperatingPoint(label, kind, t, float(target)))
    points += [OperatingPoint(table.SWEEP, table.SWEEP, float(t)) for t in sweep]
    index = {}
    for position, (low, high) in windows:
        index[position] = (len(points), len(points) + 1)
        points += [OperatingPoint(WINDOW, WINDOW, low), OperatingPoint(WINDOW, WINDOW, high)]
    return OperatingPoints(points, index)


def calibration_scores(scores: pa.Table, spec: trials.RateSpec) -> np.ndarray:
    """Scores of the trials a calibration rate counts (NaN: FTA)."""
    chosen = equal_text(scores["trial_kind"], spec.kind) & (
        scores["mated"].to_numpy(zero_copy_only=False) == spec.mated)
    return scores["score"].to_numpy()[chosen]


def _window_targets(nonmated: np.ndarray, target: float, keep_fta: bool
                    ) -> tuple[float, ...]:
    """Targets of the thresholds where the calibration count is ``m`` above and below the
    target's (none without a trial)."""
    n = int(np.isfinite(nonmated).sum() if not keep_fta else nonmated.size)
    if n == 0:
        return ()
    allowed = allowed_errors(target, n)
    margin = max(WINDOW_MIN_ERRORS, math.ceil(allowed / 2))
    return min(1.0, (allowed + margin) / n), max(0.0, (allowed - margin) / n)


def point_columns(rows: pd.DataFrame, points: OperatingPoints, rate: str) -> pd.DataFrame:
    """``point_kind`` and ``target`` of each rate row, from its threshold index."""
    out = rows.copy()
    if rate == trials.FTA:  # no threshold
        out[table.POINT_KIND], out[table.TARGET] = None, np.nan
        return out
    chosen = [points.points[i] for i in rows[THRESHOLD_INDEX].to_numpy()]
    out[table.POINT_KIND] = [p.kind for p in chosen]
    out[table.TARGET] = [np.nan if p.target is None else p.target for p in chosen]
    return out


@dataclass(frozen=True)
class Reference:
    """The calibration rate's overall rates and influence, one column per point index."""

    rates: np.ndarray
    influence: Influence


def calibrated(
    rows: pd.DataFrame,
    rates: np.ndarray,
    influence: Influence,
    points: OperatingPoints,
    references: dict[str, Reference],
) -> Influence:
    """Influence of every row with the calibrated thresholds' uncertainty added.

    A row read at a calibrated point gets ``u_r - k u_R`` with ``k`` the
    change of its rate across the point's window over the change of the
    calibration rate ``R``; other rows are unchanged. A slope that cannot be
    estimated (no trials, or an empty window) is taken as 0.
    """
    index = rows[THRESHOLD_INDEX].to_numpy()
    group = rows.groupby(THRESHOLD_INDEX, sort=False).cumcount().to_numpy()
    position = {(t, g): k for k, (t, g) in enumerate(zip(index, group, strict=True))}
    for kind, (spec, _) in CALIBRATED.items():
        reference = references.get(spec.name)
        if reference is None:
            continue
        source = np.zeros(len(rows), dtype=np.int64)
        slopes = np.zeros(len(rows))
        for point, (low, high) in points.windows.items():
            if points.points[point].kind != kind:
                continue
            change = reference.rates[low] - reference.rates[high]
            for k in np.flatnonzero(index == point):
                lo, hi = position.get((low, group[k])), position.get((high, group[k]))
                if lo is None or hi is None or not change > 0:
                    continue
                slope = (rates[lo] - rates[hi]) / change
                source[k], slopes[k] = point, slope if np.isfinite(slope) else 0.0
        if slopes.any():
            influence = influence.minus(reference.influence, source, slopes)
    return influence

"""Data of the threshold figures: rate sweeps, DET curves and disparity by threshold.

All three read the metrics table's sweep rows (``point_kind == "sweep"``):

* :class:`Sweep` and :class:`Det`: each group's rates on the 200-point grid
  (no intervals), for rate-against-threshold and DET curves.
* :class:`DisparityCurve`: one fixed pair's ratio with its *pointwise*
  interval on the 41-point contrast grid. The pairs are those the summary
  states (:func:`audit.report.findings.stated_pairs`) at the first audited
  point (the deployment threshold): each other group against the audit spec's
  reference group when it names one (one curve per pair, ``other /
  reference``), else the highest against the lowest group with enough data
  (``high / low``); each stays the same pair at every threshold. The table
  orders each pair by the estimates at that threshold; where the two groups
  swap places, the row is read the other way round (the ratio of the same two
  rates inverted, its interval ends inverted and swapped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from audit.metrics import contrasts
from audit.metrics import table as columns
from collections.abc import Mapping

from audit.report.findings import stated_pairs
from audit.report.panels import ERROR_PAIRS
from audit.report.reading import ALL, OVERALL, MetricsIndex, OperatingPoint, number, slug

#: Rates that get a disparity-by-threshold figure, in order.
DISPARITY_RATES = ("fpir", "fnir", "fmr", "fnmr")


@dataclass(frozen=True)
class Series:
    """A rate of one group against threshold (sweep rows; no intervals)."""

    group: str
    thresholds: tuple[float, ...]
    values: tuple[float | None, ...]
    sufficient: bool


#: A rate sweep's axis shows thresholds where the overall non-mated rate is at most
#: FOCUS_NONMATED and the overall mated rate at most FOCUS_MATED (and every audited point).
FOCUS_NONMATED = 0.10
FOCUS_MATED = 0.50
#: Margin on each side of the focused range, as a share of its width.
FOCUS_PAD = 0.04


@dataclass(frozen=True)
class Sweep:
    """Rates of a family by one grouping against threshold, one series per group.

    ``marks`` are every audited operating point, each drawn and named.
    """

    id: str
    family: str
    grouping: str
    metrics: tuple[str, ...]
    series: tuple[tuple[Series, ...], ...]  # per metric, per group (overall first)
    marks: tuple[OperatingPoint, ...]

    @property
    def drawable(self) -> tuple[str, ...]:
        """The rates with at least one sufficient group with a positive rate to draw."""
        return tuple(m for m, series in zip(self.metrics, self.series, strict=True)
                     if any(s.sufficient and any(v for v in s.values) for s in series))

    @property
    def focus(self) -> tuple[float, float] | None:
        """The threshold range worth reading: where the overall non-mated rate
        (first metric) has fallen to :data:`FOCUS_NONMATED` or less, up to where the
        overall mated rate (second) passes :data:`FOCUS_MATED` -- or, without a
        mated rate, where the non-mated rate reaches 0 -- widened to every audited
        point, with a margin of :data:`FOCUS_PAD` each side (within the grid).
        None without an overall line."""
        overall = [next((s for s in series if s.group == ALL), None) for series in self.series]
        if overall[0] is None:
            return None
        points = list(zip(overall[0].thresholds, overall[0].values, strict=True))
        left = next((t for t, v in points if v is not None and v <= FOCUS_NONMATED), points[0][0])
        mated = overall[1] if len(overall) > 1 else None
        if mated is not None and any(v for v in mated.values):
            right = next((t for t, v in zip(mated.thresholds, mated.values, strict=True)
                          if v is not None and v > FOCUS_MATED), mated.thresholds[-1])
        else:
            right = max((t for t, v in points if v), default=points[-1][0])
        marks = [m.threshold for m in self.marks]
        low, high = min([left, *marks]), max([right, *marks])
        if low >= high:
            return points[0][0], points[-1][0]
        pad = FOCUS_PAD * (high - low)  # a mark at an end stays visible
        return max(low - pad, points[0][0]), min(high + pad, points[-1][0])


@dataclass(frozen=True)
class DetCurve:
    """A DET curve per group: non-mated rate (x) against mated rate (y)."""

    group: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    sufficient: bool
    marks: tuple[tuple[float, float, str], ...]  # (x, y, operating point id)


@dataclass(frozen=True)
class Det:
    id: str
    family: str
    grouping: str
    x_metric: str
    y_metric: str
    curves: tuple[DetCurve, ...]


@dataclass(frozen=True)
class RatioAt:
    """The fixed pair's ratio at one threshold with its pointwise interval.

    ``ratio`` None: undefined (neither group had an error), zero (only
    ``high`` had none) or unbounded (only ``low`` had none: ``low`` is then
    the "at least" bound); ``low`` None: no lower limit above 0; ``high``
    None: no upper limit. ``shown``: the interval excludes 1.
    """

    threshold: float
    ratio: float | None
    low: float | None
    high: float | None
    shown: bool


@dataclass(frozen=True)
class DisparityCurve:
    """Ratio of ``numerator``'s rate over ``denominator``'s across the threshold range.

    ``reference``: the denominator is the audit spec's reference group (else
    the pair is the highest against the lowest group at ``chosen_at``).
    """

    id: str
    metric: str
    grouping: str
    numerator: str
    denominator: str
    chosen_at: OperatingPoint
    points: tuple[RatioAt, ...]
    marks: tuple[OperatingPoint, ...]
    reference: bool = False

    @property
    def shown_thresholds(self) -> tuple[float, ...]:
        return tuple(p.threshold for p in self.points if p.shown)

    @property
    def shown_runs(self) -> tuple[tuple[float, float], ...]:
        """Consecutive grid thresholds where the interval excludes 1, as (first, last)."""
        runs: list[list[float]] = []
        previous = False
        for p in self.points:
            if p.shown and previous:
                runs[-1][1] = p.threshold
            elif p.shown:
                runs.append([p.threshold, p.threshold])
            previous = p.shown
        return tuple((a, b) for a, b in runs)

    def at(self, point: OperatingPoint) -> RatioAt | None:
        """The grid entry at an audited threshold (the sweep grid includes them)."""
        return next((p for p in self.points if p.threshold == point.threshold), None)


def _series(rows: pd.DataFrame) -> list[Series]:
    out = []
    for group, block in rows.groupby("group", sort=False):
        block = block.sort_values("threshold", kind="stable")
        out.append(Series(
            group=str(group),
            thresholds=tuple(float(t) for t in block["threshold"]),
            values=tuple(number(v) for v in block["value"]),
            sufficient=bool(block["sufficient"].all()),
        ))
    return out


def sweeps(index: MetricsIndex, groupings: tuple[str, ...],
           marks: tuple[OperatingPoint, ...]) -> tuple[tuple[Sweep, ...], tuple[Det, ...]]:
    """Rate sweeps and DET curves per family and grouping (overall curve included)."""
    rows = index.sweep_rates
    found_sweeps, dets = [], []
    for family, pair in ERROR_PAIRS.items():
        family_rows = rows[rows["metric"].isin(pair)]
        present = set(family_rows["grouping"].astype(str))
        chosen = [g for g in groupings if g in present] or ([OVERALL] if OVERALL in present else [])
        for grouping in chosen:
            series = []
            for metric in pair:
                of_metric = family_rows[family_rows["metric"] == metric]
                line = _series(of_metric[of_metric["grouping"] == OVERALL])
                if grouping != OVERALL:
                    line += _series(of_metric[of_metric["grouping"] == grouping])
                series.append(tuple(line))
            found_sweeps.append(Sweep(slug("sweep", family, grouping), family, grouping, pair,
                                      tuple(series), marks))
            curves = _det_curves(series[0], series[1], index, family, grouping, marks)
            if curves:
                dets.append(Det(slug("det", family, grouping), family, grouping, *pair, curves))
    return tuple(found_sweeps), tuple(dets)


def _det_curves(xs: tuple[Series, ...], ys: tuple[Series, ...], index: MetricsIndex,
                family: str, grouping: str,
                marks: tuple[OperatingPoint, ...]) -> tuple[DetCurve, ...]:
    """Pair the non-mated and mated series of each group at equal thresholds."""
    x_metric, y_metric = ERROR_PAIRS[family]

    def at(metric: str, group: str, point: OperatingPoint):
        rows = index.rates(metric, OVERALL if group == ALL else grouping, point)
        return next((r for r in rows if r.group == group), None)

    by_group = {s.group: s for s in ys}
    curves = []
    for x in xs:
        y = by_group.get(x.group)
        if y is None:
            continue
        y_at = dict(zip(y.thresholds, y.values, strict=True))
        points = [(a, y_at.get(t)) for t, a in zip(x.thresholds, x.values, strict=True)]
        points = [(a, b) for a, b in points if a is not None and b is not None]
        if not points:
            continue
        point_marks = []
        for point in marks:
            bx, by = at(x_metric, x.group, point), at(y_metric, x.group, point)
            if bx is not None and by is not None and bx.available and by.available:
                point_marks.append((bx.value, by.value, point.id))
        curves.append(DetCurve(
            group=x.group, x=tuple(a for a, _ in points), y=tuple(b for _, b in points),
            sufficient=x.sufficient and y.sufficient, marks=tuple(point_marks),
        ))
    return tuple(curves)


def _ratio_at(row: dict, flipped: bool) -> RatioAt:
    """One sweep ratio row as ``high / low`` of the fixed pair (see module notes)."""
    value, low, high = number(row["value"]), number(row["ci_low"]), number(row["ci_high"])
    if flipped:
        def inverse(x: float | None) -> float | None:
            return None if x is None else (math.inf if x == 0 else 1.0 / x)

        value, low, high = inverse(value), inverse(high), inverse(low)
    value = None if value is not None and (value == 0 or math.isinf(value)) else value
    low = None if low == 0 else low
    high = None if high is not None and math.isinf(high) else high
    shown = (low is not None and low > 1.0) or (high is not None and high < 1.0)
    return RatioAt(float(row["threshold"]), value, low, high, shown)


def disparity_curve(index: MetricsIndex, metric: str, grouping: str, pair: tuple[str, str],
                    chosen_at: OperatingPoint, marks: tuple[OperatingPoint, ...],
                    reference: bool = False) -> DisparityCurve | None:
    """``pair[0] / pair[1]`` across the sweep grid; None without sweep pair rows."""
    numerator, denominator = pair
    rows = index.sweep_pairs
    rows = rows[(rows["metric"] == metric) & (rows["grouping"] == grouping)
                & (rows[columns.STATISTIC] == contrasts.RATIO)]
    ahead = (rows["group"] == numerator) & (rows[columns.GROUP_B] == denominator)
    behind = (rows["group"] == denominator) & (rows[columns.GROUP_B] == numerator)
    found = [(r, False) for r in rows[ahead].to_dict(orient="records")]
    found += [(r, True) for r in rows[behind].to_dict(orient="records")]
    if not found:
        return None
    points = sorted((_ratio_at(r, flipped) for r, flipped in found), key=lambda p: p.threshold)
    name = (metric, grouping, numerator, denominator) if reference else (metric, grouping)
    return DisparityCurve(
        id=slug("disparity", *name), metric=metric, grouping=grouping, numerator=numerator,
        denominator=denominator, chosen_at=chosen_at, points=tuple(points), marks=marks,
        reference=reference,
    )


def disparity_curves(index: MetricsIndex, groupings: tuple[str, ...],
                     marks: tuple[OperatingPoint, ...],
                     references: Mapping[str, str] | None = None) -> tuple[DisparityCurve, ...]:
    """The curves of the pairs the summary states, per demographic grouping and rate."""
    if not index.points:
        return ()
    chosen_at = index.points[0]
    references = references or {}
    made = []
    for grouping in groupings:
        for metric in DISPARITY_RATES:
            for pair in stated_pairs(index.rates(metric, grouping, chosen_at),
                                     references.get(grouping)):
                if pair is None:
                    continue
                named = pair[0].group == references.get(grouping)
                groups = (pair[1].group, pair[0].group) if named else (pair[0].group,
                                                                         pair[1].group)
                made.append(disparity_curve(index, metric, grouping, groups, chosen_at, marks,
                                            named))
    return tuple(c for c in made if c is not None)

"""Reading the metrics table: rows found by their structure columns, as typed values.

The metrics stage says what every row is in columns (:mod:`audit.metrics.table`):
``statistic`` (a group's ``rate``, a fixed pair's ``ratio``, ``p_adjusted``...,
a descriptive summary, a ``projection``), ``group`` and ``group_b`` (the higher
and the lower group of a pair; probe and reference group of a cross-group cell),
and ``operating_point`` / ``point_kind`` / ``target`` (where a threshold came
from). :class:`MetricsIndex` files the rows under those columns and hands them on
as the frozen values below. It parses no label and computes no statistic: every
number it returns is the value of a row.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from audit.metrics import contrasts, disparity
from audit.metrics import table as columns
from audit.metrics.size_projection import RATE_AT_SIZE
from audit.metrics.trials import ALL, FMR_CROSS, OVERALL
from audit.report.inputs import RunInfo, ThresholdInfo
from audit.schema import coerce_table

#: Statistics of a fixed pair of groups, one row each (audit.metrics.contrasts).
PAIR_STATISTICS = (contrasts.RATIO, contrasts.DIFFERENCE, contrasts.P_VALUE,
                   contrasts.P_ADJUSTED, contrasts.MIN_DETECTABLE_RATIO)
#: Descriptive summaries of a grouping (audit.metrics.disparity): no interval, no test.
SUMMARY_STATISTICS = tuple(disparity.SUMMARIES) + tuple(disparity.COMBINED)
#: The rate each kind of calibrated threshold was calibrated on.
CALIBRATED_ON = {columns.TARGET_FMR: "fmr", columns.TARGET_FPIR: "fpir"}
#: Order of operating points: the deployment's, thresholds audited for reference, targets.
POINT_ORDER = (columns.DEPLOYMENT, columns.REFERENCE, columns.TARGET_FPIR, columns.TARGET_FMR)
_SLUG = re.compile(r"[^a-z0-9]+")


def slug(*parts: object) -> str:
    """An HTML id from labels: readable, and unique (a short hash of the exact text)."""
    text = "-".join(str(p) for p in parts if p is not None and p != "")
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:6]
    return f"{_SLUG.sub('-', text.lower()).strip('-')[:60]}-{digest}"


def number(x: Any) -> float | None:
    """A float, or None for null/NaN (inf is kept: an unbounded ratio)."""
    if x is None or x is pd.NA:
        return None
    value = float(x)
    return None if math.isnan(value) else value


def _text(x: Any) -> str | None:
    return None if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)) else str(x)


@dataclass(frozen=True)
class Interval:
    """A row's value with its interval; ``low``/``high`` None when the row has none."""

    value: float | None
    low: float | None = None
    high: float | None = None
    method: str | None = None

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    @property
    def unbounded(self) -> bool:
        return self.value is not None and math.isinf(self.value)


def interval(row: Mapping[str, Any] | None) -> Interval | None:
    if row is None:
        return None
    return Interval(number(row["value"]), number(row["ci_low"]), number(row["ci_high"]),
                    _text(row["ci_method"]))


@dataclass(frozen=True)
class GroupRate:
    """One rate of one group at one threshold, with its interval and counts.

    ``sufficient`` False means the group is below the minimum size for *this*
    rate: the report shows "insufficient data" instead of the value.
    ``available`` False means the group had no trial for this rate at all.
    """

    group: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    ci_method: str | None
    n_trials: int
    n_subjects: int
    n_errors: int
    sufficient: bool

    @property
    def available(self) -> bool:
        return self.n_trials > 0 and self.value is not None

    @property
    def shown(self) -> bool:
        """True when the report may state this rate."""
        return self.available and self.sufficient


def group_rate(row: Mapping[str, Any]) -> GroupRate:
    return GroupRate(
        group=str(row["group"]),
        value=number(row["value"]),
        ci_low=number(row["ci_low"]),
        ci_high=number(row["ci_high"]),
        ci_method=_text(row["ci_method"]),
        n_trials=int(row["n_trials"] or 0),
        n_subjects=int(row["n_subjects"] or 0),
        n_errors=int(row["n_errors"] or 0),
        sufficient=bool(row["sufficient"]) if not pd.isna(row["sufficient"]) else False,
    )


@dataclass(frozen=True)
class OperatingPoint:
    """An audited threshold: ``label`` and ``kind`` are the table's
    ``operating_point`` and ``point_kind``; ``target`` the target rate of a
    calibrated threshold. ``source`` and ``how_chosen`` come from the run's
    :class:`~audit.report.inputs.ThresholdInfo` of a fixed threshold."""

    id: str
    label: str
    threshold: float
    kind: str
    target: float | None = None
    source: str | None = None
    how_chosen: str = ""

    @property
    def target_rate(self) -> str | None:
        """``fmr`` or ``fpir`` for a calibrated threshold, else None."""
        return CALIBRATED_ON.get(self.kind)

    @property
    def calibrated(self) -> bool:
        return self.kind in CALIBRATED_ON

    @property
    def key(self) -> tuple[str, float]:
        return (self.label, self.threshold)


@dataclass(frozen=True)
class Comparison:
    """The fixed-pair rows of two named groups at one rate, grouping and point.

    ``high`` is the row's ``group`` (the higher rate), ``low`` its
    ``group_b``. ``ratio`` and ``difference`` carry their intervals (a ratio
    whose lower group had no error is ``inf`` with a lower bound only);
    ``p_value`` is the test inverted from the ratio interval, ``p_adjusted``
    the Benjamini-Hochberg value over the audit's family of tests (None on a
    sweep), ``detectable`` the smallest ratio detectable with 80% power.
    """

    metric: str
    grouping: str
    point: OperatingPoint | None
    high: GroupRate
    low: GroupRate
    ratio: Interval
    difference: Interval
    p_value: float | None
    p_adjusted: float | None
    detectable: float | None
    alpha: float

    @property
    def verdict(self) -> str:
        """``"shown"`` (adjusted p below alpha), ``"not_after_correction"`` (only
        the unadjusted test passes), ``"not_shown"``, or ``"no_errors"`` (neither
        group had an error: the ratio is undefined)."""
        if self.ratio.value is None:
            return "no_errors"
        if self.p_adjusted is not None and self.p_adjusted < self.alpha:
            return "shown"
        if self.p_value is not None and self.p_value < self.alpha:
            return "not_after_correction"
        return "not_shown"

    @property
    def shown(self) -> bool:
        return self.verdict == "shown"


@dataclass(frozen=True)
class Descriptive:
    """The descriptive summaries of one stratum (``"all"`` without a control)."""

    stratum: str
    values: Mapping[str, float | None]  # statistic -> value; no interval, no test
    sufficient: bool


class MetricsIndex:
    """The metrics table filed by its structure columns.

    ``points`` are the audited operating points (sweep excluded), deployment
    first; ``groupings`` the groupings with rate rows (``"overall"`` left out);
    ``n_tests`` the size of the multiple-testing family (the ``p_adjusted``
    rows: every rate, grouping, stratum, pair and audited point).
    """

    def __init__(self, metrics: pa.Table | pd.DataFrame, run: RunInfo) -> None:
        frame = coerce_table(metrics, columns.SCHEMA, "metrics").to_pandas()
        self.alpha = run.statistics.alpha
        swept = frame[columns.POINT_KIND] == columns.SWEEP
        statistic = frame[columns.STATISTIC]
        audited, sweep = frame[~swept], frame[swept]
        rates = audited[statistic[~swept] == columns.RATE]
        cross = rates["metric"] == FMR_CROSS
        self._frame_rates(rates[~cross])
        self._cross = _grouped(rates[cross], ["grouping", "operating_point", "threshold"])
        self._pair_rows = audited[audited[columns.STATISTIC].isin(PAIR_STATISTICS)]
        self._summaries = _grouped(
            audited[audited[columns.STATISTIC].isin(SUMMARY_STATISTICS)],
            ["metric", "grouping", "operating_point", "threshold"])
        # The projection rows, and the rates they were computed from when the metrics
        # stage read them off the watchlist-size curve (``rate_at_size``).
        self._projected = _grouped(
            audited[audited[columns.STATISTIC].isin([columns.PROJECTION, RATE_AT_SIZE])],
            ["operating_point", "threshold"])
        self.sweep_rates = sweep[sweep[columns.STATISTIC] == columns.RATE]
        self.sweep_pairs = sweep[sweep[columns.STATISTIC].isin(PAIR_STATISTICS)]
        self.n_tests = int((audited[columns.STATISTIC] == contrasts.P_ADJUSTED).sum())
        self.rate_methods = tuple(sorted(set(rates["ci_method"].dropna().astype(str))))
        self.pair_methods = tuple(sorted(set(self._pair_rows["ci_method"].dropna().astype(str))))
        self.points = _operating_points(rates, run.system.thresholds)
        self._by_key = {p.key: p for p in self.points}
        seen = dict.fromkeys(rates.loc[~cross, "grouping"].astype(str))
        self.groupings = tuple(g for g in seen if g != OVERALL)
        self._pairs: dict[tuple, dict] = {}
        for key, block in _grouped(self._pair_rows, ["metric", "grouping", "operating_point",
                                                     "threshold"]).items():
            self._pairs[key] = _by_pair(block)

    def _frame_rates(self, rates: pd.DataFrame) -> None:
        self._rates = {
            key: tuple(group_rate(r) for r in block.to_dict(orient="records"))
            for key, block in _grouped(rates, ["metric", "grouping", "operating_point",
                                              "threshold"]).items()
        }
        self.metrics = tuple(dict.fromkeys(rates["metric"].astype(str)))

    def point(self, label: str, threshold: float) -> OperatingPoint | None:
        return self._by_key.get((label, threshold))

    def rates(self, metric: str, grouping: str, point: OperatingPoint | None) -> tuple[GroupRate, ...]:
        """The rate rows of one rate, grouping and point (``None``: FTA, no threshold)."""
        return self._rates.get((metric, grouping, *_key_of(point)), ())

    def overall(self, metric: str, point: OperatingPoint | None) -> GroupRate | None:
        found = self.rates(metric, OVERALL, point)
        return found[0] if found else None

    def comparison(self, metric: str, grouping: str, point: OperatingPoint | None,
                   a: str, b: str) -> Comparison | None:
        """The fixed-pair rows of groups ``a`` and ``b`` (either order), as a Comparison."""
        pairs = self._pairs.get((metric, grouping, *_key_of(point)), {})
        rows = pairs.get((a, b)) or pairs.get((b, a))
        if rows is None:
            return None
        return self._comparison(metric, grouping, point, rows)

    def comparisons(self, metric: str, grouping: str,
                    point: OperatingPoint | None) -> tuple[Comparison, ...]:
        """Every pair of one rate, grouping and point, in table order."""
        pairs = self._pairs.get((metric, grouping, *_key_of(point)), {})
        found = (self._comparison(metric, grouping, point, rows) for rows in pairs.values())
        return tuple(c for c in found if c is not None)

    def _comparison(self, metric: str, grouping: str, point: OperatingPoint | None,
                    rows: Mapping[str, Mapping[str, Any]]) -> Comparison | None:
        ratio = rows.get(contrasts.RATIO)
        if ratio is None:
            return None
        by_group = {r.group: r for r in self.rates(metric, grouping, point)}
        high, low = by_group.get(str(ratio["group"])), by_group.get(str(ratio[columns.GROUP_B]))
        if high is None or low is None:
            return None

        def value(statistic: str) -> float | None:
            row = rows.get(statistic)
            return None if row is None else number(row["value"])

        return Comparison(
            metric=metric, grouping=grouping, point=point, high=high, low=low,
            ratio=interval(ratio), difference=interval(rows.get(contrasts.DIFFERENCE))
            or Interval(None),
            p_value=value(contrasts.P_VALUE), p_adjusted=value(contrasts.P_ADJUSTED),
            detectable=value(contrasts.MIN_DETECTABLE_RATIO), alpha=self.alpha,
        )

    def summaries(self, metric: str, grouping: str,
                  point: OperatingPoint | None) -> tuple[Descriptive, ...]:
        """Descriptive summaries by stratum (the row's ``group``), in table order."""
        rows = self._summaries.get((metric, grouping, *_key_of(point)))
        if rows is None:
            return ()
        out = []
        for stratum, block in rows.groupby("group", sort=False):
            values = {str(r[columns.STATISTIC]): number(r["value"])
                      for r in block.to_dict(orient="records")}
            # The one-rate summaries decide: the combined ones (GARBE, FDR) also need the
            # other rate's groups, and say "not computed" on their own when they lack them.
            own = block[block[columns.STATISTIC].isin(list(disparity.SUMMARIES))]
            out.append(Descriptive(str(stratum), values,
                                   bool((own if len(own) else block)["sufficient"].all())))
        return tuple(out)

    def cross(self, grouping: str, point: OperatingPoint) -> pd.DataFrame | None:
        """Cross-group FMR rows of one grouping at one point (``group`` probe, ``group_b`` reference)."""
        return self._cross.get((grouping, *point.key))

    def cross_groupings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(key[0] for key in self._cross))

    def projected(self, point: OperatingPoint) -> pd.DataFrame | None:
        """The ``projection`` rows at one point, with their ``rate_at_size`` rows if any."""
        return self._projected.get(point.key)


def _key_of(point: OperatingPoint | None) -> tuple[str, float | None]:
    return ("", None) if point is None else point.key


def _grouped(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, pd.DataFrame]:
    """Blocks of ``frame`` by ``keys``, in table order; ``operating_point`` and
    ``threshold`` are filed as ``""`` and None when null (FTA rows)."""
    if not len(frame):
        return {}
    parts = []
    for key in keys:
        values = frame[key].tolist()
        if key == columns.OPERATING_POINT:
            values = ["" if _text(v) is None else str(v) for v in values]
        elif key == "threshold":
            values = [number(v) for v in values]
        parts.append(values)
    positions: dict[tuple, list[int]] = {}
    for i, key in enumerate(zip(*parts, strict=True)):
        positions.setdefault(key, []).append(i)
    return {key: frame.iloc[rows] for key, rows in positions.items()}


def _by_pair(block: pd.DataFrame) -> dict[tuple[str, str], dict[str, Mapping[str, Any]]]:
    """Pair rows by (group, group_b), then by statistic."""
    out: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}
    for row in block.to_dict(orient="records"):
        pair = (str(row["group"]), str(row[columns.GROUP_B]))
        out.setdefault(pair, {})[str(row[columns.STATISTIC])] = row
    return out


def _operating_points(rates: pd.DataFrame, known: tuple[ThresholdInfo, ...]) -> tuple[OperatingPoint, ...]:
    """The audited operating points of the rate rows, in :data:`POINT_ORDER`."""
    rows = rates[rates[columns.POINT_KIND].notna()]
    rows = rows.drop_duplicates([columns.OPERATING_POINT, "threshold"])
    by_value = {t.value: t for t in known}
    run_order = [t.value for t in known]
    points = []
    for row in rows.to_dict(orient="records"):
        threshold, kind = float(row["threshold"]), str(row[columns.POINT_KIND])
        info = None if kind in CALIBRATED_ON else _matching(by_value, threshold)
        points.append(OperatingPoint(
            id=slug("op", row[columns.OPERATING_POINT], f"{threshold:.6g}"),
            label=str(row[columns.OPERATING_POINT]), threshold=threshold, kind=kind,
            target=number(row[columns.TARGET]),
            source=info.source if info else None, how_chosen=info.how_chosen if info else "",
        ))

    def order(p: OperatingPoint) -> tuple:
        rank = POINT_ORDER.index(p.kind) if p.kind in POINT_ORDER else len(POINT_ORDER)
        known_at = next((i for i, v in enumerate(run_order) if math.isclose(v, p.threshold,
                                                                            abs_tol=1e-12)),
                        len(run_order))
        return (rank, known_at, -(p.target or 0.0), p.threshold)

    return tuple(sorted(points, key=order))


def _matching(by_value: Mapping[float, ThresholdInfo], threshold: float) -> ThresholdInfo | None:
    return next((info for value, info in by_value.items()
                 if math.isclose(value, threshold, abs_tol=1e-12)), None)


__all__ = ["ALL", "OVERALL", "Comparison", "GroupRate", "Interval", "MetricsIndex",
           "OperatingPoint", "Descriptive", "slug"]

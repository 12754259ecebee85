"""The report's data: one typed, frozen context built from the metrics table.

:func:`build_context` reads the metrics stage's table
(:data:`audit.metrics.table.SCHEMA`: METRICS columns plus
``operating_point``) and a :class:`~audit.report.inputs.RunInfo`, and
returns a :class:`ReportContext`. The context holds numbers, labels, flags
and codes, never words or markup: the templates in ``reports/templates/``
word everything, and figures are drawn from the context while rendering.

Row kinds of the metrics table, as the context reads them:

* rate rows: ``metric`` one of ``fta``, ``fmr``, ``fnmr``, ``fnmr_incl_fta``,
  ``fpir``, ``fnir``, ``fmr_cross``; ``operating_point`` ``"deployment"``,
  ``"target_<rate>=<x>"``, ``"sweep"`` or null (``fta``);
* disparity rows ``"<rate>:<statistic>"`` and combined rows
  ``"garbe(<a>,<b>)"``, ``"fdr(<a>,<b>)"`` (:mod:`audit.metrics.disparity`).

Unknown metrics are ignored, so the report keeps working as the metrics stage
grows.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.policy import PolicyOutcome
from audit.report import deployment
from audit.report.changes import Changes
from audit.report.inputs import (
    DatasetInfo,
    FaceImage,
    GroupCount,
    ProjectionInputs,
    RunInfo,
    StatisticsInfo,
    SystemUnderTest,
    ThresholdInfo,
    WatchlistDesign,
)
from audit.schema import METRICS, check_table

OPERATING_POINT = "operating_point"
DEPLOYMENT = "deployment"
SWEEP = "sweep"
OVERALL = "overall"
ALL = "all"
CONTROL = " | "
CROSS = " -> "
FMR_CROSS = "fmr_cross"

#: Rate families: the rates shown side by side in one table and figure.
FAMILIES: dict[str, tuple[str, ...]] = {
    "fta": ("fta",),
    "identification": ("fpir", "fnir"),
    "verification": ("fmr", "fnmr", "fnmr_incl_fta"),
}
#: Non-mated and mated rate of each family with a threshold (sweeps, DET, GARBE).
ERROR_PAIRS: dict[str, tuple[str, str]] = {
    "identification": ("fpir", "fnir"),
    "verification": ("fmr", "fnmr"),
}
#: Rates the summary states a finding for, in this order.
KEY_METRICS = ("fpir", "fnir", "fmr", "fnmr", "fta")
RATE_METRICS = frozenset(m for rates in FAMILIES.values() for m in rates) | {FMR_CROSS}
_TARGET = re.compile(r"^target_(?P<rate>[a-z_]+)=(?P<value>[0-9.eE+-]+)$")
_SLUG = re.compile(r"[^a-z0-9]+")


# -- small value types ---------------------------------------------------------


def _num(x: Any) -> float | None:
    """A float, or None for null/NaN (inf is kept: an unbounded ratio)."""
    if x is None or x is pd.NA:
        return None
    value = float(x)
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class Interval:
    """A statistic with its interval; ``low``/``high`` None when not computed."""

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


@dataclass(frozen=True)
class GroupRate:
    """One rate of one group at one threshold, with its interval and counts.

    ``sufficient`` False means the group is below the minimum size: the
    report shows "insufficient data" instead of the value. ``available``
    False means the group had no trial for this rate at all.
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


@dataclass(frozen=True)
class PairTest:
    """Holm-adjusted test of equal rates between two groups."""

    a: str
    b: str
    p: float | None
    method: str | None


@dataclass(frozen=True)
class Disparity:
    """Disparity summaries of one rate within one stratum of a grouping.

    ``stratum`` is ``"all"`` without a control column, else the control
    level. ``difference_shown`` is True when the max/min ratio's interval
    excludes 1 (or, without an interval, the test is significant) and the
    test (when present) rejects equal rates at ``alpha``; False when a
    difference was looked for and not shown; None when fewer than two groups
    are sufficient.
    """

    stratum: str
    high_group: str | None
    low_group: str | None
    ratio: Interval | None
    difference: Interval | None
    geomean_ratio: Interval | None
    gini: Interval | None
    equality_p: float | None
    test: str | None
    pair_p: float | None
    pair_test: str | None
    min_detectable_ratio: float | None
    pairwise: tuple[PairTest, ...]
    n_sufficient: int
    difference_shown: bool | None


@dataclass(frozen=True)
class OperatingPoint:
    """An operating threshold found in the metrics table.

    ``kind`` is ``"deployment"``, ``"target"`` or ``"other"``; for a target,
    ``target_rate`` (``fmr``/``fpir``) and ``target`` hold what was asked.
    ``source`` and ``how_chosen`` come from the run's
    :class:`~audit.report.inputs.ThresholdInfo` when it lists the threshold.
    """

    id: str
    label: str
    threshold: float
    kind: str
    target_rate: str | None = None
    target: float | None = None
    source: str | None = None
    how_chosen: str = ""


@dataclass(frozen=True)
class RateBlock:
    """One rate by one grouping at one operating point (``None`` for FTA)."""

    metric: str
    grouping: str
    operating_point: OperatingPoint | None
    overall: GroupRate | None
    groups: tuple[GroupRate, ...]
    disparity: tuple[Disparity, ...]

    @property
    def insufficient(self) -> tuple[str, ...]:
        return tuple(g.group for g in self.groups if not g.sufficient)

    @property
    def has_data(self) -> bool:
        return any(g.available for g in self.groups) or (
            self.overall is not None and self.overall.available
        )


@dataclass(frozen=True)
class PanelRow:
    """One group across the rates of a panel (None where a rate lacks the group)."""

    group: str
    rates: tuple[GroupRate | None, ...]


@dataclass(frozen=True)
class Combined:
    """GARBE or FDR of one stratum (``name`` is ``"garbe"`` or ``"fdr"``)."""

    name: str
    rates: tuple[str, str]
    stratum: str
    estimate: Interval


@dataclass(frozen=True)
class Panel:
    """A family of rates by one grouping at one operating point: one table, one figure."""

    id: str
    family: str
    grouping: str
    condition: bool
    operating_point: OperatingPoint | None
    blocks: tuple[RateBlock, ...]
    rows: tuple[PanelRow, ...]
    overall: PanelRow | None
    combined: tuple[Combined, ...]

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(b.metric for b in self.blocks)


@dataclass(frozen=True)
class CrossMatrix:
    """Cross-group FMR at one operating point: ``cells[i][j]`` = probe i vs reference j."""

    id: str
    grouping: str
    operating_point: OperatingPoint
    probe_groups: tuple[str, ...]
    reference_groups: tuple[str, ...]
    cells: tuple[tuple[GroupRate | None, ...], ...]


@dataclass(frozen=True)
class Series:
    """A rate of one group against threshold (sweep rows; no intervals)."""

    group: str
    thresholds: tuple[float, ...]
    values: tuple[float | None, ...]
    sufficient: bool


@dataclass(frozen=True)
class Sweep:
    """Rates of a family by one grouping against threshold, one series per group."""

    id: str
    family: str
    grouping: str
    metrics: tuple[str, ...]
    series: tuple[tuple[Series, ...], ...]  # per metric, per group (overall first)
    marks: tuple[OperatingPoint, ...]


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
class Finding:
    """One key finding of the summary, as data (worded by the template).

    ``kind``:

    * ``"differs"``: ``high`` was ``ratio`` times as likely as ``low``
      (the ratio's interval excludes 1 and the test is significant);
    * ``"differs_unbounded"``: as above but ``low`` had no error, so the
      ratio is unbounded; the difference is shown by the test;
    * ``"not_shown"``: a difference was looked for and not shown;
    * ``"no_errors"``: no sufficient group had an error;
    * ``"too_few_groups"``: fewer than two sufficient groups.
    """

    metric: str
    grouping: str
    operating_point: OperatingPoint | None
    kind: str
    high: GroupRate | None
    low: GroupRate | None
    ratio: Interval | None
    p: float | None
    test: str | None
    min_detectable_ratio: float | None
    insufficient: tuple[str, ...]
    key: bool


@dataclass(frozen=True)
class ProjectionRow:
    """Projected outcome for one group (or ``"all"``) at one operating point.

    The figures apply the rates as measured (the audit's watchlist size):
    ``alerts``, ``false_alerts``, ``true_alerts`` (counts for the crowd),
    ``share_correct`` (share of alerts that are correct), ``per_face`` (false
    alerts per face scanned) and ``per_alert`` (share of alerts that are
    false). ``scaled_per_face`` / ``scaled_false_alerts`` are the sensitivity
    figures for the deployment's watchlist size (None when the sizes are the
    same or the audit's is unknown).
    """

    group: str
    sufficient: bool
    fpir: GroupRate | None
    fnir: GroupRate | None
    alerts: deployment.Estimate
    false_alerts: deployment.Estimate
    true_alerts: deployment.Estimate
    share_correct: deployment.Estimate
    per_face: deployment.Estimate
    per_alert: deployment.Estimate
    scaled_per_face: deployment.Estimate | None
    scaled_false_alerts: deployment.Estimate | None


@dataclass(frozen=True)
class Projection:
    """Deployment projection at one operating point.

    ``source`` is ``"metrics"`` when the figures are the metrics stage's
    ``projected_*`` rows (:func:`audit.metrics.projection.project_deployment`),
    ``"report"`` when the report computed them with the same formulas.
    ``scale`` is deployment / audit watchlist size when both are known and
    differ (the sensitivity figures use it), else None.
    """

    inputs: ProjectionInputs
    operating_point: OperatingPoint
    audit_watchlist: int | None
    scale: float | None
    source: str
    overall: ProjectionRow
    groupings: tuple[tuple[str, tuple[ProjectionRow, ...]], ...]


@dataclass(frozen=True)
class Composition:
    """Subjects and images by group of one grouping, per dataset or overall."""

    dataset: str | None  # None: from the metrics table (FTA rows), all datasets
    grouping: str
    rows: tuple[GroupCount, ...]


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str


@dataclass(frozen=True)
class Summary:
    primary: OperatingPoint | None
    overall: tuple[GroupRate | None, ...]  # aligned with ``metrics``
    metrics: tuple[str, ...]
    findings: tuple[Finding, ...]
    projection: Projection | None


@dataclass(frozen=True)
class Results:
    fta: tuple[Panel, ...]
    identification: tuple[Panel, ...]
    verification: tuple[Panel, ...]
    cross: tuple[CrossMatrix, ...]
    conditions: tuple[Panel, ...]
    sweeps: tuple[Sweep, ...]
    dets: tuple[Det, ...]


@dataclass(frozen=True)
class ReportContext:
    """Everything the templates need, typed and frozen.

    The report's sections read: ``run`` (title, id, date, system, watchlist,
    datasets, statistics), ``operating_points``, ``summary``, ``projection``,
    ``results``, ``compositions``, ``groupings``/``conditions`` (the
    demographic and condition groupings seen), ``ci_methods`` (how the
    intervals in the table were computed), ``tests`` (tests used),
    ``provenance`` and ``spec`` (flattened key/value pairs) and ``faces``
    (empty unless face images were explicitly asked for), ``policy`` (the
    typed :class:`audit.policy.PolicyOutcome` read back from ``policy.json``,
    when recorded) and ``changes`` (since an
    earlier run, when given).
    """

    run: RunInfo
    operating_points: tuple[OperatingPoint, ...]
    summary: Summary
    projection: Projection | None
    results: Results
    compositions: tuple[Composition, ...]
    groupings: tuple[str, ...]
    conditions: tuple[str, ...]
    ci_methods: tuple[str, ...]
    tests: tuple[str, ...]
    provenance: tuple[KeyValue, ...]
    spec: tuple[KeyValue, ...]
    faces: tuple[FaceImage, ...]
    policy: PolicyOutcome | None = None
    changes: Changes | None = None


# -- building ------------------------------------------------------------------


def _slug(*parts: object) -> str:
    """An HTML id from labels: readable, and unique (a short hash of the exact text)."""
    text = "-".join(str(p) for p in parts if p is not None and p != "")
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:6]
    return f"{_SLUG.sub('-', text.lower()).strip('-')[:60]}-{digest}"


def _group_rate(row: Mapping[str, Any]) -> GroupRate:
    return GroupRate(
        group=str(row["group"]),
        value=_num(row["value"]),
        ci_low=_num(row["ci_low"]),
        ci_high=_num(row["ci_high"]),
        ci_method=None if pd.isna(row["ci_method"]) else str(row["ci_method"]),
        n_trials=int(row["n_trials"] or 0),
        n_subjects=int(row["n_subjects"] or 0),
        n_errors=int(row["n_errors"] or 0),
        sufficient=bool(row["sufficient"]) if not pd.isna(row["sufficient"]) else False,
    )


def _interval(row: Mapping[str, Any] | None) -> Interval | None:
    if row is None:
        return None
    return Interval(
        _num(row["value"]),
        _num(row["ci_low"]),
        _num(row["ci_high"]),
        None if pd.isna(row["ci_method"]) else str(row["ci_method"]),
    )


def _frame(metrics: pa.Table | pd.DataFrame) -> pd.DataFrame:
    table = metrics if isinstance(metrics, pa.Table) else pa.Table.from_pandas(metrics, preserve_index=False)
    table = check_table(table, METRICS, "metrics")
    frame = table.to_pandas()
    if OPERATING_POINT not in frame.columns:
        frame[OPERATING_POINT] = None
    frame[OPERATING_POINT] = frame[OPERATING_POINT].astype(object).where(
        frame[OPERATING_POINT].notna(), None
    )
    return frame


def _operating_points(rates: pd.DataFrame, run: RunInfo) -> tuple[OperatingPoint, ...]:
    """Operating thresholds of the table: deployment (run order), then targets."""
    pairs = (
        rates[rates[OPERATING_POINT].notna() & (rates[OPERATING_POINT] != SWEEP)]
        .loc[:, [OPERATING_POINT, "threshold"]]
        .dropna()
        .drop_duplicates()
    )
    known = {round(t.value, 12): t for t in run.system.thresholds}
    run_order = [round(t.value, 12) for t in run.system.thresholds]
    points = []
    for label, threshold in pairs.itertuples(index=False):
        info: ThresholdInfo | None = known.get(round(float(threshold), 12))
        match = _TARGET.match(label)
        if label == DEPLOYMENT:
            kind, rate, target = DEPLOYMENT, None, None
        elif match:
            kind, rate, target = "target", match["rate"], float(match["value"])
        else:
            kind, rate, target = "other", None, None
        points.append(
            OperatingPoint(
                id=_slug("op", label, f"{float(threshold):.6g}"),
                label=str(label),
                threshold=float(threshold),
                kind=kind,
                target_rate=rate,
                target=target,
                source=info.source if info and kind != "target" else None,
                how_chosen=info.how_chosen if info and kind != "target" else "",
            )
        )

    def order(p: OperatingPoint) -> tuple:
        key = round(p.threshold, 12)
        if p.kind == DEPLOYMENT:
            return (0, run_order.index(key) if key in run_order else len(run_order), p.threshold)
        if p.kind == "target":
            return (1 if p.target_rate == "fpir" else 2, p.target_rate or "", -(p.target or 0.0))
        return (3, p.label, p.threshold)

    return tuple(sorted(points, key=order))


def _stratum_of(label: str, strata: Iterable[str]) -> str:
    for stratum in strata:
        if stratum != ALL and label.endswith(CONTROL + stratum):
            return stratum
    return ALL


def _split_pair(text: str, labels: list[str], sep: str) -> tuple[str, str] | None:
    """The two known labels joined by ``sep`` in ``text`` (labels may contain ``sep``)."""
    for a in labels:
        if text.startswith(a + sep) and text[len(a) + len(sep) :] in labels:
            return a, text[len(a) + len(sep) :]
    return None


class _Table:
    """Index of the metrics frame by (metric, grouping, operating point, threshold)."""

    def __init__(self, frame: pd.DataFrame, alpha: float) -> None:
        self.alpha = alpha
        metric = frame["metric"].astype(str)
        self.rates = frame[metric.isin(RATE_METRICS)]
        self.stats = frame[metric.str.contains(":", regex=False)]
        self.combined = frame[metric.str.match(r"^(garbe|fdr)\(")]
        self.projected = frame[metric.isin(list(PROJECTED))]
        points = self.rates[OPERATING_POINT].fillna("")
        self._rates = {k: v for k, v in self.rates.groupby([self.rates["metric"], self.rates["grouping"], points], sort=False)}

    def rows(self, metric: str, grouping: str, point: OperatingPoint | None) -> pd.DataFrame:
        block = self._rates.get((metric, grouping, point.label if point else ""))
        if block is None:
            return self.rates.iloc[0:0]
        if point is not None:
            block = block[np.isclose(block["threshold"].to_numpy(float), point.threshold, rtol=0, atol=1e-12)]
        return block

    def _at(self, frame: pd.DataFrame, grouping: str, point: OperatingPoint | None) -> pd.DataFrame:
        same = frame["grouping"] == grouping
        if point is None:
            same &= frame[OPERATING_POINT].isna()
        else:
            same &= (frame[OPERATING_POINT] == point.label) & np.isclose(
                frame["threshold"].to_numpy(float), point.threshold, rtol=0, atol=1e-12
            )
        return frame[same]

    def block(self, metric: str, grouping: str, point: OperatingPoint | None) -> RateBlock:
        rows = self.rows(metric, grouping, point)
        overall_rows = self.rows(metric, OVERALL, point)
        overall = _group_rate(overall_rows.iloc[0]) if len(overall_rows) else None
        groups = tuple(_group_rate(r) for r in rows.to_dict(orient="records"))
        disparity = self.disparity(metric, grouping, point, groups) if grouping != OVERALL else ()
        return RateBlock(metric, grouping, point, overall, groups, disparity)

    def disparity(
        self, metric: str, grouping: str, point: OperatingPoint | None, groups: tuple[GroupRate, ...]
    ) -> tuple[Disparity, ...]:
        stats = self._at(self.stats, grouping, point)
        stats = stats[stats["metric"].str.startswith(metric + ":")]
        labels = [g.group for g in groups]
        statistic = stats["metric"].str.slice(len(metric) + 1)
        where = stats[statistic.isin(["max_geomean_ratio", "gini", "equality_p", "min_detectable_ratio"])]
        strata = list(dict.fromkeys(where["group"].astype(str))) or [ALL]
        out = []
        for stratum in strata:
            members = [g for g in groups if _stratum_of(g.group, strata) == stratum]
            out.append(self._stratum(stats, statistic, stratum, strata, members, labels))
        return tuple(out)

    def _stratum(
        self,
        stats: pd.DataFrame,
        statistic: pd.Series,
        stratum: str,
        strata: list[str],
        members: list[GroupRate],
        labels: list[str],
    ) -> Disparity:
        def one(name: str) -> Mapping[str, Any] | None:
            rows = stats[(statistic == name) & (stats["group"] == stratum)]
            return rows.iloc[0].to_dict() if len(rows) else None

        def paired(name: str, sep: str) -> list[tuple[tuple[str, str], Mapping[str, Any]]]:
            found = []
            for row in stats[statistic == name].to_dict(orient="records"):
                pair = _split_pair(str(row["group"]), labels, sep)
                if pair and _stratum_of(pair[0], strata) == stratum:
                    found.append((pair, row))
            return found

        sufficient = [g for g in members if g.shown]
        ratio_rows = paired("max_min_ratio", " / ")
        diff_rows = paired("max_min_difference", " / ")
        pairwise = [
            PairTest(a, b, _num(r["value"]), None if pd.isna(r["ci_method"]) else str(r["ci_method"]))
            for (a, b), r in paired("pairwise_p_holm", " vs ")
        ]
        high = low = None
        if ratio_rows:
            high, low = ratio_rows[0][0]
        elif len(sufficient) >= 2:
            ranked = sorted(sufficient, key=lambda g: g.value)
            high, low = ranked[-1].group, ranked[0].group
        ratio = _interval(ratio_rows[0][1]) if ratio_rows else None
        if ratio is None and high is not None:
            by_label = {g.group: g for g in sufficient}
            a, b = by_label[high].value, by_label[low].value
            ratio = Interval(a / b if b else (math.inf if a else None))
        equality = one("equality_p")
        p = _num(equality["value"]) if equality else None
        test = None if equality is None or pd.isna(equality["ci_method"]) else str(equality["ci_method"])
        pair = next((t for t in pairwise if {t.a, t.b} == {high, low}), None)
        mdr = one("min_detectable_ratio")
        return Disparity(
            stratum=stratum,
            high_group=high,
            low_group=low,
            ratio=ratio,
            difference=_interval(diff_rows[0][1]) if diff_rows else None,
            geomean_ratio=_interval(one("max_geomean_ratio")),
            gini=_interval(one("gini")),
            equality_p=p,
            test=test,
            pair_p=pair.p if pair else None,
            pair_test=pair.method if pair else None,
            min_detectable_ratio=_num(mdr["value"]) if mdr else None,
            pairwise=tuple(pairwise),
            n_sufficient=len(sufficient),
            difference_shown=self._shown(ratio, p if pair is None else pair.p, len(sufficient)),
        )

    def _shown(self, ratio: Interval | None, p: float | None, n_sufficient: int) -> bool | None:
        if n_sufficient < 2 or ratio is None or ratio.value is None:
            return None
        significant = None if p is None else p < self.alpha
        if ratio.has_interval:
            excludes_one = ratio.low > 1.0
            return excludes_one and significant is not False
        if significant is not None:
            return significant
        return None

    def combined_for(
        self, family: str, grouping: str, point: OperatingPoint | None
    ) -> tuple[Combined, ...]:
        if family not in ERROR_PAIRS or point is None:
            return ()
        a, b = ERROR_PAIRS[family]
        rows = self._at(self.combined, grouping, point)
        out = []
        for name in ("garbe", "fdr"):
            for row in rows[rows["metric"] == f"{name}({a},{b})"].to_dict(orient="records"):
                out.append(Combined(name, (a, b), str(row["group"]), _interval(row)))
        return tuple(out)


def _panel(
    index: _Table, family: str, grouping: str, point: OperatingPoint | None, condition: bool
) -> Panel | None:
    blocks = tuple(
        index.block(m, grouping, point) for m in FAMILIES[family] if len(index.rows(m, grouping, point))
    )
    if not blocks:
        return None
    order = list(dict.fromkeys(g.group for b in blocks for g in b.groups))
    lookup = [{g.group: g for g in b.groups} for b in blocks]
    rows = tuple(PanelRow(label, tuple(d.get(label) for d in lookup)) for label in order)
    overall = None
    if any(b.overall is not None for b in blocks):
        overall = PanelRow(ALL, tuple(b.overall for b in blocks))
    return Panel(
        id=_slug("panel", family, grouping, point.id if point else "none"),
        family=family,
        grouping=grouping,
        condition=condition,
        operating_point=point,
        blocks=blocks,
        rows=rows,
        overall=overall,
        combined=index.combined_for(family, grouping, point),
    )


def _cross(index: _Table, grouping: str, point: OperatingPoint) -> CrossMatrix | None:
    rows = index.rows(FMR_CROSS, grouping, point)
    if not len(rows):
        return None
    rates = [_group_rate(r) for r in rows.to_dict(orient="records")]
    pairs = []
    for rate in rates:
        probe, sep, reference = rate.group.partition(CROSS)
        if not sep:
            continue
        pairs.append((probe, reference, rate))
    probes = tuple(dict.fromkeys(p for p, _, _ in pairs))
    references = tuple(dict.fromkeys(r for _, r, _ in pairs))
    lookup = {(p, r): rate for p, r, rate in pairs}
    cells = tuple(tuple(lookup.get((p, r)) for r in references) for p in probes)
    return CrossMatrix(_slug("cross", grouping, point.id), grouping, point, probes, references, cells)


def _sweeps(
    index: _Table, groupings: tuple[str, ...], marks: tuple[OperatingPoint, ...]
) -> tuple[tuple[Sweep, ...], tuple[Det, ...]]:
    """Threshold sweeps and DET curves per family and grouping (overall curve included)."""
    rows = index.rates[index.rates[OPERATING_POINT] == SWEEP]
    sweeps, dets = [], []
    marked = tuple(p for p in marks if p.kind == DEPLOYMENT) or marks[:1]
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
            sweeps.append(
                Sweep(_slug("sweep", family, grouping), family, grouping, pair, tuple(series), marked)
            )
            curves = _det_curves(series[0], series[1], index, family, grouping, marked)
            if curves:
                dets.append(Det(_slug("det", family, grouping), family, grouping, *pair, curves))
    return tuple(sweeps), tuple(dets)


def _series(rows: pd.DataFrame) -> list[Series]:
    out = []
    for group, block in rows.groupby("group", sort=False):
        block = block.sort_values("threshold", kind="stable")
        out.append(
            Series(
                group=str(group),
                thresholds=tuple(float(t) for t in block["threshold"]),
                values=tuple(_num(v) for v in block["value"]),
                sufficient=bool(block["sufficient"].all()),
            )
        )
    return out


def _det_curves(
    xs: tuple[Series, ...],
    ys: tuple[Series, ...],
    index: _Table,
    family: str,
    grouping: str,
    marks: tuple[OperatingPoint, ...],
) -> tuple[DetCurve, ...]:
    """Pair the non-mated and mated series of each group at equal thresholds."""
    x_metric, y_metric = ERROR_PAIRS[family]

    def at(metric: str, group: str, point: OperatingPoint) -> GroupRate | None:
        if group == ALL:
            return index.block(metric, OVERALL, point).overall
        return next((g for g in index.block(metric, grouping, point).groups if g.group == group), None)

    by_group = {s.group: s for s in ys}
    curves = []
    for x in xs:
        y = by_group.get(x.group)
        if y is None:
            continue
        y_at = dict(zip(y.thresholds, y.values))
        points = [(a, y_at.get(t)) for t, a in zip(x.thresholds, x.values)]
        points = [(a, b) for a, b in points if a is not None and b is not None]
        if not points:
            continue
        point_marks = []
        for point in marks:
            bx, by = at(x_metric, x.group, point), at(y_metric, x.group, point)
            if bx is not None and by is not None and bx.available and by.available:
                point_marks.append((bx.value, by.value, point.id))
        curves.append(
            DetCurve(
                group=x.group,
                x=tuple(a for a, _ in points),
                y=tuple(b for _, b in points),
                sufficient=x.sufficient and y.sufficient,
                marks=tuple(point_marks),
            )
        )
    return tuple(curves)


def _findings(
    index: _Table, groupings: tuple[str, ...], primary: OperatingPoint | None
) -> tuple[Finding, ...]:
    """Findings per key metric and demographic grouping; the key one per metric first.

    Within a metric, findings are ranked: differences shown (largest ratio
    first, by the lower end of its interval), then not shown, then the rest;
    the first is the metric's key finding.
    """
    out = []
    for metric in KEY_METRICS:
        point = None if metric == "fta" else primary
        if metric != "fta" and point is None:
            continue
        found = []
        for grouping in groupings:
            if CONTROL in grouping:
                continue
            block = index.block(metric, grouping, point)
            if not block.groups:
                continue
            found.append(_finding(block))
        found.sort(key=_rank)
        out.extend(replace(f, key=i == 0) for i, f in enumerate(found))
    return tuple(out)


def _rank(finding: Finding) -> tuple:
    """Sort key: kind first, then the strongest ratio (lower interval end) first."""
    order = ("differs", "differs_unbounded", "not_shown", "no_errors", "too_few_groups")
    ratio = finding.ratio
    if ratio is None or ratio.value is None:
        strength = 0.0
    elif ratio.low is not None:
        strength = ratio.low
    else:
        strength = ratio.value
    return (order.index(finding.kind), -strength)


def _finding(block: RateBlock) -> Finding:
    disparity = block.disparity[0] if block.disparity else None
    by_label = {g.group: g for g in block.groups}
    sufficient = [g for g in block.groups if g.shown]
    high = by_label.get(disparity.high_group) if disparity and disparity.high_group else None
    low = by_label.get(disparity.low_group) if disparity and disparity.low_group else None
    p = test = None
    if disparity is not None:
        p, test = (
            (disparity.pair_p, disparity.pair_test)
            if disparity.pair_p is not None
            else (disparity.equality_p, disparity.test)
        )
    if len(sufficient) < 2 or disparity is None or high is None or low is None:
        kind = "too_few_groups"
    elif all(g.n_errors == 0 for g in sufficient):
        kind = "no_errors"
    elif disparity.difference_shown:
        kind = "differs_unbounded" if low.n_errors == 0 or (disparity.ratio and disparity.ratio.unbounded) else "differs"
    else:
        kind = "not_shown"
    return Finding(
        metric=block.metric,
        grouping=block.grouping,
        operating_point=block.operating_point,
        kind=kind,
        high=high,
        low=low,
        ratio=disparity.ratio if disparity else None,
        p=p,
        test=test,
        min_detectable_ratio=disparity.min_detectable_ratio if disparity else None,
        insufficient=block.insufficient,
        key=False,
    )


#: The metrics stage's projection rows and the ProjectionRow field each fills.
PROJECTED = {
    "projected_alerts": "alerts",
    "projected_false_alerts": "false_alerts",
    "projected_true_alerts": "true_alerts",
    "projected_precision": "share_correct",
    "projected_false_alerts_per_face": "per_face",
    "projected_false_alerts_per_alert": "per_alert",
}


def _estimate(rate: GroupRate | None) -> deployment.Estimate:
    if rate is None:
        return deployment.Estimate(None)
    return deployment.Estimate(rate.value, rate.ci_low, rate.ci_high)


def _projected_rows(index: _Table, point: OperatingPoint) -> dict[tuple[str, str], dict[str, deployment.Estimate]]:
    """The metrics table's ``projected_*`` rows at ``point``, by (grouping, group)."""
    rows = index.projected
    if not len(rows):
        return {}
    rows = rows[
        (rows[OPERATING_POINT] == point.label)
        & np.isclose(rows["threshold"].to_numpy(float), point.threshold, rtol=0, atol=1e-12)
    ]
    out: dict[tuple[str, str], dict[str, deployment.Estimate]] = {}
    for row in rows.to_dict(orient="records"):
        field = PROJECTED[row["metric"]]
        out.setdefault((str(row["grouping"]), str(row["group"])), {})[field] = deployment.Estimate(
            _num(row["value"]), _num(row["ci_low"]), _num(row["ci_high"])
        )
    return out


def _projection(
    index: _Table, run: RunInfo, point: OperatingPoint | None, groupings: tuple[str, ...]
) -> Projection | None:
    """Projection at the primary operating point, overall and by demographic grouping."""
    if point is None:
        return None
    overall_fpir = index.block("fpir", OVERALL, point).overall
    if overall_fpir is None:
        return None
    inputs = run.projection
    audit_w = run.watchlist.size
    scale = inputs.watchlist / audit_w if audit_w and audit_w != inputs.watchlist else None
    given = _projected_rows(index, point)
    crowd, share = inputs.crowd, inputs.share_on_watchlist

    def row(grouping: str, fpir: GroupRate | None, fnir: GroupRate | None) -> ProjectionRow:
        group = fpir.group if fpir is not None else ALL
        figures = given.get((grouping, group))
        if figures is None or len(figures) < len(PROJECTED):
            false = deployment.false_alerts(_estimate(fpir), crowd=crowd, share=share, factor=1.0)
            true = deployment.true_alerts(_estimate(fnir), crowd=crowd, share=share)
            correct = deployment.share_correct(true, false)
            figures = {
                "alerts": deployment.add(false, true),
                "false_alerts": false,
                "true_alerts": true,
                "share_correct": correct,
                "per_face": deployment.divide(false, crowd),
                "per_alert": deployment.complement(correct),
            }
        scaled = scaled_count = None
        if scale is not None and fpir is not None:
            scaled_count = deployment.false_alerts(_estimate(fpir), crowd=crowd, share=share, factor=scale)
            scaled = deployment.divide(scaled_count, crowd)
        # by group the table shows false alerts only (FPIR); overall it also shows
        # the share of alerts that are correct, which needs the miss rate too
        needs_fnir = grouping == OVERALL and fnir is not None
        sufficient = bool(fpir is not None and fpir.shown and (not needs_fnir or fnir.shown))
        return ProjectionRow(
            group=group, sufficient=sufficient, fpir=fpir, fnir=fnir,
            scaled_per_face=scaled, scaled_false_alerts=scaled_count, **figures,
        )

    overall = row(OVERALL, overall_fpir, index.block("fnir", OVERALL, point).overall)
    by_grouping = []
    for grouping in groupings:
        fpir_rows = index.block("fpir", grouping, point).groups
        if fpir_rows:
            fnir_rows = {g.group: g for g in index.block("fnir", grouping, point).groups}
            by_grouping.append((grouping, tuple(row(grouping, g, fnir_rows.get(g.group)) for g in fpir_rows)))
    source = "metrics" if (OVERALL, ALL) in given else "report"
    return Projection(inputs, point, audit_w, scale, source, overall, tuple(by_grouping))


def _compositions(run: RunInfo, index: _Table, groupings: tuple[str, ...]) -> tuple[Composition, ...]:
    out = []
    for dataset in run.datasets:
        by_grouping: dict[str, list[GroupCount]] = {}
        for count in dataset.composition:
            by_grouping.setdefault(count.grouping, []).append(count)
        out.extend(Composition(dataset.name, g, tuple(rows)) for g, rows in by_grouping.items())
    if out:
        return tuple(out)
    for grouping in groupings:
        rows = index.rows("fta", grouping, None)
        if len(rows):
            out.append(
                Composition(
                    None,
                    grouping,
                    tuple(
                        GroupCount(grouping, str(r["group"]), int(r["n_subjects"]), int(r["n_trials"]))
                        for r in rows.to_dict(orient="records")
                    ),
                )
            )
    return tuple(out)


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> tuple[KeyValue, ...]:
    """Nested mappings as dotted keys with string values (lists joined by ", ").

    >>> flatten({"a": {"b": 1, "c": [1, 2]}, "d": None})
    (KeyValue(key='a.b', value='1'), KeyValue(key='a.c', value='1, 2'), KeyValue(key='d', value=''))
    """
    out: list[KeyValue] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.extend(flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            if value and all(isinstance(v, Mapping) for v in value):
                for i, item in enumerate(value):
                    out.extend(flatten(item, f"{name}[{i}]."))
            else:
                out.append(KeyValue(name, ", ".join(str(v) for v in value)))
        else:
            out.append(KeyValue(name, "" if value is None else str(value)))
    return tuple(out)


def _policy(record: Mapping[str, Any]) -> PolicyOutcome | None:
    return PolicyOutcome.from_json(record) if record else None


def build_context(
    metrics: pa.Table | pd.DataFrame,
    run: RunInfo,
    *,
    include_faces: bool = False,
    changes: Changes | None = None,
) -> ReportContext:
    """Build the report's context from the metrics table and the run description.

    Parameters
    ----------
    metrics : pyarrow.Table or DataFrame
        Rows of :data:`audit.metrics.table.SCHEMA` (METRICS plus
        ``operating_point``): rate rows at operating points, optional sweep
        rows, disparity and combined rows. Checked against
        :data:`audit.schema.METRICS`.
    run : RunInfo
        The run's description (system, datasets, projection inputs...).
    include_faces : bool, default=False
        Keep ``run.face_images`` in the context. Without it the report holds
        no face image whatever the run lists.
    changes : Changes, default=None
        Changes since an earlier run (:func:`audit.report.changes.build_changes`);
        the report then gains a "changes since" subsection.

    Returns
    -------
    ReportContext
        Frozen; groups flagged insufficient keep their counts but the
        templates never state their rates, and findings never rank them.
    """
    frame = _frame(metrics)
    index = _Table(frame, run.statistics.alpha)
    rates = index.rates
    points = _operating_points(rates, run)
    primary = points[0] if points else None
    seen = [g for g in dict.fromkeys(rates["grouping"].astype(str)) if g != OVERALL]
    conditions = tuple(g for g in seen if g in run.condition_groupings or CONTROL in g)
    groupings = tuple(g for g in seen if g not in conditions)

    def panels(family: str, chosen: tuple[str, ...], at: tuple[OperatingPoint | None, ...], condition: bool) -> tuple[Panel, ...]:
        made = (_panel(index, family, g, p, condition) for p in at for g in chosen)
        return tuple(p for p in made if p is not None)

    crossed = tuple(
        m
        for m in (
            _cross(index, g, p)
            for p in points
            for g in dict.fromkeys(index.rates.loc[index.rates["metric"] == FMR_CROSS, "grouping"].astype(str))
        )
        if m is not None
    )
    sweeps, dets = _sweeps(index, groupings, points)
    condition_panels = ()
    if primary is not None or conditions:
        condition_panels = panels("fta", conditions, (None,), True) + tuple(
            p
            for family in ("identification", "verification")
            for p in panels(family, conditions, (primary,) if primary else (), True)
        )
    results = Results(
        fta=panels("fta", groupings, (None,), False),
        identification=panels("identification", groupings, points, False),
        verification=panels("verification", groupings, points, False),
        cross=crossed,
        conditions=condition_panels,
        sweeps=sweeps,
        dets=dets,
    )
    overall = tuple(
        index.block(m, OVERALL, None if m == "fta" else primary).overall for m in KEY_METRICS
    )
    projection = _projection(index, run, primary, groupings)
    summary = Summary(
        primary=primary,
        overall=overall,
        metrics=KEY_METRICS,
        findings=_findings(index, groupings, primary),
        projection=projection,
    )
    ci_methods = tuple(sorted(set(rates["ci_method"].dropna().astype(str))))
    tests = tuple(
        sorted(set(index.stats.loc[index.stats["metric"].str.endswith(("equality_p", "pairwise_p_holm")), "ci_method"].dropna().astype(str)))
    )
    return ReportContext(
        run=run,
        operating_points=points,
        summary=summary,
        projection=projection,
        results=results,
        compositions=_compositions(run, index, groupings),
        groupings=groupings,
        conditions=conditions,
        ci_methods=ci_methods,
        tests=tests,
        provenance=flatten(run.provenance),
        spec=flatten(run.spec),
        faces=run.face_images if include_faces else (),
        policy=_policy(run.policy),
        changes=changes,
    )


__all__ = [
    "ReportContext",
    "build_context",
    "DatasetInfo",
    "GroupCount",
    "RunInfo",
    "StatisticsInfo",
    "SystemUnderTest",
    "ThresholdInfo",
    "WatchlistDesign",
]

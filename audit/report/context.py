"""The report's data: one typed, frozen context built from the metrics table.

:func:`build_context` reads the metrics stage's table
(:data:`audit.metrics.table.SCHEMA`) through
:class:`~audit.report.reading.MetricsIndex`, which files its rows by their
structure columns, and a :class:`~audit.report.inputs.RunInfo`, and returns a
:class:`ReportContext`. The context holds numbers, labels, flags and codes,
never words or markup: the templates in ``reports/templates/`` word
everything, and figures are drawn from the context while rendering. No part
of the report computes a statistic: every number is a row of the table.

The parts, one module each:

* :mod:`~audit.report.reading`: the table's rows as typed values;
* :mod:`~audit.report.findings`: the summary's findings, point by point, rate by rate;
* :mod:`~audit.report.panels`: the results' panels, pair comparisons, cross matrices;
* :mod:`~audit.report.curves`: sweeps, DET curves, disparity by threshold;
* :mod:`~audit.report.projection`: the deployment page's projection rows;
* :mod:`~audit.report.appendix`: composition, key/value listings, the family of tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from audit.metrics.trials import Grouping
from audit.report.policy_outcome import PolicyOutcome
from audit.report import appendix, curves, findings, panels
from audit.report.appendix import Composition, FamilyBlock, KeyValue, flatten
from audit.report.changes import Changes
from audit.report.data_kinds import DataKinds, data_kinds
from audit.report.group_names import GroupNames, group_names
from audit.report.curves import Det, DisparityCurve, Sweep
from audit.report.findings import KEY_METRICS, Finding, PointFindings
from audit.report.inputs import (
    DatasetInfo,
    FaceImage,
    GroupCount,
    RunInfo,
    StatisticsInfo,
    SystemUnderTest,
    ThresholdInfo,
    WatchlistDesign,
)
from audit.report.panels import CrossMatrix, Panel
from audit.report.projection import Projection, projection
from audit.report.reading import ALL, GroupRate, MetricsIndex, OperatingPoint
from audit.report.trial_counts import TrialCounts, trial_counts
from audit.report.watchlist_size import SizeCurve, size_curves


@dataclass(frozen=True)
class Summary:
    """The summary: overall rates at the primary point and the findings at every point.

    ``points`` holds the findings at each audited operating point, then
    failure to acquire; ``n_tests`` is the size of the family the
    Benjamini-Hochberg correction ran over.
    """

    primary: OperatingPoint | None
    overall: tuple[GroupRate | None, ...]  # aligned with ``metrics``
    metrics: tuple[str, ...]
    points: tuple[PointFindings, ...]
    n_tests: int
    projection: Projection | None

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for p in self.points for r in p.rates for f in r.findings)

    @property
    def measured_misses(self) -> bool | None:
        """Whether the data allowed a miss rate (an overall FNIR or FNMR with trials at the
        primary point): False for data without a second image of anyone (UTKFace),
        None without a primary point to tell."""
        if self.primary is None:
            return None
        return any(r is not None and r.available
                   for m, r in zip(self.metrics, self.overall, strict=True) if m in ("fnir", "fnmr"))

    @property
    def unlabelled(self) -> bool:
        """True when a grouping has a group with an unknown label (shown, never compared)."""
        return any(f.unlabelled for f in self.findings)


@dataclass(frozen=True)
class Results:
    fta: tuple[Panel, ...]
    identification: tuple[Panel, ...]
    verification: tuple[Panel, ...]
    cross: tuple[CrossMatrix, ...]
    conditions: tuple[Panel, ...]
    sweeps: tuple[Sweep, ...]
    dets: tuple[Det, ...]
    disparity: tuple[DisparityCurve, ...]

    @property
    def cross_scale(self) -> float:
        """Top of the one colour scale the cross-group heatmaps share (from 0)."""
        return panels.heatmap_scale(self.cross)

    def group_labels(self, groupings: tuple[str, ...], first: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Every group label the results show, each once, grouping by grouping:
        ``first`` from the one with fewest groups up (so gender's few groups get
        the strongest colours), then ``groupings`` in order, then any other. The
        order figure styles are assigned in."""
        panels_ = self.fta + self.identification + self.verification + self.conditions
        found: dict[str, list[str]] = {}
        for p in panels_:
            found.setdefault(p.grouping, []).extend(r.group for r in p.rows)
        for s in self.sweeps:
            found.setdefault(s.grouping, []).extend(x.group for line in s.series for x in line)
        ranked = sorted(first, key=lambda g: len(set(found.get(g, ()))))
        order = ranked + [g for g in (*groupings, *found) if g not in ranked]
        labels = (label for g in order for label in found.get(g, ()))
        return tuple(dict.fromkeys(label for label in labels if label != ALL))


@dataclass(frozen=True)
class CoverageResult:
    """One measured coverage of an interval method on simulated audits with known truth.

    Filled from the coverage study when its numbers exist; never invented.
    """

    method: str  # a ci_method of the metrics table, e.g. "wilson-clustered"
    statistic: str  # what the interval is for, e.g. "fmr", "ratio"
    nominal: float
    measured: float
    simulations: int
    setting: str = ""  # the simulated design, in words

    @property
    def short(self) -> bool:
        """More than 2 points below the nominal level: the interval is too narrow there."""
        return self.nominal - self.measured > 0.02


@dataclass(frozen=True)
class ReportContext:
    """Everything the templates need, typed and frozen.

    The report's sections read: ``run`` (title, id, date, system, watchlist,
    datasets, statistics), ``operating_points``, ``summary``, ``projection``,
    ``results``, ``compositions``, ``groupings``/``conditions`` (the
    demographic and condition groupings seen; ``single_groupings`` the
    demographic ones of one label column, not intersections), ``ci_methods``
    (how the rates' intervals were computed) and ``pair_methods`` (the pair
    statistics'), ``family`` (every pair test the Benjamini-Hochberg
    correction ran over, by rate and point), ``provenance`` and ``spec``
    (flattened key/value pairs), ``faces`` (empty unless face images were
    explicitly asked for), ``policy`` (the typed
    :class:`audit.report.policy_outcome.PolicyOutcome` read back from ``policy.json``, when
    recorded), ``changes`` (since an earlier run, when given) and
    ``coverage`` (the measured coverage of the interval methods; None until
    the coverage study provides it); ``size_curves`` the false alert and
    miss rates against watchlist size at the primary point, overall first
    (:mod:`audit.report.watchlist_size`); ``trial_counts`` people and trials
    by group as the metrics table counts them (:mod:`audit.report.trial_counts`);
    ``kinds`` the kinds of trial the table holds (1:N, 1:1) and why a miss rate
    is missing (:mod:`audit.report.data_kinds`); ``group_names`` the column values of
    the labels of groups of several columns (:mod:`audit.report.group_names`).
    """

    run: RunInfo
    operating_points: tuple[OperatingPoint, ...]
    summary: Summary
    projection: Projection | None
    results: Results
    compositions: tuple[Composition, ...]
    groupings: tuple[str, ...]
    single_groupings: tuple[str, ...]
    conditions: tuple[str, ...]
    ci_methods: tuple[str, ...]
    pair_methods: tuple[str, ...]
    family: tuple[FamilyBlock, ...]
    provenance: tuple[KeyValue, ...]
    spec: tuple[KeyValue, ...]
    faces: tuple[FaceImage, ...]
    policy: PolicyOutcome | None = None
    changes: Changes | None = None
    coverage: tuple[CoverageResult, ...] | None = None
    size_curves: tuple[SizeCurve, ...] = ()
    trial_counts: tuple[TrialCounts, ...] = ()
    kinds: DataKinds = DataKinds()
    group_names: GroupNames = GroupNames()

    @property
    def group_labels(self) -> tuple[str, ...]:
        """Every group label of the report, one-label groupings first (fewest
        groups first), then intersections, then capture conditions: each group's
        figure style is assigned once in this order
        (:class:`audit.report.styles.GroupStyles`)."""
        return self.results.group_labels(self.groupings + self.conditions,
                                          first=self.single_groupings)


def _policy(record: Mapping[str, Any]) -> PolicyOutcome | None:
    return PolicyOutcome.from_json(record) if record else None


def _split_groupings(index: MetricsIndex, run: RunInfo) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Demographic groupings and capture conditions (named in the spec, or with a control)."""
    conditions = tuple(g for g in index.groupings
                       if g in run.condition_groupings or Grouping.parse(g).control)
    return tuple(g for g in index.groupings if g not in conditions), conditions


def _single(groupings: tuple[str, ...]) -> tuple[str, ...]:
    """Groupings of one label column (no intersection, no control)."""
    return tuple(g for g in groupings if len(Grouping.parse(g).columns) == 1)


def _results(index: MetricsIndex, groupings: tuple[str, ...], conditions: tuple[str, ...],
             references: Mapping[str, str]) -> Results:
    points = index.points
    primary = points[:1]
    condition_panels = panels.panels(index, "fta", conditions, (None,), True) + tuple(
        p for family in ("identification", "verification")
        for p in panels.panels(index, family, conditions, primary, True)
    )
    sweeps, dets = curves.sweeps(index, groupings, points)
    return Results(
        fta=panels.panels(index, "fta", groupings, (None,), False, references),
        identification=panels.panels(index, "identification", groupings, points, False,
                                     references),
        verification=panels.panels(index, "verification", groupings, points, False, references),
        cross=panels.cross_matrices(index, groupings),
        conditions=condition_panels,
        sweeps=sweeps,
        dets=dets,
        disparity=curves.disparity_curves(index, _single(groupings), points, references),
    )


def _overall(index: MetricsIndex, metric: str, primary: OperatingPoint | None) -> GroupRate | None:
    if metric == findings.FTA:
        return index.overall(metric, None)
    return index.overall(metric, primary) if primary is not None else None


def build_context(
    metrics: pa.Table | pd.DataFrame,
    run: RunInfo,
    *,
    include_faces: bool = False,
    changes: Changes | None = None,
    coverage: tuple[CoverageResult, ...] | None = None,
) -> ReportContext:
    """Build the report's context from the metrics table and the run description.

    Parameters
    ----------
    metrics : pyarrow.Table or DataFrame
        Rows of :data:`audit.metrics.table.SCHEMA` (METRICS plus the structure
        columns), as :func:`audit.runs.measure.measure` writes them: rates, pair
        statistics and descriptive summaries at the audited points, sweep
        rows, projection rows. Checked against the schema.
    run : RunInfo
        The run's description (system, datasets, projection inputs...).
    include_faces : bool, default=False
        Keep ``run.face_images`` in the context. Without it the report holds
        no face image whatever the run lists.
    changes : Changes, default=None
        Changes since an earlier run (:func:`audit.report.changes.build_changes`);
        the report then gains a "changes since" subsection.
    coverage : tuple of CoverageResult, default=None
        The coverage study's measured coverage of the interval methods, quoted
        in the method section; None (until the study provides them): the
        section says they are not part of the report.

    Returns
    -------
    ReportContext
        Frozen; groups flagged insufficient keep their counts but the
        templates never state their rates, and findings never rank them.
    """
    index = MetricsIndex(metrics, run)
    groupings, conditions = _split_groupings(index, run)
    points = index.points
    primary = points[0] if points else None
    projected = projection(index, run, primary, groupings)
    summary = Summary(
        primary=primary,
        overall=tuple(_overall(index, m, primary) for m in KEY_METRICS),
        metrics=KEY_METRICS,
        points=findings.all_findings(index, groupings, run.statistics.reference_groups),
        n_tests=index.n_tests,
        projection=projected,
    )
    return ReportContext(
        run=run,
        operating_points=points,
        summary=summary,
        projection=projected,
        results=_results(index, groupings, conditions, run.statistics.reference_groups),
        compositions=appendix.compositions(run, index, groupings),
        groupings=groupings,
        single_groupings=_single(groupings),
        conditions=conditions,
        ci_methods=index.rate_methods,
        pair_methods=index.pair_methods,
        family=appendix.family(index, groupings + conditions),
        provenance=flatten(run.provenance),
        spec=flatten(run.spec),
        faces=run.face_images if include_faces else (),
        policy=_policy(run.policy),
        changes=changes,
        coverage=coverage,
        size_curves=size_curves(metrics, primary, _single(groupings)),
        trial_counts=trial_counts(index, groupings),
        kinds=data_kinds(index, run.datasets),
        group_names=group_names(metrics, run),
    )


__all__ = [
    "ReportContext",
    "build_context",
    "flatten",
    "DatasetInfo",
    "GroupCount",
    "RunInfo",
    "StatisticsInfo",
    "SystemUnderTest",
    "ThresholdInfo",
    "WatchlistDesign",
]

"""The results section's data: rates by group in panels, pair comparisons, cross matrices.

A :class:`Panel` is one family of rates (identification, verification,
failure to acquire) by one grouping at one operating point: one table, one
forest plot, and for each rate the fixed-pair comparisons worth a row (in
each stratum the pairs the summary states, :func:`audit.report.findings.stated_pairs`:
each group against the audit spec's reference group when it names one, else
the highest against the lowest group with enough data; then any other pair
shown to differ) beside the grouping's descriptive summaries, which
carry no interval and no test. Every pair of the audit is listed in the
appendix (:mod:`audit.report.appendix`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from audit.report.findings import stated_pairs
from audit.report.reading import (
    ALL,
    OVERALL,
    Comparison,
    Descriptive,
    GroupRate,
    MetricsIndex,
    OperatingPoint,
    group_rate,
    slug,
)

#: Rate families: the rates shown side by side in one table and figure.
FAMILIES: dict[str, tuple[str, ...]] = {
    "fta": ("fta",),
    "identification": ("fpir", "fnir"),
    "verification": ("fmr", "fnmr", "fnmr_incl_fta"),
}
#: Non-mated and mated rate of each family with a threshold (sweeps, DET, GARBE/FDR).
ERROR_PAIRS: dict[str, tuple[str, str]] = {
    "identification": ("fpir", "fnir"),
    "verification": ("fmr", "fnmr"),
}


@dataclass(frozen=True)
class RateBlock:
    """One rate by one grouping at one point (``None`` for FTA).

    ``comparisons`` are the pairs shown in the results: the stated pairs of
    each stratum first (against ``reference`` when the spec names one and it
    had enough data, else the headline pair), then other pairs shown to
    differ; ``n_pairs`` counts every pair the table holds for this rate,
    grouping and point.
    """

    metric: str
    grouping: str
    operating_point: OperatingPoint | None
    overall: GroupRate | None
    groups: tuple[GroupRate, ...]
    comparisons: tuple[Comparison, ...]
    n_pairs: int
    descriptive: tuple[Descriptive, ...]
    reference: str | None = None

    @property
    def insufficient(self) -> tuple[str, ...]:
        return tuple(g.group for g in self.groups if not g.sufficient)

    @property
    def n_sufficient(self) -> int:
        return sum(g.shown for g in self.groups)


@dataclass(frozen=True)
class PanelRow:
    """One group across the rates of a panel (None where a rate lacks the group)."""

    group: str
    rates: tuple[GroupRate | None, ...]


@dataclass(frozen=True)
class Panel:
    """A family of rates by one grouping at one operating point: one table, one figure.

    ``combined`` are the GARBE/FDR summaries (over the family's non-mated and
    mated rate) by stratum: descriptive, no interval.
    """

    id: str
    family: str
    grouping: str
    condition: bool
    operating_point: OperatingPoint | None
    blocks: tuple[RateBlock, ...]
    rows: tuple[PanelRow, ...]
    overall: PanelRow | None
    combined: tuple[Descriptive, ...]

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(b.metric for b in self.blocks)

    @property
    def has_comparisons(self) -> bool:
        return any(b.comparisons or b.descriptive for b in self.blocks)

    @property
    def reference(self) -> str | None:
        """The reference group the comparisons are stated against, if any rate used one."""
        return next((b.reference for b in self.blocks if b.reference is not None), None)


@dataclass(frozen=True)
class CrossMatrix:
    """Cross-group FMR at one point: ``cells[i][j]`` = group i against group j.

    The matrix is symmetric (:func:`audit.metrics.cross_trials.cross_trial_set`): a
    comparison counts in the cell of both people's groups whichever image was the
    probe, so ``probe_groups`` and ``reference_groups`` are the groups of one image
    and of the other, not of the person searched and the person compared against.
    A cell is sufficient only when both sides have enough people; the
    template greys the others and states no rate for them.
    """

    id: str
    grouping: str
    operating_point: OperatingPoint
    probe_groups: tuple[str, ...]
    reference_groups: tuple[str, ...]
    cells: tuple[tuple[GroupRate | None, ...], ...]


def _strata(groups: tuple[GroupRate, ...],
            comparisons: tuple[Comparison, ...]) -> list[tuple[GroupRate, ...]]:
    """Sufficient groups in the strata they are compared within.

    Pairs are formed within a stratum (a control level) only, so the groups
    linked by pair rows are exactly the strata; read from the rows, not the labels.
    """
    members = {g.group: g for g in groups if g.shown}
    parent = {name: name for name in members}

    def root(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    for c in comparisons:
        if c.high.group in parent and c.low.group in parent:
            parent[root(c.high.group)] = root(c.low.group)
    strata: dict[str, list[GroupRate]] = {}
    for name, rate in members.items():
        strata.setdefault(root(name), []).append(rate)
    return [tuple(s) for s in strata.values() if len(s) >= 2]


def rate_block(index: MetricsIndex, metric: str, grouping: str,
               point: OperatingPoint | None, reference: str | None = None) -> RateBlock:
    groups = index.rates(metric, grouping, point)
    every = index.comparisons(metric, grouping, point) if grouping != OVERALL else ()
    chosen: list[Comparison] = []
    used = None
    for stratum in _strata(groups, every):
        for pair in stated_pairs(stratum, reference):
            found = pair and index.comparison(metric, grouping, point, pair[0].group,
                                              pair[1].group)
            if found and found not in chosen:
                chosen.append(found)
                used = reference if pair[0].group == reference else used
    chosen += [c for c in every if c.shown and c not in chosen]
    return RateBlock(
        metric=metric, grouping=grouping, operating_point=point,
        overall=index.overall(metric, point), groups=groups, comparisons=tuple(chosen),
        n_pairs=len(every),
        descriptive=index.summaries(metric, grouping, point) if grouping != OVERALL else (),
        reference=used,
    )


def _has_trials(block: RateBlock) -> bool:
    """A rate with a trial somewhere (a column of "no trials" in every row says nothing:
    the report says in one line why the rate is missing, :mod:`audit.report.data_kinds`)."""
    return any(r.n_trials > 0 for r in (block.overall, *block.groups) if r is not None)


def panel(index: MetricsIndex, family: str, grouping: str, point: OperatingPoint | None,
          condition: bool, reference: str | None = None) -> Panel | None:
    """One family's rates by ``grouping`` at ``point``; rates without a single trial are
    left out, and the GARBE/FDR line needs both of the family's error rates."""
    made = (rate_block(index, m, grouping, point, reference) for m in FAMILIES[family]
            if index.rates(m, grouping, point))
    blocks = tuple(b for b in made if _has_trials(b))
    if not blocks:
        return None
    order = list(dict.fromkeys(g.group for b in blocks for g in b.groups))
    lookup = [{g.group: g for g in b.groups} for b in blocks]
    rows = tuple(PanelRow(label, tuple(d.get(label) for d in lookup)) for label in order)
    overall = None
    if any(b.overall is not None for b in blocks):
        overall = PanelRow(ALL, tuple(b.overall for b in blocks))
    combined: tuple[Descriptive, ...] = ()
    if family in ERROR_PAIRS and point is not None and set(ERROR_PAIRS[family]) <= {
            b.metric for b in blocks}:
        summaries = index.summaries(ERROR_PAIRS[family][0], grouping, point)
        combined = tuple(s for s in summaries if {"garbe", "fdr"} & set(s.values))
    return Panel(
        id=slug("panel", family, grouping, point.id if point else "none"),
        family=family, grouping=grouping, condition=condition, operating_point=point,
        blocks=blocks, rows=rows, overall=overall, combined=combined,
    )


def panels(index: MetricsIndex, family: str, groupings: tuple[str, ...],
           points: tuple[OperatingPoint | None, ...], condition: bool,
           references: Mapping[str, str] | None = None) -> tuple[Panel, ...]:
    """Panels of every grouping and point; ``references``: the spec's reference groups."""
    references = references or {}
    made = (panel(index, family, g, p, condition, references.get(g))
            for p in points for g in groupings)
    return tuple(p for p in made if p is not None)


def cross_matrix(index: MetricsIndex, grouping: str, point: OperatingPoint) -> CrossMatrix | None:
    """The matrix of one grouping at one point, from the rows' ``group`` and ``group_b``."""
    rows = index.cross(grouping, point)
    if rows is None or not len(rows):
        return None
    cells = {}
    for row in rows.to_dict(orient="records"):
        cells[(str(row["group"]), str(row["group_b"]))] = group_rate(row)
    probes = tuple(dict.fromkeys(p for p, _ in cells))
    references = tuple(dict.fromkeys(r for _, r in cells))
    grid = tuple(tuple(cells.get((p, r)) for r in references) for p in probes)
    return CrossMatrix(slug("cross", grouping, point.id), grouping, point, probes, references,
                       grid)


def cross_matrices(index: MetricsIndex, groupings: tuple[str, ...]) -> tuple[CrossMatrix, ...]:
    """The matrices of the demographic ``groupings`` at every point (conditions left out)."""
    chosen = [g for g in index.cross_groupings() if g in groupings]
    made = (cross_matrix(index, g, p) for p in index.points for g in chosen)
    return tuple(m for m in made if m is not None)


def heatmap_scale(matrices: tuple[CrossMatrix, ...]) -> float:
    """The top of the one colour scale all heatmaps of a rate share (from 0): the
    largest rate shown in any of their cells (a small positive number when none is)."""
    shown = [c.value for m in matrices for row in m.cells for c in row
             if c is not None and c.shown]
    return max([v for v in shown if v > 0], default=1e-4)

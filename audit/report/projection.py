"""The deployment page's data: the metrics stage's projection rows, as written.

:func:`audit.metrics.projection.project_deployment` turns the measured FPIR
and FNIR into expected alerts for a crowd (``statistic == "projection"``
rows: ``projected_alerts``, ``projected_false_alerts``, ...). The report shows
those rows and computes nothing. The metrics stage reads the rates at the
deployment's watchlist size from the curve it measured against watchlist size
(:mod:`audit.metrics.size_projection`), so the figures hold for the size in the
rows' ``watchlist_size`` column; a metrics table written before that column
existed holds figures at the audit's own watchlist size.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.report.inputs import ProjectionInputs, RunInfo
from audit.metrics.size_projection import RATE_AT_SIZE
from audit.metrics.expected_errors import FNIR_PER_PERSON, FPIR_PER_PERSON
from audit.report.reading import (
    ALL,
    OVERALL,
    GroupRate,
    Interval,
    MetricsIndex,
    OperatingPoint,
    group_rate,
    interval,
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
MISSING = Interval(None)


@dataclass(frozen=True)
class ProjectionRow:
    """Projected figures for one group (or ``"all"``) at one point, as the rows hold them.

    ``alerts``, ``false_alerts``, ``true_alerts`` (counts for the crowd),
    ``share_correct`` (share of alerts that are correct), ``per_face`` (false
    alerts per face scanned), ``per_alert`` (share of alerts that are false).
    ``sufficient`` is the false-alert rows' flag (they depend on FPIR only);
    ``complete`` that of the rows that also need FNIR. ``fpir``/``fnir`` are
    the rate rows the figures come from.
    """

    group: str
    sufficient: bool
    complete: bool
    fpir: GroupRate | None
    fnir: GroupRate | None
    alerts: Interval = MISSING
    false_alerts: Interval = MISSING
    true_alerts: Interval = MISSING
    share_correct: Interval = MISSING
    per_face: Interval = MISSING
    per_alert: Interval = MISSING


@dataclass(frozen=True)
class Projection:
    """The projection at one operating point, overall and by demographic grouping.

    ``inputs`` is the crowd and share the rows were computed for (None: not
    recorded with the run); ``audit_watchlist`` the watchlist size the
    figures hold for.
    """

    inputs: ProjectionInputs | None
    operating_point: OperatingPoint
    audit_watchlist: int | None
    overall: ProjectionRow
    groupings: tuple[tuple[str, tuple[ProjectionRow, ...]], ...]


def _row(rows: list[dict], fpir: GroupRate | None, fnir: GroupRate | None) -> ProjectionRow:
    figures = {PROJECTED[r["metric"]]: interval(r) for r in rows if r["metric"] in PROJECTED}
    by_field = {PROJECTED[r["metric"]]: bool(r["sufficient"]) for r in rows
                if r["metric"] in PROJECTED}
    return ProjectionRow(
        group=str(rows[0]["group"]),
        sufficient=by_field.get("false_alerts", False),
        complete=all(by_field.values()),
        fpir=fpir,
        fnir=fnir,
        **figures,
    )


def projection(index: MetricsIndex, run: RunInfo, point: OperatingPoint | None,
               groupings: tuple[str, ...]) -> Projection | None:
    """The projection rows at ``point`` (overall, then each demographic grouping)."""
    if point is None:
        return None
    rows = index.projected(point)
    if rows is None or not len(rows):
        return None
    by_group: dict[tuple[str, str], list[dict]] = {}
    for row in rows[rows["statistic"] != RATE_AT_SIZE].to_dict(orient="records"):
        by_group.setdefault((str(row["grouping"]), str(row["group"])), []).append(row)

    sizes = rows["watchlist_size"].dropna() if "watchlist_size" in rows.columns else ()
    size = int(sizes.min()) if len(sizes) else run.watchlist.size
    read = rows[rows["statistic"] == RATE_AT_SIZE] if len(sizes) else rows.iloc[:0]
    read = read[read["watchlist_size"] == size] if len(read) else read

    def rates(metric: str, grouping: str) -> dict[str, GroupRate]:
        """The rates the figures were computed from: read at W when the rows say so
        (a person's seen several times when measured: the projection used those)."""
        person = {"fpir": FPIR_PER_PERSON, "fnir": FNIR_PER_PERSON}[metric]
        if (read["metric"] == person).any():
            metric = person
        chosen = read[(read["metric"] == metric) & (read["grouping"] == grouping)]
        if len(chosen):
            return {str(r["group"]): group_rate(r) for r in chosen.to_dict(orient="records")}
        return {r.group: r for r in index.rates(metric, grouping, point)}

    if (OVERALL, ALL) not in by_group:
        return None
    overall = _row(by_group[(OVERALL, ALL)], rates("fpir", OVERALL).get(ALL),
                   rates("fnir", OVERALL).get(ALL))
    out = []
    for grouping in groupings:
        fpir, fnir = rates("fpir", grouping), rates("fnir", grouping)
        found = tuple(_row(figures, fpir.get(group), fnir.get(group))
                      for (g, group), figures in by_group.items() if g == grouping)
        if found:
            out.append((grouping, found))
    return Projection(run.projection, point, size, overall, tuple(out))

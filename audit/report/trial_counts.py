"""People and trials by group, as the metrics table counts them: a score log's composition.

A run's data section counts people and images by group from its manifest. A
score log has no manifest: what it holds per group is its trials, which the
metrics stage has already counted for every rate (``n_trials``,
``n_subjects``). :func:`trial_counts` reads those counts at the first audited
point (they do not depend on the threshold), one column per kind of trial:
1:1 mated comparisons (failures to acquire included), 1:1 non-mated
comparisons (by the probe's group, as FMR counts them), 1:N searches of
people on the watchlist and of passers-by. Nothing is computed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.report.reading import ALL, OVERALL, GroupRate, MetricsIndex, OperatingPoint

#: The rate whose counts stand for each kind of trial, in the table's column order;
#: FNMR when the table has no FNMR with failures to acquire.
KINDS = (("mated_comparisons", ("fnmr_incl_fta", "fnmr")), ("nonmated_comparisons", ("fmr",)),
         ("mated_searches", ("fnir",)), ("nonmated_searches", ("fpir",)))


@dataclass(frozen=True)
class TrialCount:
    """People and trials of one kind in one group."""

    subjects: int
    trials: int


@dataclass(frozen=True)
class GroupTrials:
    """One group's counts, aligned with :attr:`TrialCounts.kinds`."""

    group: str
    counts: tuple[TrialCount | None, ...]


@dataclass(frozen=True)
class TrialCounts:
    """One grouping: the kinds of trial the table has, each group's counts, then all."""

    grouping: str
    kinds: tuple[str, ...]
    rows: tuple[GroupTrials, ...]
    overall: GroupTrials


def trial_counts(index: MetricsIndex, groupings: tuple[str, ...]) -> tuple[TrialCounts, ...]:
    """Counts by group of each grouping at the first audited point; () without one."""
    if not index.points:
        return ()
    point = index.points[0]
    kinds = [(kind, _metric(index, metrics)) for kind, metrics in KINDS]
    kinds = [(kind, metric) for kind, metric in kinds if metric is not None]
    overall = _row(index, OVERALL, point, kinds, ALL)
    out = []
    for grouping in groupings:
        groups = dict.fromkeys(r.group for _, m in kinds for r in index.rates(m, grouping, point))
        if groups:
            rows = tuple(_row(index, grouping, point, kinds, g) for g in groups)
            out.append(TrialCounts(grouping, tuple(k for k, _ in kinds), rows, overall))
    return tuple(out)


def _metric(index: MetricsIndex, candidates: tuple[str, ...]) -> str | None:
    return next((m for m in candidates if m in index.metrics), None)


def _row(index: MetricsIndex, grouping: str, point: OperatingPoint,
         kinds: list[tuple[str, str]], group: str) -> GroupTrials:
    def count(metric: str) -> TrialCount | None:
        found: GroupRate | None = next(
            (r for r in index.rates(metric, grouping, point) if r.group == group), None)
        return None if found is None else TrialCount(found.n_subjects, found.n_trials)

    return GroupTrials(group, tuple(count(metric) for _, metric in kinds))

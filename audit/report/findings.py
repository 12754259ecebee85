"""The summary's findings: what the audit shows about two named groups, rate by rate.

At every audited operating point (the deployment threshold, thresholds audited
for reference such as deepface's default, each calibrated threshold), for every
rate (FPIR and FNIR first, as live facial recognition is a 1:N system; then FMR
and FNMR; failure to acquire once, as it has no threshold) and every demographic
grouping, one finding is stated about one fixed pair: the highest against the
lowest group *with enough data for that rate*, both chosen from the point
estimates; or, when the audit spec names a reference group for the grouping
(:mod:`audit.reference_groups`) and it has enough data for that rate, one
finding per other group with enough data, each about the fixed pair (reference,
other). The finding quotes that pair's own rows of the metrics table (its
ratio with the interval, the Benjamini-Hochberg adjusted p-value, the ratio the
data could have detected) and names the groups that lacked data for that rate
only. Descriptive summaries (max/min, Gini...) never enter a finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from audit.metrics.trials import has_unknown_label
from audit.report.reading import Comparison, GroupRate, MetricsIndex, OperatingPoint

#: Rates with a threshold, in the order the summary states them.
THRESHOLD_RATES = ("fpir", "fnir", "fmr", "fnmr")
FTA = "fta"
#: Rates of the summary's overall figures, in order.
KEY_METRICS = (*THRESHOLD_RATES, FTA)


@dataclass(frozen=True)
class Finding:
    """One rate by one grouping at one point (``point`` None for FTA).

    ``comparison`` holds the rows of the headline pair (highest vs lowest
    sufficient group), None when fewer than two groups had enough data.
    ``insufficient`` are the groups that lacked data for *this* rate;
    ``unlabelled`` the groups with an unknown label, which the metrics stage
    never compares whatever their size.
    """

    metric: str
    grouping: str
    point: OperatingPoint | None
    comparison: Comparison | None
    insufficient: tuple[GroupRate, ...]
    unlabelled: tuple[GroupRate, ...]
    n_sufficient: int

    @property
    def kind(self) -> str:
        """The comparison's verdict, ``"too_few_groups"``, or ``"not_compared"``
        (two groups had enough data, but the table holds no row for the pair)."""
        if self.comparison is not None:
            return self.comparison.verdict
        return "too_few_groups" if self.n_sufficient < 2 else "not_compared"


@dataclass(frozen=True)
class RateFindings:
    """The findings of one rate at one point, one per demographic grouping."""

    metric: str
    overall: GroupRate | None
    findings: tuple[Finding, ...]

    @property
    def insufficient(self) -> tuple[GroupRate, ...]:
        """Groups of every grouping that lacked data for this rate, each once."""
        seen = {}
        for f in self.findings:
            for r in f.insufficient:
                seen.setdefault(r.group, r)
        return tuple(seen.values())

    @property
    def unlabelled(self) -> bool:
        return any(f.unlabelled for f in self.findings)


@dataclass(frozen=True)
class PointFindings:
    """The findings at one operating point (``point`` None: failure to acquire)."""

    point: OperatingPoint | None
    rates: tuple[RateFindings, ...]

    @property
    def n_shown(self) -> int:
        return sum(f.kind == "shown" for r in self.rates for f in r.findings)


def headline_pair(rates: tuple[GroupRate, ...]) -> tuple[GroupRate, GroupRate] | None:
    """The highest and the lowest group with enough data (by the point estimates).

    Ties keep table order: the first of equal lowest groups, the last of
    equal highest ones. None with fewer than two such groups.

    Examples
    --------
    >>> def rate(group, value):
    ...     return GroupRate(group, value, None, None, None, 100, 30, int(value * 100), True)
    >>> high, low = headline_pair((rate("a", 0.02), rate("b", 0.05), rate("c", 0.01)))
    >>> high.group, low.group
    ('b', 'c')
    """
    sufficient = [r for r in rates if r.shown]
    if len(sufficient) < 2:
        return None
    ranked = sorted(sufficient, key=lambda r: r.value)
    return ranked[-1], ranked[0]


def reference_pairs(rates: tuple[GroupRate, ...],
                    reference: str | None) -> list[tuple[GroupRate, GroupRate]] | None:
    """(reference, other) for every other group with enough data; None without a usable reference.

    None when no reference is named or it lacked data for this rate: the
    headline pair (:func:`headline_pair`) is stated instead.

    Examples
    --------
    >>> def rate(group, value):
    ...     return GroupRate(group, value, None, None, None, 100, 30, int(value * 100), True)
    >>> rates = (rate("a", 0.02), rate("b", 0.05), rate("c", 0.01))
    >>> [(x.group, y.group) for x, y in reference_pairs(rates, "b")]
    [('b', 'a'), ('b', 'c')]
    >>> reference_pairs(rates, "z") is None
    True
    """
    by_group = {r.group: r for r in rates if r.shown}
    if reference is None or reference not in by_group or len(by_group) < 2:
        return None
    named = by_group[reference]
    return [(named, r) for g, r in by_group.items() if g != reference]


def stated_pairs(rates: tuple[GroupRate, ...],
                 reference: str | None) -> list[tuple[GroupRate, GroupRate] | None]:
    """The pairs the summary states: (reference, other) for each other group, else the headline.

    The one rule the summary, the results' comparison tables and the
    disparity-by-threshold figures share, so that all three speak of the
    same fixed pairs. ``[None]`` when fewer than two groups had enough data.
    """
    return reference_pairs(rates, reference) or [headline_pair(rates)]


def findings(index: MetricsIndex, metric: str, grouping: str, point: OperatingPoint | None,
             reference: str | None = None) -> tuple[Finding, ...]:
    """The findings of one rate, grouping and point: one per stated pair; () without rate rows."""
    rates = index.rates(metric, grouping, point)
    if not rates:
        return ()
    chosen = stated_pairs(rates, reference)
    unknown = has_unknown_label([r.group for r in rates])
    return tuple(
        Finding(
            metric=metric, grouping=grouping, point=point,
            comparison=None if pair is None else index.comparison(
                metric, grouping, point, pair[0].group, pair[1].group),
            insufficient=tuple(r for r, u in zip(rates, unknown, strict=True)
                               if not r.sufficient and not u),
            unlabelled=tuple(r for r, u in zip(rates, unknown, strict=True) if u),
            n_sufficient=sum(r.shown for r in rates),
        )
        for pair in chosen
    )


def point_findings(index: MetricsIndex, groupings: tuple[str, ...],
                   point: OperatingPoint | None,
                   references: Mapping[str, str] | None = None) -> PointFindings | None:
    """Findings at one point for every threshold rate (FTA when ``point`` is None)."""
    metrics = (FTA,) if point is None else THRESHOLD_RATES
    references = references or {}
    out = []
    for metric in metrics:
        found = tuple(f for g in groupings
                      for f in findings(index, metric, g, point, references.get(g)))
        overall = index.overall(metric, point)
        if found or overall is not None:
            out.append(RateFindings(metric, overall, found))
    return PointFindings(point, tuple(out)) if out else None


def all_findings(index: MetricsIndex, groupings: tuple[str, ...],
                 references: Mapping[str, str] | None = None) -> tuple[PointFindings, ...]:
    """Findings at every audited point, in the index's order, then failure to acquire.

    ``references`` maps a grouping to its reference group (the audit spec's
    ``[statistics] reference_groups``).
    """
    found = [point_findings(index, groupings, p, references) for p in (*index.points, None)]
    return tuple(f for f in found if f is not None)

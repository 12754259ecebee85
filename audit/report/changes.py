"""What changed since an earlier run, in the order a reader needs it.

:func:`build_changes` takes the :class:`audit.report.comparison.Comparison` of two runs
and keeps its typed changes as they are, arranged for the templates and the
terminal: the headline (overall rates at each operating point), the fixed
pairs of the demographic groupings at each operating point present in both
runs, then the other significant changes by adjusted p-value (the first
:data:`MAX_OTHERS`, with how many there are in all), and every spec and
environment change. :func:`text_lines` words the same for ``lfr-audit
compare``; the templates (``sections/changes.html.j2``) word it for the
reports. Rates are shown as percentages with :data:`DIGITS` significant
digits (:func:`audit.report.formatting.percent`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audit.report.policy_outcome import PolicyOutcome
from audit.report.formatting import percent, points, pvalue, ratio, threshold

if TYPE_CHECKING:
    from audit.report.comparison import Comparison, PairChange, PairEstimate, Point, RateChange

#: Other significant changes shown (the rest are in compare.json).
MAX_OTHERS = 20
#: Significant digits of rates, changes and ratios.
DIGITS = 3
RATE_SHORT = {"fpir": "FPIR", "fnir": "FNIR", "fmr": "FMR", "fnmr": "FNMR",
              "fnmr_incl_fta": "FNMR incl. FTA", "fta": "FTA", "fmr_cross": "FMR (cross-group)"}
MISSING = "—"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Change:
    """A spec or environment key whose value differs (strings as recorded)."""

    key: str
    before: str
    after: str


@dataclass(frozen=True)
class AtPoint:
    """The changes shown at one operating point."""

    point: Point
    changes: tuple[RateChange | PairChange, ...]


@dataclass(frozen=True)
class Changes:
    """Changes between run ``before`` and run ``after``, in reading order.

    ``headline``: overall rates per operating point (fta under the point
    without a threshold); ``pairs``: the lead fixed pairs per operating point;
    ``others``: the first :data:`MAX_OTHERS` other significant changes, of
    ``n_others``. ``n_compared`` counts the changes tested (the
    multiple-testing family), ``n_significant`` those significant after
    ``correction`` at false discovery rate ``fdr``; ``n_unbounded``,
    ``n_insufficient`` and ``n_one_run`` count what was not tested, and why.
    ``policy_before`` / ``policy_after`` are None when not recorded, else
    the run's policy outcome in words (:attr:`PolicyOutcome.words`: met, broken, not
    evaluated, no policy, or ``met where evaluated: 4 of 6 checks`` when checks were
    skipped); ``violations`` are the recorded sentences of the
    limits ``after`` broke or could not evaluate.
    """

    before: str
    after: str
    spec: tuple[Change, ...]
    environment: tuple[Change, ...]
    headline: tuple[AtPoint, ...]
    pairs: tuple[AtPoint, ...]
    others: tuple[RateChange | PairChange, ...]
    n_others: int
    n_compared: int
    n_significant: int
    n_unbounded: int
    n_insufficient: int
    n_one_run: int
    fdr: float
    correction: str
    policy_before: str | None
    policy_after: str | None
    violations: tuple[str, ...]

    @property
    def n_others_hidden(self) -> int:
        return self.n_others - len(self.others)


def _by_point(changes: tuple[RateChange | PairChange, ...]) -> tuple[AtPoint, ...]:
    out: list[AtPoint] = []
    for change in changes:
        if out and out[-1].point == change.point:
            out[-1] = AtPoint(change.point, out[-1].changes + (change,))
        else:
            out.append(AtPoint(change.point, (change,)))
    return tuple(out)


def build_changes(comparison: Comparison, *, max_others: int = MAX_OTHERS) -> Changes:
    """The changes of :func:`audit.runs.compare.compare_runs`, arranged for reading."""

    def state(record: Any) -> str | None:
        return None if not record else PolicyOutcome.from_json(record).words

    after = PolicyOutcome.from_json(comparison.policy_after) if comparison.policy_after else None
    flagged = () if after is None else after.broken + after.not_evaluated
    return Changes(
        before=comparison.before.run_id,
        after=comparison.after.run_id,
        spec=tuple(Change(c.key, _text(c.before), _text(c.after))
                   for c in comparison.spec_changes),
        environment=tuple(Change(c.key, _text(c.before), _text(c.after))
                          for c in comparison.environment_changes),
        headline=_by_point(comparison.headline),
        pairs=_by_point(comparison.lead_pairs),
        others=comparison.others[:max_others],
        n_others=len(comparison.others),
        n_compared=comparison.n_tested,
        n_significant=comparison.n_significant,
        n_unbounded=comparison.n_unbounded,
        n_insufficient=comparison.n_insufficient,
        n_one_run=comparison.n_one_run,
        fdr=comparison.fdr,
        correction=comparison.correction,
        policy_before=state(comparison.policy_before),
        policy_after=state(comparison.policy_after),
        violations=tuple(_text(check.sentence) for check in flagged),
    )


# -- the terminal's words ------------------------------------------------------------------


def rate_text(x: float | None) -> str:
    """A rate as a percentage with three significant digits: ``"46.0%"``, ``"0.184%"``.

    >>> rate_text(0.46), rate_text(0.6812), rate_text(0.00184), rate_text(0.001), rate_text(None)
    ('46.0%', '68.1%', '0.184%', '0.100%', '—')
    """
    return percent(x, DIGITS) or MISSING


def points_text(x: float | None) -> str:
    """A signed change of a rate in percentage points: ``"+22.1"``, ``"-0.0840"``."""
    if x is None:
        return MISSING
    return ("+" if x > 0 else "") + points(x, DIGITS)


def ratio_text(x: float | None) -> str:
    return ratio(x, DIGITS) or MISSING


def point_text(point: Point) -> str:
    """``"deployment, threshold 0.60"``; a calibrated point's threshold in both runs."""
    if point.kind is None:
        return "no threshold"
    before, after = threshold(point.threshold_before), threshold(point.threshold_after)
    if not point.matched:
        run = "before" if point.in_before else "after"
        return f"{point.label}, threshold {before or after} ({run} run only)"
    if before != after:
        return f"{point.label}, threshold {before} -> {after}"
    return f"{point.label}, threshold {before}"


def verdict_text(change: RateChange | PairChange) -> str:
    if not change.tested:
        return change.reason or "not tested"
    word = "significant" if change.significant else "not significant"
    p = pvalue(change.p_adjusted)
    return f"{word} (adjusted p {p})" if p.startswith("<") else f"{word} (adjusted p = {p})"


def _who(change: RateChange | PairChange) -> str:
    """``"FPIR a / b (ethnicity)"``, ``"FMR (cross-group) f with m (gender)"`` (a cell of the
    symmetric matrix: comparisons of a person of one group with a person of the other),
    ``"FPIR overall"``."""
    rate = RATE_SHORT.get(change.metric, change.metric)
    if change.kind == "pair":
        return f"{rate} {change.group} / {change.group_b} ({change.grouping})"
    if change.grouping == "overall":
        return f"{rate} overall"
    group = f"{change.group} with {change.group_b}" if change.group_b else change.group
    return f"{rate} {group} ({change.grouping})"


def _estimate_text(e) -> str:
    if e is None:
        return MISSING
    text = rate_text(e.value)
    return text if e.sufficient else f"{text} (insufficient)"


def rate_change_text(change: RateChange) -> str:
    """``"46.0% -> 68.1%, +22.1 points (95% CI +12.0 to +32.1)"``."""
    text = f"{_estimate_text(change.before)} -> {_estimate_text(change.after)}"
    if change.change is not None:
        text += (f", {points_text(change.change)} points "
                 f"(95% CI {points_text(change.low)} to {points_text(change.high)})")
    return text


def pair_estimate_text(e: PairEstimate | None) -> str:
    """A ratio with its interval; an unbounded one as a bound."""
    if e is None:
        return MISSING
    if e.ratio is None:
        return "undefined (no errors in either group)"
    if e.at_least:
        return f"at least {ratio_text(e.ratio_low)}"
    if e.at_most:
        return f"at most {ratio_text(e.ratio_high)}"
    if e.ratio_low is None:
        return ratio_text(e.ratio)
    return f"{ratio_text(e.ratio)} ({ratio_text(e.ratio_low)} to {ratio_text(e.ratio_high)})"


def pair_change_text(change: PairChange) -> str:
    """``"1.50 (1.10 to 2.05) -> 0.667 (0.50 to 0.89) [male now higher], x0.444 (...)"``."""
    text = f"{pair_estimate_text(change.before)} -> {pair_estimate_text(change.after)}"
    if change.flipped:
        text += f" [{change.after.higher} now higher]"
    if change.change is not None:
        text += (f", ×{ratio_text(change.change)} "
                 f"(95% CI {ratio_text(change.low)} to {ratio_text(change.high)})")
    return text


def change_text(change: RateChange | PairChange) -> str:
    if change.kind == "pair":
        return pair_change_text(change)
    return rate_change_text(change)


def text_lines(changes: Changes) -> list[str]:
    """What ``lfr-audit compare`` prints, headline first."""
    lines = [f"Run {changes.after} compared with the earlier run {changes.before}.", ""]
    lines.append("Headline: overall error rates, before -> after; change in percentage points "
                 "(95% interval)")
    for block in changes.headline:
        lines.append(f"  {point_text(block.point)}")
        for c in block.changes:
            lines.append(f"    {RATE_SHORT.get(c.metric, c.metric)}: {change_text(c)}; "
                         f"{verdict_text(c)}")
    if not changes.headline:
        lines.append("  no overall rate in either run")
    lines += ["", "Fixed pairs of the demographic groupings (the highest- and lowest-rate groups "
                  "of either run): ratio of the first group's rate to the second's (95% interval), "
                  "before -> after; change as a factor"]
    for block in changes.pairs:
        lines.append(f"  {point_text(block.point)}")
        for c in block.changes:
            lines.append(f"    {_who(c)}: {change_text(c)}; {verdict_text(c)}")
    if not changes.pairs:
        lines.append("  none: no demographic grouping has two sufficient groups in either run")
    lines.append("")
    if changes.n_others:
        shown = (f"; the first {len(changes.others)} shown, {changes.n_others_hidden} more in "
                 "compare.json" if changes.n_others_hidden else "")
        lines.append(f"Other significant changes: {changes.n_others} in all, by adjusted "
                     f"p-value, then size{shown}")
        for c in changes.others:
            lines.append(f"  {_who(c)} at {point_text(c.point)}: {change_text(c)}; "
                         f"{verdict_text(c)}")
    else:
        lines.append("Other significant changes: none")
    lines += ["", correction_text(changes)]
    return lines


def correction_text(changes: Changes) -> str:
    """The multiple-testing statement: family, correction, level, what was not tested."""
    return (
        f"Multiple testing: {changes.n_compared} changes tested (every rate and fixed-pair "
        "ratio, in every grouping, group or pair and operating point, present and sufficient "
        f"in both runs); {changes.correction}, false discovery rate {changes.fdr:.0%}: "
        f"{changes.n_significant} significant. Not tested: {changes.n_unbounded} pairs with "
        f"an unbounded or undefined ratio (a group with no errors), {changes.n_insufficient} "
        f"rates with insufficient data, {changes.n_one_run} figures in one run only. "
        "Intervals combine each run's own 95% intervals as if the runs were independent; "
        "runs on the same data share subjects, so they are conservative."
    )

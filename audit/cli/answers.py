"""Short answers in the terminal: what a metrics table says, in two small tables.

``lfr-audit metrics`` (and ``run``) end with these instead of pointing at a
long report: the overall rates with intervals at each operating point, and
the largest fixed-pair disparities with their intervals and whether they
were shown (Benjamini-Hochberg adjusted p < 0.05), with the groups too small
for each rate named, never ranked.
"""

from __future__ import annotations

import math
import os

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from audit.metrics import contrasts, table, trials
from audit.metrics.pair_verdicts import SHOWN, ratios_with_p, shown_verdict

#: How many fixed-pair disparities the terminal shows (largest ratios first).
TOP_PAIRS = 5
#: Line width of the tables when they go to a file or a pipe (and ``COLUMNS`` is unset):
#: rich would use 80 and fold thresholds and intervals mid-token.
FILE_WIDTH = 160
#: How many too-small groups a row of the overall table names before counting the rest.
NAMED_SMALL = 3
UNLABELLED = "'unknown': no label in that column (unlabelled, not a group): never ranked"


def console() -> Console:
    """A console for answers: the terminal's width, or :data:`FILE_WIDTH` in a file."""
    out = Console()
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = FILE_WIDTH
    return out


def _percent(value: float) -> str:
    """Three significant digits, in percent: 0.0995, 19.4."""
    return "n/a" if value != value else f"{100 * value:.3g}"


def _rate(row) -> str:
    if row.value != row.value:
        return "n/a (no trials)"
    return f"{_percent(row.value)}% ({_percent(row.ci_low)}-{_percent(row.ci_high)})"


def _point(row) -> str:
    """The point's label and threshold, printed in full (shortest round-trip digits), so
    a calibrated threshold copied from here and deployed gives the calibrated rates."""
    label = row.operating_point if isinstance(row.operating_point, str) else "-"
    return label if row.threshold != row.threshold else f"{label} {float(row.threshold)!r}"


def _p_value(p: float) -> str:
    return "n/a" if p != p else "<1e-300" if p == 0 else f"{p:.2g}"


def _table(title: str, *headers: str) -> Table:
    out = Table(title=title, title_justify="left")
    for header in headers:
        out.add_column(header, overflow="fold")
    return out


def _add_row(out: Table, *cells: str) -> None:
    """A row of plain text: group labels and column names are the data's, and rich would
    read ``[bold]`` or ``[/b]`` in them as its markup (hiding the text, or failing)."""
    out.add_row(*(Text(cell) for cell in cells))


def _level(confidence: float) -> str:
    """95% for 0.95; 99.5% for 0.995."""
    return f"{100 * confidence:g}%"


def overall_table(frame: pd.DataFrame, confidence: float = 0.95) -> Table:
    """Overall rate of every metric at every operating point (no sweep, no cross matrix)."""
    out = _table("Overall rates", "rate", "threshold", f"rate ({_level(confidence)} interval)",
                 "trials",
                 "errors", "groups too small to rank")
    rates = frame[(frame[table.STATISTIC] == table.RATE)
                  & (frame[table.POINT_KIND].fillna("") != table.SWEEP)
                  & (frame["metric"] != trials.FMR_CROSS)]
    grouped = rates[rates["grouping"] != trials.OVERALL]
    for row in rates[rates["grouping"] == trials.OVERALL].itertuples():
        same = grouped[(grouped["metric"] == row.metric)
                       & (grouped["threshold"].fillna(-1) == (
                           -1 if row.threshold != row.threshold else row.threshold))]
        unlabelled = trials.has_unknown_label(same["group"])
        small = [f"{g.grouping}: {g.group}"
                 for g in same[~same["sufficient"] & ~unlabelled].itertuples()]
        if row.n_trials and not row.sufficient:  # as the policy names it: too few
            small.insert(0, f"overall: {row.group} ({row.n_subjects:,} subjects, "
                            f"{row.n_trials:,} trials)")
        named = "; ".join(small[:NAMED_SMALL]) + (
            f" and {len(small) - NAMED_SMALL} more" if len(small) > NAMED_SMALL else "")
        _add_row(out, row.metric, _point(row), _rate(row), f"{row.n_trials:,}",
                    f"{row.n_errors:,}", named or "-")
    if trials.has_unknown_label(grouped["group"]).any():
        out.caption = UNLABELLED
        out.caption_justify = "left"
    return out


def ratio_text(value: float, low: float, high: float) -> str:
    """A fixed-pair ratio with its interval; "at least" the lower limit when the lower
    group saw no error (the ratio is unbounded: ``inf``)."""
    if math.isinf(value):
        return f"at least {low:.3g} (lower group: no errors)"
    return f"{value:.3g} ({low:.3g}-{high:.3g})"


def disparity_table(frame: pd.DataFrame, top: int = TOP_PAIRS,
                    confidence: float = 0.95) -> Table | None:
    """The fixed-pair ratios (higher over lower group) with the largest lower limits.

    Ranked by the lower limit, not the estimate, so that a pair whose lower
    group saw no error (an unbounded ratio, "at least ...") takes its place
    and a large ratio on little data does not crowd out a shown one.
    """
    ratios = ratios_with_p(frame)
    if ratios.empty:
        return None
    defined = ratios[ratios["value"].notna() & ratios["ci_low"].notna()]
    chosen = defined.sort_values("ci_low", ascending=False, kind="stable").head(top)
    level = _level(confidence)
    pairs_counted = f"{len(ratios):,} pair" + ("" if len(ratios) == 1 else "s")
    out = _table(f"Largest fixed-pair ratios, by {level} lower limit (of {pairs_counted})",
                 "rate", "threshold", "pair", f"ratio ({level} interval)", "adj. p", "shown")
    for row in chosen.itertuples():
        p = float(row.p_adjusted)  # NaN: no adjusted p-value
        shown = shown_verdict(p, row.ci_low, 1 - confidence)
        _add_row(out, row.metric, _point(row), f"{row.group} / {row.group_b}",
                    ratio_text(row.value, row.ci_low, row.ci_high), _p_value(p), shown)
    return out


#: Projected figures the terminal quotes, with their labels.
PROJECTED = (("projected_false_alerts", "false alerts"), ("projected_true_alerts", "true alerts"),
             ("projected_precision", "share of alerts correct"))


def projection_table(frame: pd.DataFrame) -> Table | None:
    """Overall projected alerts for the crowd at each operating point, with intervals."""
    rows = frame[(frame[table.STATISTIC] == table.PROJECTION)
                 & (frame["grouping"] == trials.OVERALL)]
    if rows.empty:
        return None
    out = _table("Deployment projection (overall; intervals propagated from FPIR and FNIR)",
                 "threshold", *(label for _, label in PROJECTED))
    for _, block in rows.groupby(["threshold", table.OPERATING_POINT], sort=False):
        figures = block.set_index("metric")
        cells = []
        for metric, _ in PROJECTED:
            row = figures.loc[metric]
            if metric == "projected_precision":
                cells.append(f"{_percent(row['value'])}% ({_percent(row['ci_low'])}-"
                             f"{_percent(row['ci_high'])})")
            else:
                cells.append(f"{row['value']:,.0f} ({row['ci_low']:,.0f}-{row['ci_high']:,.0f})")
        _add_row(out, _point(next(block.itertuples())), *cells)
    return out


def tables(frame: pd.DataFrame, confidence: float = 0.95) -> list[Table]:
    """The terminal's answer for one metrics table computed at ``confidence`` (a pair is
    shown when its adjusted p-value is below ``1 - confidence``, as in the report)."""
    found = [overall_table(frame, confidence), disparity_table(frame, confidence=confidence),
             projection_table(frame)]
    return [t for t in found if t is not None]


def print_answers(frame: pd.DataFrame, confidence: float = 0.95) -> None:
    """Print :func:`tables` to stdout (see :func:`console` for the width)."""
    out = console()
    for answer in tables(frame, confidence):
        out.print(answer)


#: Rates a run's headline quotes, in order (1:N first: LFR is a 1:N system).
HEADLINE_RATES = ("fpir", "fnir", "fmr", "fnmr")


def lead_point(summary: dict) -> str | None:
    """The operating point a run's line leads with: the deployment's, else the first."""
    points = [p["operating_point"] for p in summary.get("operating_points", [])]
    return "deployment" if "deployment" in points else (points[0] if points else None)


def headline(summary: dict, point: str | None) -> str:
    """Overall rates at ``point`` with intervals; a rate without enough data is marked."""
    parts = []
    for metric in HEADLINE_RATES:
        for row in summary.get("overall", []):
            if row["metric"] != metric or row.get("operating_point") != point:
                continue
            if row.get("value") is None:
                parts.append(f"{metric} n/a")
                continue
            low, high = row.get("ci_low"), row.get("ci_high")
            interval = "" if low is None or high is None else (
                f" ({_percent(low)}-{_percent(high)})")
            small = "" if row.get("sufficient", True) else " [too few]"
            parts.append(f"{metric} {_percent(row['value'])}%{interval}{small}")
    return "; ".join(parts)


def largest_disparity(summary: dict, point: str | None, confidence: float = 0.95,
                      groupings: tuple[str, ...] | None = None) -> str:
    """The highest-vs-lowest ratio at ``point`` with the largest lower limit over the
    demographic ``groupings`` (None: every grouping; an unbounded ratio, ``"inf"`` in the
    digest, included), and if it was shown. Capture conditions are left out when the
    groupings are known: a line about disparity is read as one about people."""
    best = None
    for grouping, digests in summary.get("groupings", {}).items():
        if groupings is not None and grouping not in groupings:
            continue
        for digest in digests:
            if digest.get("operating_point") != point:
                continue
            for row in digest.get("highest_vs_lowest", []):
                if row.get("statistic") != contrasts.RATIO or row.get("ci_low") is None:
                    continue
                if best is None or row["ci_low"] > best[1]["ci_low"]:
                    best = (grouping, row, digest)
    if best is None:
        return "-"
    grouping, row, digest = best
    adjusted = next((r["value"] for r in digest["highest_vs_lowest"]
                     if r.get("statistic") == contrasts.P_ADJUSTED), None)
    shown = shown_verdict(float("nan") if adjusted is None else adjusted, row["ci_low"],
                          1 - confidence)
    shown = "shown" if shown == SHOWN else shown
    high = math.inf if row.get("ci_high") in (None, "inf") else row["ci_high"]
    value = math.inf if row["value"] == "inf" else row["value"]
    return (f"{row['metric']} {row['group']} / {row['group_b']} "
            f"{ratio_text(value, row['ci_low'], high)}, {shown}")

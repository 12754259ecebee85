"""The report's figures: matplotlib drawn to SVG, checked, inlined by the templates.

This module holds the shared style and drawing helpers, the forest plot and
the cross-group heatmap; :mod:`audit.report.threshold_figures` draws the
figures against threshold (rate sweeps, DET curves, disparity by threshold).

Every function takes a piece of the :class:`~audit.report.context.ReportContext`
plus the words to print on the figure (titles, axis labels, notes), which the
templates pass in, and returns a :class:`~audit.report.svg.SafeSvg`. The
template adds the accessible name and description (:meth:`SafeSvg.inline`).

Conventions:

* No pyplot and no global state: each figure is a :class:`matplotlib.figure.Figure`
  drawn under :func:`matplotlib.rc_context`, written as SVG with text kept as
  text (``svg.fonttype = "none"``, so the embedded DejaVu Sans renders it and
  it stays selectable), mathtext off (a ``$`` in a label is just a ``$``), a
  fixed ``svg.hashsalt`` and no date: the same context gives the same bytes.
* Colour-blind safe and readable without colour: the Okabe-Ito palette, and
  each group also gets its own marker and line style; heatmap cells carry
  their value as text and insufficient cells are hatched and labelled.
* Insufficient groups never get a plotted rate: forest plots print the
  template's "insufficient data" in their row; sweeps and DET curves leave
  them out (the caption lists them).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping

import matplotlib
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

from audit.report import formatting
from audit.report.labels import MAX_LABEL_CHARS
from audit.report.panels import CrossMatrix, Panel
from audit.report.reading import ALL
from audit.report.svg import SafeSvg, plain, sanitize

#: Okabe & Ito (2008) colour-blind-safe palette, darkest first; yellow last (weak on white).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
DASHES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1)), (0, (8, 2)))
OVERALL_COLOUR = "#000000"
MUTED = "#555555"
#: Text width of the A4 page (170 mm) in inches: figures are drawn at print size.
WIDTH = 6.7
STYLE = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "text.usetex": False,
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.2,
    "hatch.color": "#777777",
    "figure.dpi": 72,
}


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Longest group label drawn on a figure (labels over it are shortened before any
#: figure is drawn, :mod:`audit.report.labels`; this cut is a last guard).
MAX_LABEL = MAX_LABEL_CHARS


def short(label: str, limit: int = MAX_LABEL) -> str:
    """A label cut to ``limit`` characters for axes and legends, control characters
    (which XML cannot carry) replaced by U+FFFD.

    >>> short("female x black"), short("x" * 40, 10), short("a\\x00b")
    ('female x black', 'xxxxxxxxx…', 'a\ufffdb')
    """
    label = _CONTROL.sub("\ufffd", label)
    return label if len(label) <= limit else label[: limit - 1] + "…"


def style(i: int) -> dict:
    """Colour, marker and line style of the i-th group: three cues, not colour alone."""
    return {
        "color": PALETTE[i % len(PALETTE)],
        "marker": MARKERS[i % len(MARKERS)],
        "linestyle": DASHES[i % len(DASHES)],
    }


def _percent_axis(axis) -> None:
    axis.set_major_formatter(FuncFormatter(lambda x, _: formatting.percent(x) if x >= 0 else ""))


def _log_ticks(axis, values: np.ndarray) -> None:
    """Log-scale ticks; on a span of under two decades, also at 2x and 5x so several are labelled."""
    finite = values[np.isfinite(values) & (values > 0)]
    short_span = finite.size and finite.max() / finite.min() < 100
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if short_span else (1.0,)))
    axis.set_minor_formatter(NullFormatter())


def _draw(fig: Figure, figure_id: str) -> SafeSvg:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight", pad_inches=0.04)
    return sanitize(buffer.getvalue(), prefix=figure_id)


def _rc(figure_id: str) -> dict:
    return {**STYLE, "svg.hashsalt": figure_id}


def forest(
    panel: Panel,
    *,
    figure_id: str,
    titles: Mapping[str, str],
    overall_label: str,
    insufficient: str,
    no_trials: str,
) -> SafeSvg:
    """Forest plot: each group's rate and interval, one column per rate of the panel.

    The overall rate is the first row (a diamond) and a dotted vertical line.
    A group flagged insufficient shows ``insufficient`` in its row instead of
    a point; a group without trials shows ``no_trials``. ``titles`` maps a
    metric name to its panel title.
    """
    overall_label, insufficient, no_trials = plain(overall_label), plain(insufficient), plain(no_trials)
    rows = ([panel.overall] if panel.overall else []) + list(panel.rows)
    labels = [overall_label if r.group == ALL else short(r.group) for r in rows]
    n, k = len(rows), len(panel.blocks)
    with matplotlib.rc_context(_rc(figure_id)):
        fig = Figure(figsize=(WIDTH, 0.75 + 0.22 * n))
        axes = np.atleast_1d(fig.subplots(1, k, sharey=True, squeeze=False)[0])
        for j, ax in enumerate(axes):
            shown = [r.rates[j] for r in rows if r.rates[j] is not None and r.rates[j].shown]
            highs = [s.ci_high if s.ci_high is not None else s.value for s in shown]
            lows = [s.ci_low if s.ci_low is not None else s.value for s in shown]
            positive = [x for x in lows if x and x > 0]
            log = bool(shown) and len(positive) == len(lows) and max(highs) / min(positive) > 50
            for i, row in enumerate(rows):
                y = n - 1 - i
                rate = row.rates[j]
                if rate is None or not rate.available:
                    ax.text(0.02, y, no_trials, transform=ax.get_yaxis_transform(), va="center",
                            color=MUTED, style="italic")
                elif not rate.sufficient:
                    ax.text(0.02, y, insufficient, transform=ax.get_yaxis_transform(), va="center",
                            color=MUTED, style="italic")
                else:
                    low = rate.ci_low if rate.ci_low is not None else rate.value
                    high = rate.ci_high if rate.ci_high is not None else rate.value
                    is_overall = row.group == ALL
                    ax.errorbar(
                        [rate.value], [y],
                        xerr=[[max(rate.value - low, 0.0)], [max(high - rate.value, 0.0)]],
                        fmt="D" if is_overall else "o",
                        color=OVERALL_COLOUR if is_overall else PALETTE[0],
                        markersize=4.5 if is_overall else 4,
                        capsize=2.5, elinewidth=1.1,
                    )
            overall = panel.overall.rates[j] if panel.overall else None
            if overall is not None and overall.shown:
                ax.axvline(overall.value, color=MUTED, linestyle=":", linewidth=0.9)
            if log:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())
            elif shown:
                ax.set_xlim(left=0, right=max(highs) * 1.08 if max(highs) > 0 else 1e-3)
                ax.xaxis.set_major_locator(MaxNLocator(nbins=4 if k > 2 else 5))
            _percent_axis(ax.xaxis)
            ax.set_title(plain(titles.get(panel.blocks[j].metric, panel.blocks[j].metric)), loc="left")
            ax.grid(axis="y", visible=False)
            ax.set_ylim(-0.6, n - 0.4)
        axes[0].set_yticks(range(n))
        axes[0].set_yticklabels(list(reversed(labels)))
        fig.subplots_adjust(wspace=0.12)
        return _draw(fig, figure_id)


def heatmap(
    matrix: CrossMatrix,
    *,
    figure_id: str,
    xlabel: str,
    ylabel: str,
    insufficient: str,
    colorbar_label: str,
) -> SafeSvg:
    """Cross-group FMR matrix: probe group (rows) by reference group (columns).

    Colour (cividis, log scale) repeats the number printed in each cell;
    insufficient or empty cells are hatched grey and labelled.
    """
    xlabel, ylabel, insufficient, colorbar_label = map(plain, (xlabel, ylabel, insufficient, colorbar_label))
    n_rows, n_cols = len(matrix.probe_groups), len(matrix.reference_groups)
    values = np.full((n_rows, n_cols), np.nan)
    for i, row in enumerate(matrix.cells):
        for j, cell in enumerate(row):
            if cell is not None and cell.shown:
                values[i, j] = cell.value
    positive = values[np.isfinite(values) & (values > 0)]
    vmin = float(positive.min()) if positive.size else 1e-6
    vmax = float(positive.max()) if positive.size else 1e-5
    if vmax <= vmin:
        vmax = vmin * 10
    norm = LogNorm(vmin=vmin, vmax=vmax)
    cmap = matplotlib.colormaps["cividis"]
    size = min(WIDTH, 1.6 + 0.75 * n_cols)
    with matplotlib.rc_context(_rc(figure_id)):
        fig = Figure(figsize=(size, 0.9 + 0.5 * n_rows))
        ax = fig.add_subplot()
        ax.grid(False)
        shown = np.where(np.isfinite(values), np.maximum(values, vmin), np.nan)
        image = ax.pcolormesh(
            np.arange(n_cols + 1) - 0.5, np.arange(n_rows + 1) - 0.5, np.ma.masked_invalid(shown),
            cmap=cmap, norm=norm, edgecolors="#ffffff", linewidth=1.0,
        )
        ax.set_xlim(-0.5, n_cols - 0.5)
        ax.set_ylim(n_rows - 0.5, -0.5)
        for i in range(n_rows):
            for j in range(n_cols):
                value = values[i, j]
                if not np.isfinite(value):
                    ax.add_patch(
                        matplotlib.patches.Rectangle(
                            (j - 0.5, i - 0.5), 1, 1, facecolor="#eeeeee", hatch="///", edgecolor="#999999",
                            linewidth=0.0,
                        )
                    )
                    ax.text(j, i, insufficient, ha="center", va="center", color="#333333", style="italic",
                            fontsize=6.5)
                    continue
                r, g, b, _ = cmap(norm(max(value, vmin)))
                dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5
                ax.text(j, i, formatting.percent(value), ha="center", va="center",
                        color="#ffffff" if dark else "#000000", fontsize=7.5)
        ax.set_xticks(range(n_cols))
        ax.set_xticklabels([short(g, 20) for g in matrix.reference_groups], rotation=30 if n_cols > 3 else 0,
                           ha="right" if n_cols > 3 else "center")
        ax.set_yticks(range(n_rows))
        ax.set_yticklabels([short(g, 20) for g in matrix.probe_groups])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        for spine in ax.spines.values():
            spine.set_visible(False)
        bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.03)
        bar.solids.set_rasterized(False)  # vector, no embedded raster image
        bar.solids.set_edgecolor("face")  # no hairline seams between the colour steps
        bar.set_label(colorbar_label)
        bar.set_ticks([vmin, math.sqrt(vmin * vmax), vmax])
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: formatting.percent(x)))
        bar.ax.yaxis.set_minor_formatter(NullFormatter())
        bar.ax.yaxis.set_minor_locator(NullLocator())
        return _draw(fig, figure_id)

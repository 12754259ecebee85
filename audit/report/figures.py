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
* One look per group across the report: colours, markers and dashes come
  from one :class:`~audit.report.styles.GroupStyles` assigned once from the
  report's group list (colour-blind safe, readable in grey); heatmaps share one
  zero-anchored scale per rate and their cells carry the rate and its counts;
  insufficient cells are hatched and labelled.
* Tick labels never overlap: :func:`thin_ticks` drops every other tick of an
  axis until its labels clear each other (measured from matplotlib's text
  extents), and :func:`overlapping_labels` is what the tests check.
* Insufficient groups never get a plotted rate: forest plots print the
  template's "insufficient data" in their row; sweeps and DET curves leave
  them out (the caption lists them).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping

import matplotlib
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FixedLocator,
    FuncFormatter,
    LogLocator,
    MaxNLocator,
    NullFormatter,
    NullLocator,
)

from audit.report import formatting
from audit.report.labels import MAX_LABEL_CHARS
from audit.report.panels import CrossMatrix, Panel
from audit.report.reading import ALL
from audit.report.styles import MUTED, GroupStyles
from audit.report.svg import SafeSvg, plain, sanitize

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
    """A group label as the report words it (:func:`formatting.group`), cut to
    ``limit`` characters for axes and legends, control characters (which XML
    cannot carry) replaced by U+FFFD.

    >>> short("female x black"), short("x" * 40, 10), short(">=120 px"), short("a\\x00b")
    ('female x black', 'xxxxxxxxx…', '120 px or more', 'a\ufffdb')
    """
    label = formatting.group(_CONTROL.sub("\ufffd", label))
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _percent_axis(axis) -> None:
    axis.set_major_formatter(FuncFormatter(lambda x, _: formatting.percent(x) if x >= 0 else ""))


def _log_ticks(axis, values: np.ndarray) -> None:
    """Log-scale ticks; on a span of under two decades, also at 2x and 5x so several are labelled."""
    finite = values[np.isfinite(values) & (values > 0)]
    short_span = finite.size and finite.max() / finite.min() < 100
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if short_span else (1.0,)))
    axis.set_minor_formatter(NullFormatter())


def _tick_boxes(axis, renderer) -> list:
    """Window extents of the axis' visible, non-empty major tick labels, in tick order."""
    boxes = []
    for tick in axis.get_major_ticks():
        for label in (tick.label1, tick.label2):
            if label.get_visible() and label.get_text():
                boxes.append(label.get_window_extent(renderer))
    return boxes


def _overlap(boxes: list, pad: float) -> bool:
    return any(a.padded(pad / 2).overlaps(b.padded(pad / 2))
               for i, a in enumerate(boxes) for b in boxes[i + 1:])


def overlapping_labels(fig: Figure, pad: float = 2.0) -> list[str]:
    """Names of the axes whose tick labels overlap (each other, within ``pad`` points),
    and of subplot titles that overlap each other. Empty when the figure is clean."""
    renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else None
    if renderer is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    found = []
    for n, ax in enumerate(fig.axes):
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            if _overlap(_tick_boxes(axis, renderer), pad):
                found.append(f"axes {n} {name} tick labels")
    titles = [t.get_window_extent(renderer) for ax in fig.axes
              for t in (ax.title, ax._left_title, ax._right_title) if t.get_text()]
    if _overlap(titles, pad):
        found.append("subplot titles")
    return found


def thin_ticks(fig: Figure, pad: float = 2.0) -> None:
    """Keep every other tick of any axis whose labels overlap, until none do.

    Long percentages ("0.020%") on a narrow panel run together; measured
    from the text extents, not guessed from the tick count.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    for _ in range(6):
        fig.draw(renderer)
        crowded = [axis for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
                   if _overlap(_tick_boxes(axis, renderer), pad)]
        if not crowded:
            return
        for axis in crowded:
            low, high = sorted(axis.get_view_interval())
            kept = [t for t in axis.get_majorticklocs() if low <= t <= high][::2]
            axis.set_major_locator(FixedLocator(kept))


def _draw(fig: Figure, figure_id: str) -> SafeSvg:
    thin_ticks(fig)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight", pad_inches=0.04)
    return sanitize(buffer.getvalue(), prefix=figure_id)


def _rc(figure_id: str) -> dict:
    return {**STYLE, "svg.hashsalt": figure_id}


def _wrapped(title: str, panels: int) -> str:
    """A panel title wrapped to the width of one of ``panels`` side-by-side panels."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width=max(18, 84 // max(panels, 1))))


def _forest_row(ax, y: int, rate, style, words: Mapping[str, str]) -> None:
    """One row of a forest plot: the rate and its interval, or the reason there is none."""
    if rate is None or not rate.available or not rate.sufficient:
        text = words["no_trials"] if rate is None or not rate.available else words["insufficient"]
        ax.text(0.02, y, text, transform=ax.get_yaxis_transform(), va="center",
                color=MUTED, style="italic")
        return
    low = rate.ci_low if rate.ci_low is not None else rate.value
    high = rate.ci_high if rate.ci_high is not None else rate.value
    ax.errorbar([rate.value], [y], xerr=[[max(rate.value - low, 0.0)], [max(high - rate.value, 0.0)]],
                fmt=style.marker, color=style.colour, markersize=4.5 if style.overall else 4,
                capsize=2.5, elinewidth=1.1)


def _forest_axis(ax, shown: list, k: int) -> None:
    """x axis of one forest column: log when the intervals span over 50x, else from 0."""
    if not shown:  # nothing to place: no scale to read, so no ticks
        ax.set_xticks([])
        ax.set_xlim(0, 1)
        return
    highs = [s.ci_high if s.ci_high is not None else s.value for s in shown]
    lows = [s.ci_low if s.ci_low is not None else s.value for s in shown]
    positive = [x for x in lows if x and x > 0]
    if len(positive) == len(lows) and max(highs) / min(positive) > 50:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_xlim(left=0, right=max(highs) * 1.08 if max(highs) > 0 else 1e-3)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=3 if k > 2 else 4))
    _percent_axis(ax.xaxis)


def forest_figure(panel: Panel, *, titles: Mapping[str, str], overall_label: str,
                  insufficient: str, no_trials: str, styles: GroupStyles | None = None,
                  figure_id: str = "forest", names: Mapping[str, str] | None = None) -> Figure:
    """The forest plot as a matplotlib Figure (see :func:`forest`)."""
    styles = styles or GroupStyles()
    names = names or {}
    words = {"insufficient": plain(insufficient), "no_trials": plain(no_trials)}
    rows = ([panel.overall] if panel.overall else []) + list(panel.rows)
    labels = [plain(overall_label) if r.group == ALL else short(names.get(r.group, r.group))
              for r in rows]
    n, k = len(rows), len(panel.blocks)
    with matplotlib.rc_context(_rc(figure_id)):
        fig = Figure(figsize=(WIDTH, 0.85 + 0.22 * n))
        axes = np.atleast_1d(fig.subplots(1, k, sharey=True, squeeze=False)[0])
        for j, ax in enumerate(axes):
            for i, row in enumerate(rows):
                _forest_row(ax, n - 1 - i, row.rates[j], styles[row.group], words)
            overall = panel.overall.rates[j] if panel.overall else None
            if overall is not None and overall.shown:
                ax.axvline(overall.value, color=MUTED, linestyle=":", linewidth=0.9)
            _forest_axis(ax, [r.rates[j] for r in rows if r.rates[j] is not None and r.rates[j].shown], k)
            metric = panel.blocks[j].metric
            ax.set_title(_wrapped(plain(titles.get(metric, metric)), k), loc="left")
            ax.grid(axis="y", visible=False)
            ax.set_ylim(-0.6, n - 0.4)
        axes[0].set_yticks(range(n))
        axes[0].set_yticklabels(list(reversed(labels)))
        fig.subplots_adjust(wspace=0.3)
    return fig


def forest(panel: Panel, *, figure_id: str, titles: Mapping[str, str], overall_label: str,
           insufficient: str, no_trials: str, styles: GroupStyles | None = None,
           names: Mapping[str, str] | None = None) -> SafeSvg:
    """Forest plot: each group's rate and interval, one column per rate of the panel.

    The overall rate is the first row (a black diamond) and a dotted vertical
    line; each group is drawn in its report-wide style (``styles``). A group
    flagged insufficient shows ``insufficient`` in its row instead of a point;
    a group without trials shows ``no_trials``; a column with no rate to place
    has no tick labels. ``titles`` maps a metric name to its panel title; ``names`` a
    group label to the words printed for it (:meth:`audit.report.group_names.GroupNames.texts`).
    """
    fig = forest_figure(panel, titles=titles, overall_label=overall_label,
                        insufficient=insufficient, no_trials=no_trials, styles=styles,
                        figure_id=figure_id, names=names)
    with matplotlib.rc_context(_rc(figure_id)):
        return _draw(fig, figure_id)


def _cell_text(cell, value: float, insufficient: str) -> str:
    """Rate over its counts; an insufficient cell gives its size, never its errors."""
    if not np.isfinite(value):
        size = f"\nn = {formatting.count(cell.n_trials)}" if cell is not None and cell.n_trials else ""
        return insufficient + size
    return (f"{formatting.percent(value)}\n"
            f"{formatting.count(cell.n_errors)} / {formatting.count(cell.n_trials)}")


def _text_colour(background) -> str:
    """Black or white, whichever contrasts more with ``background`` (WCAG relative luminance)."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in background[:3]]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#ffffff"


def heatmap_colours():
    """The heatmaps' colour map: white at 0, darkening with the rate (matplotlib's
    ColorBrewer "Blues", lightness falling steadily, so it reads in grey and to
    colour-blind readers). On the scale all heatmaps of a rate share, the small
    rates of a strict threshold stay near white, with dark text on them, rather
    than all turning the darkest colour of the map."""
    return matplotlib.colormaps["Blues"]


def heatmap_figure(matrix: CrossMatrix, *, vmax: float, xlabel: str, ylabel: str,
                   insufficient: str, colorbar_label: str, figure_id: str = "heatmap",
                   names: Mapping[str, str] | None = None) -> Figure:
    """The heatmap as a matplotlib Figure (see :func:`heatmap`)."""
    names = names or {}
    xlabel, ylabel, insufficient, colorbar_label = map(plain, (xlabel, ylabel, insufficient, colorbar_label))
    n_rows, n_cols = len(matrix.probe_groups), len(matrix.reference_groups)
    values = np.full((n_rows, n_cols), np.nan)
    for i, row in enumerate(matrix.cells):
        for j, cell in enumerate(row):
            if cell is not None and cell.shown:
                values[i, j] = cell.value
    norm = Normalize(vmin=0.0, vmax=max(vmax, float(np.nanmax(values, initial=0.0))))
    cmap = heatmap_colours()
    with matplotlib.rc_context(_rc(figure_id)):
        fig = Figure(figsize=(min(WIDTH, 2.0 + 0.95 * n_cols), 1.0 + 0.55 * n_rows))
        ax = fig.add_subplot()
        ax.grid(False)
        image = ax.pcolormesh(np.arange(n_cols + 1) - 0.5, np.arange(n_rows + 1) - 0.5,
                              np.ma.masked_invalid(values), cmap=cmap, norm=norm,
                              edgecolors="#c8c8c8", linewidth=0.6)  # white cells need a rule
        ax.set_xlim(-0.5, n_cols - 0.5)
        ax.set_ylim(n_rows - 0.5, -0.5)
        for i in range(n_rows):
            for j in range(n_cols):
                value = values[i, j]
                text = _cell_text(matrix.cells[i][j], value, insufficient)
                if not np.isfinite(value):
                    ax.add_patch(matplotlib.patches.Rectangle(
                        (j - 0.5, i - 0.5), 1, 1, facecolor="#eeeeee", hatch="///",
                        edgecolor="#c0c0c0", linewidth=0.0))  # a light hatch: no data, not a rate
                    ax.text(j, i, text, ha="center", va="center", color="#333333",
                            style="italic", fontsize=6.5)
                    continue
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color=_text_colour(cmap(norm(value))), linespacing=1.3)
        ax.set_xticks(range(n_cols))
        ax.set_xticklabels([short(names.get(g, g), 20) for g in matrix.reference_groups],
                           rotation=30 if n_cols > 3 else 0, ha="right" if n_cols > 3 else "center")
        ax.set_yticks(range(n_rows))
        ax.set_yticklabels([short(names.get(g, g), 20) for g in matrix.probe_groups])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        for spine in ax.spines.values():
            spine.set_visible(False)
        bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.03)
        bar.solids.set_rasterized(False)  # vector, no embedded raster image
        bar.solids.set_edgecolor("face")  # no hairline seams between the colour steps
        bar.set_label(colorbar_label)
        bar.ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: formatting.percent(x)))
        bar.ax.yaxis.set_minor_locator(NullLocator())
    return fig


def heatmap(matrix: CrossMatrix, *, figure_id: str, vmax: float, xlabel: str, ylabel: str,
            insufficient: str, colorbar_label: str,
            names: Mapping[str, str] | None = None) -> SafeSvg | None:
    """Cross-group FMR matrix: probe group (rows) by reference group (columns).

    Colour (:func:`heatmap_colours`, white at 0, linear to ``vmax``, the one scale every heatmap of
    the rate shares: :func:`audit.report.panels.heatmap_scale`) repeats the rate printed in each
    cell above its counts (false matches / comparisons); insufficient or empty
    cells are hatched grey and give only their number of comparisons. None when
    no cell has a rate to show (the template words it). ``names``: as :func:`forest`'s.
    """
    if not any(c is not None and c.shown for row in matrix.cells for c in row):
        return None
    fig = heatmap_figure(matrix, vmax=vmax, xlabel=xlabel, ylabel=ylabel,
                         insufficient=insufficient, colorbar_label=colorbar_label,
                         figure_id=figure_id, names=names)
    with matplotlib.rc_context(_rc(figure_id)):
        return _draw(fig, figure_id)


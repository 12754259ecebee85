"""The report's figures: matplotlib drawn to SVG, checked, inlined by the templates.

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
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

from audit.report import formatting
from audit.report.curves import Det, DisparityCurve, Sweep
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


#: Longest group label drawn on a figure; longer ones are cut with "…" (tables keep them whole).
MAX_LABEL = 36


def short(label: str, limit: int = MAX_LABEL) -> str:
    """A label cut to ``limit`` characters for axes and legends.

    >>> short("female x black"), short("x" * 40, 10)
    ('female x black', 'xxxxxxxxx…')
    """
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


def _masked(values: Sequence[float | None]) -> np.ndarray:
    array = np.array([np.nan if v is None else v for v in values], dtype=float)
    array[array <= 0] = np.nan  # log axes: a zero rate has no position
    return array


def sweep(
    data: Sweep,
    *,
    figure_id: str,
    titles: Mapping[str, str],
    xlabel: str,
    overall_label: str,
    mark_labels: Sequence[str],
) -> SafeSvg:
    """Rates against threshold, one panel per rate, one line per sufficient group.

    Vertical lines mark the operating points of ``data.marks``, labelled with
    ``mark_labels``. Rates are on a log axis; zero rates are not drawn.
    """
    xlabel, overall_label = plain(xlabel), plain(overall_label)
    mark_labels = [plain(m) for m in mark_labels]
    with matplotlib.rc_context(_rc(figure_id)):
        fig = Figure(figsize=(WIDTH, 2.9))
        axes = fig.subplots(1, len(data.metrics), squeeze=False)[0]
        grid = [t for series in data.series for line in series for t in line.thresholds]
        handles, names = [], []
        for ax, series, metric in zip(axes, data.series, data.metrics):
            title = plain(titles.get(metric, metric))
            colour_index = 0
            for line in series:
                if not line.sufficient:
                    continue
                y = _masked(line.values)
                if line.group == ALL:
                    kwargs = {"color": OVERALL_COLOUR, "linewidth": 2.0, "linestyle": "-", "marker": None}
                else:
                    kwargs = style(colour_index)
                    colour_index += 1
                (handle,) = ax.plot(line.thresholds, y, markersize=3.2, markevery=max(1, len(y) // 8), **kwargs)
                label = overall_label if line.group == ALL else short(line.group)
                if ax is axes[0]:
                    handles.append(handle)
                    names.append(label)
            ax.set_yscale("log")
            drawn = [_masked(line.values) for line in series if line.sufficient]
            _log_ticks(ax.yaxis, np.concatenate(drawn) if drawn else np.array([]))
            _percent_axis(ax.yaxis)
            for mark, text in zip(data.marks, mark_labels):
                ax.axvline(mark.threshold, color=MUTED, linestyle="--", linewidth=0.9)
                ax.annotate(text, (mark.threshold, 1.0), xycoords=("data", "axes fraction"),
                            xytext=(3, -3), textcoords="offset points", va="top", fontsize=7, color=MUTED)
            ax.set_title(title, loc="left")
            ax.set_xlabel(xlabel)
            if grid:
                ax.set_xlim(min(grid), max(grid))
        if handles:
            fig.legend(handles, names, loc="outside lower center", ncol=min(5, len(names)),
                       frameon=False)
        fig.set_layout_engine("constrained")
        return _draw(fig, figure_id)


def det(
    data: Det,
    *,
    figure_id: str,
    xlabel: str,
    ylabel: str,
    overall_label: str,
) -> SafeSvg:
    """DET curves on log axes, one per sufficient group; filled markers at operating points."""
    xlabel, ylabel, overall_label = plain(xlabel), plain(ylabel), plain(overall_label)
    with matplotlib.rc_context(_rc(figure_id)):
        fig = Figure(figsize=(WIDTH * 0.62, 3.3))
        ax = fig.add_subplot()
        colour_index = 0
        for curve in data.curves:
            if not curve.sufficient:
                continue
            x, y = _masked(curve.x), _masked(curve.y)
            if curve.group == ALL:
                kwargs = {"color": OVERALL_COLOUR, "linewidth": 2.0, "linestyle": "-", "marker": "D"}
            else:
                kwargs = style(colour_index)
                colour_index += 1
            order = np.argsort(np.nan_to_num(x, nan=np.inf))
            label = overall_label if curve.group == ALL else short(curve.group)
            ax.plot(x[order], y[order], label=label, markersize=3.2,
                    markevery=max(1, len(x) // 6), **kwargs)
            for mx, my, _ in curve.marks:
                if mx > 0 and my > 0:
                    ax.plot([mx], [my], marker=kwargs["marker"] or "D", color=kwargs["color"],
                            markersize=7, markeredgecolor="#000000", markeredgewidth=0.8, linestyle="none")
        ax.set_xscale("log")
        ax.set_yscale("log")
        shown = [c for c in data.curves if c.sufficient]
        for axis, values in ((ax.xaxis, [c.x for c in shown]), (ax.yaxis, [c.y for c in shown])):
            _log_ticks(axis, np.concatenate([_masked(v) for v in values]) if values else np.array([]))
            _percent_axis(axis)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if ax.get_legend_handles_labels()[0]:  # no sufficient group: nothing to label
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
        return _draw(fig, figure_id)


SHOWN_SHADE = "#E69F00"
#: Line styles of the audited operating points on a disparity plot (named in the legend).
MARK_DASHES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 2)))


def _ratio_limits(data: DisparityCurve) -> tuple[float, float]:
    """y range of a disparity plot: every finite ratio and interval end, and 1, with margin."""
    values = [1.0] + [v for p in data.points for v in (p.ratio, p.low, p.high)
                      if v is not None and 0 < v < math.inf]
    low, high = min(values), max(values)
    return low / 1.6, high * 1.6


def _runs_spans(data: DisparityCurve) -> list[tuple[float, float]]:
    """x spans to shade: each run of shown thresholds, out to halfway to its neighbours."""
    grid = [p.threshold for p in data.points]
    spans = []
    for first, last in data.shown_runs:
        i, j = grid.index(first), grid.index(last)
        left = (grid[i - 1] + first) / 2 if i > 0 else first
        right = (last + grid[j + 1]) / 2 if j + 1 < len(grid) else last
        spans.append((left, right))
    return spans


def disparity(
    data: DisparityCurve,
    *,
    figure_id: str,
    title: str,
    xlabel: str,
    ylabel: str,
    mark_labels: Sequence[str],
    ratio_label: str,
    band_label: str,
    shown_label: str,
    bound_label: str,
) -> SafeSvg:
    """A fixed pair's rate ratio across thresholds, with its pointwise interval, on a log axis.

    The band is the pointwise interval (an unbounded end runs off the axis);
    thresholds where it excludes 1 are shaded and get filled markers, the
    others hollow ones; where the lower group had no error only the lower
    bound is drawn (a triangle). A line at 1 marks equal rates, vertical
    lines (one style each, named in the legend by ``mark_labels``) the
    audited operating points.
    """
    bottom, top = _ratio_limits(data)
    with matplotlib.rc_context(_rc(figure_id)):
        fig = Figure(figsize=(WIDTH, 2.7))
        ax = fig.add_subplot()
        _ratio_curve(ax, data, bottom, top, labels={
            "ratio": plain(ratio_label), "band": plain(band_label),
            "shown": plain(shown_label), "bound": plain(bound_label)})
        for i, (mark, text) in enumerate(zip(data.marks, mark_labels, strict=True)):
            ax.axvline(mark.threshold, color=MUTED, linestyle=MARK_DASHES[i % len(MARK_DASHES)],
                       linewidth=1.0, label=plain(text))
        ax.set_yscale("log")
        ax.set_ylim(bottom, top)
        _log_ticks(ax.yaxis, np.array([bottom, top]))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: formatting.ratio(v)))
        ax.set_title(plain(title), loc="left")
        ax.set_xlabel(plain(xlabel))
        ax.set_ylabel(plain(ylabel))
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))  # one entry per shaded run is enough
        if unique:  # never an empty legend ("No artists with labels")
            fig.legend(list(unique.values()), list(unique), loc="outside lower center",
                       ncol=min(4, len(unique)), frameon=False)
        fig.set_layout_engine("constrained")
        return _draw(fig, figure_id)


def _ratio_curve(ax, data: DisparityCurve, bottom: float, top: float,
                 labels: Mapping[str, str]) -> None:
    """Shaded runs, the interval band, the line at 1, the ratio and its markers."""
    x = np.array([p.threshold for p in data.points])
    ratio = np.array([np.nan if p.ratio is None else p.ratio for p in data.points])
    low = np.array([bottom / 10 if p.low is None else p.low for p in data.points])
    high = np.array([top * 10 if p.high is None else p.high for p in data.points])
    defined = np.array([p.ratio is not None or p.low is not None for p in data.points])
    shown = np.array([p.shown for p in data.points])
    for left, right in _runs_spans(data):
        ax.axvspan(left, right, color=SHOWN_SHADE, alpha=0.18, linewidth=0, label=labels["shown"])
    ax.fill_between(x, np.where(defined, low, np.nan), np.where(defined, high, np.nan),
                    color=PALETTE[0], alpha=0.18, linewidth=0, label=labels["band"])
    ax.axhline(1.0, color=OVERALL_COLOUR, linewidth=0.9)
    ax.plot(x, ratio, color=PALETTE[0], linewidth=1.4, label=labels["ratio"])
    finite = ~np.isnan(ratio)
    ax.plot(x[finite & shown], ratio[finite & shown], "o", color=PALETTE[0], markersize=3.5)
    ax.plot(x[finite & ~shown], ratio[finite & ~shown], "o", markerfacecolor="#ffffff",
            markeredgecolor=PALETTE[0], markersize=3.5)
    bound = ~finite & np.array([p.low is not None for p in data.points])
    if bound.any():
        ax.plot(x[bound], low[bound], "^", color=PALETTE[1], markersize=4.5, label=labels["bound"])
    ax.set_xlim(x.min(), x.max())

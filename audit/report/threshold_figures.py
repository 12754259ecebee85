"""Figures against the threshold: rate sweeps, DET curves, disparity by threshold.

Same conventions as :mod:`audit.report.figures` (whose style and drawing
helpers they use): a :class:`matplotlib.figure.Figure` per call, drawn to a
checked :class:`~audit.report.svg.SafeSvg`; every word printed comes from the
template; a legend is drawn only when something is labelled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from audit.report import formatting
from audit.report.curves import Det, DisparityCurve, Sweep
from audit.report.figures import (
    MUTED,
    OVERALL_COLOUR,
    PALETTE,
    WIDTH,
    _draw,
    _log_ticks,
    _percent_axis,
    _rc,
    short,
    style,
)
from audit.report.reading import ALL
from audit.report.svg import SafeSvg, plain


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
        shown = [c for c in data.curves if c.sufficient]
        points = [np.concatenate([_masked(v) for v in values]) if values else np.array([])
                  for values in ([c.x for c in shown], [c.y for c in shown])]
        if not (np.isfinite(points[0]) & np.isfinite(points[1])).any():
            ax.update_datalim([(1e-3, 1e-3), (1.0, 1.0)])  # no point with both rates above 0
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis, values in zip((ax.xaxis, ax.yaxis), points, strict=True):
            _log_ticks(axis, values)
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

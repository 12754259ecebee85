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
from audit.report.figures import WIDTH, _draw, _log_ticks, _percent_axis, _rc, short
from audit.report.reading import ALL
from audit.report.styles import MUTED, OVERALL_COLOUR, GroupStyles
from audit.report.svg import SafeSvg, plain

#: Line styles of the audited operating points (named in the legend), on every threshold axis.
MARK_DASHES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 2)))
#: The ratio line of a disparity plot: a pair, not a group, so no group's colour.
PAIR_COLOUR = "#333333"


def _masked(values: Sequence[float | None]) -> np.ndarray:
    array = np.array([np.nan if v is None else v for v in values], dtype=float)
    array[array <= 0] = np.nan  # log axes: a zero rate has no position
    return array


def _marks(ax, marks, labels: Sequence[str]) -> None:
    """A vertical line per audited operating point, one dash each, named in the legend."""
    for i, (mark, text) in enumerate(zip(marks, labels, strict=True)):
        ax.axvline(mark.threshold, color=MUTED, linestyle=MARK_DASHES[i % len(MARK_DASHES)],
                   linewidth=1.0, label=plain(text))


def _sweep_panel(ax, series, styles: GroupStyles, overall_label: str, focus) -> dict:
    """One rate's lines (sufficient groups with a positive rate); returns label -> handle."""
    handles = {}
    for line in series:
        y = _masked(line.values)
        if not line.sufficient or not np.isfinite(y).any():
            continue
        look = styles[line.group]
        (handle,) = ax.plot(line.thresholds, y, markersize=3.2, markevery=max(1, len(y) // 8),
                            **look.line())
        handles[overall_label if line.group == ALL else short(line.group)] = handle
    ax.set_yscale("log")
    drawn = [_masked(line.values) for line in series if line.sufficient]
    _log_ticks(ax.yaxis, np.concatenate(drawn) if drawn else np.array([]))
    _percent_axis(ax.yaxis)
    if focus is not None:
        ax.set_xlim(*focus)
    return handles


def sweep_figure(data: Sweep, *, titles: Mapping[str, str], xlabel: str, overall_label: str,
                 mark_labels: Sequence[str], styles: GroupStyles | None = None,
                 figure_id: str = "sweep") -> Figure | None:
    """The rate sweep as a matplotlib Figure (see :func:`sweep`); None with nothing to draw."""
    styles = styles or GroupStyles()
    drawable = data.drawable
    if not drawable:
        return None
    with matplotlib.rc_context(_rc(figure_id)):
        fig = Figure(figsize=(WIDTH, 3.1))
        axes = fig.subplots(1, len(drawable), squeeze=False)[0]
        handles: dict = {}
        for ax, metric in zip(axes, drawable, strict=True):
            series = data.series[data.metrics.index(metric)]
            handles.update(_sweep_panel(ax, series, styles, plain(overall_label), data.focus))
            _marks(ax, data.marks, mark_labels)
            ax.set_title(plain(titles.get(metric, metric)), loc="left")
            ax.set_xlabel(plain(xlabel))
        marks = dict(zip(*reversed(axes[0].get_legend_handles_labels()), strict=True))
        every = {**handles, **{k: v for k, v in marks.items() if k not in handles}}
        fig.legend(list(every.values()), list(every), loc="outside lower center",
                   ncol=min(4, len(every)), frameon=False)
        fig.set_layout_engine("constrained")
    return fig


def sweep(data: Sweep, *, figure_id: str, titles: Mapping[str, str], xlabel: str,
          overall_label: str, mark_labels: Sequence[str],
          styles: GroupStyles | None = None) -> SafeSvg | None:
    """Rates against threshold, one panel per rate with data, one line per sufficient group.

    The x axis is :attr:`Sweep.focus`; a vertical line (one dash each, named in
    the legend by ``mark_labels``) marks every audited operating point. Rates
    are on a log axis; zero rates are not drawn; a rate with nothing to draw
    gets no panel, and None is returned when no rate has (the template words it).
    """
    fig = sweep_figure(data, titles=titles, xlabel=xlabel, overall_label=overall_label,
                       mark_labels=mark_labels, styles=styles, figure_id=figure_id)
    if fig is None:
        return None
    with matplotlib.rc_context(_rc(figure_id)):
        return _draw(fig, figure_id)


def det_figure(data: Det, *, xlabel: str, ylabel: str, overall_label: str,
               styles: GroupStyles | None = None, figure_id: str = "det") -> Figure | None:
    """The DET plot as a matplotlib Figure (see :func:`det`); None with nothing to draw."""
    styles = styles or GroupStyles()
    shown = [c for c in data.curves
             if c.sufficient and np.isfinite(_masked(c.x) * _masked(c.y)).any()]
    if not shown:
        return None
    with matplotlib.rc_context(_rc(figure_id)):
        fig = Figure(figsize=(WIDTH * 0.7, 3.3))
        ax = fig.add_subplot()
        for curve in shown:
            x, y = _masked(curve.x), _masked(curve.y)
            look = styles[curve.group]
            order = np.argsort(np.nan_to_num(x, nan=np.inf))
            label = plain(overall_label) if curve.group == ALL else short(curve.group)
            ax.plot(x[order], y[order], label=label, markersize=3.2,
                    markevery=max(1, len(x) // 6), **look.line())
            for mx, my, _ in curve.marks[:1]:  # the first audited point (the caption names it)
                if mx > 0 and my > 0:
                    ax.plot([mx], [my], marker=look.marker, color=look.colour, markersize=7,
                            markeredgecolor="#000000", markeredgewidth=0.8, linestyle="none")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis, values in ((ax.xaxis, [c.x for c in shown]), (ax.yaxis, [c.y for c in shown])):
            _log_ticks(axis, np.concatenate([_masked(v) for v in values]))
            _percent_axis(axis)
        ax.set_xlabel(plain(xlabel))
        ax.set_ylabel(plain(ylabel))
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def det(data: Det, *, figure_id: str, xlabel: str, ylabel: str, overall_label: str,
        styles: GroupStyles | None = None) -> SafeSvg | None:
    """DET curves on log axes, one per sufficient group in its report-wide style;
    large outlined markers at the first audited operating point. None when no
    group has a curve to draw (the template words it)."""
    fig = det_figure(data, xlabel=xlabel, ylabel=ylabel, overall_label=overall_label,
                     styles=styles, figure_id=figure_id)
    if fig is None:
        return None
    with matplotlib.rc_context(_rc(figure_id)):
        return _draw(fig, figure_id)


SHOWN_SHADE = "#E69F00"


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


def disparity_figure(data: DisparityCurve, *, title: str, xlabel: str, ylabel: str,
                     mark_labels: Sequence[str], ratio_label: str, band_label: str,
                     shown_label: str, bound_label: str, figure_id: str = "disparity") -> Figure:
    """The disparity plot as a matplotlib Figure (see :func:`disparity`)."""
    bottom, top = _ratio_limits(data)
    with matplotlib.rc_context(_rc(figure_id)):
        fig = Figure(figsize=(WIDTH, 2.7))
        ax = fig.add_subplot()
        _ratio_curve(ax, data, bottom, top, labels={
            "ratio": plain(ratio_label), "band": plain(band_label),
            "shown": plain(shown_label), "bound": plain(bound_label)})
        _marks(ax, data.marks, mark_labels)
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
    return fig


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
    bound is drawn (a hollow triangle). A line at 1 marks equal rates, vertical
    lines (one style each, named in the legend by ``mark_labels``) the
    audited operating points.
    """
    fig = disparity_figure(data, title=title, xlabel=xlabel, ylabel=ylabel,
                           mark_labels=mark_labels, ratio_label=ratio_label,
                           band_label=band_label, shown_label=shown_label,
                           bound_label=bound_label, figure_id=figure_id)
    with matplotlib.rc_context(_rc(figure_id)):
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
                    color=PAIR_COLOUR, alpha=0.15, linewidth=0, label=labels["band"])
    ax.axhline(1.0, color=OVERALL_COLOUR, linewidth=0.9)
    ax.plot(x, ratio, color=PAIR_COLOUR, linewidth=1.4, label=labels["ratio"])
    finite = ~np.isnan(ratio)
    ax.plot(x[finite & shown], ratio[finite & shown], "o", color=PAIR_COLOUR, markersize=3.5)
    ax.plot(x[finite & ~shown], ratio[finite & ~shown], "o", markerfacecolor="#ffffff",
            markeredgecolor=PAIR_COLOUR, markersize=3.5)
    bound = ~finite & np.array([p.low is not None for p in data.points])
    if bound.any():
        ax.plot(x[bound], low[bound], "^", color=PAIR_COLOUR, markerfacecolor="#ffffff",
                markersize=4.5, label=labels["bound"])
    ax.set_xlim(x.min(), x.max())

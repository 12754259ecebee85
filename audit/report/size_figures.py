"""The watchlist-size figure: FPIR and FNIR against W, drawn with matplotlib as SVG.

One line per sufficient group on log axes, its interval as a band, and the
deployment's W as a vertical line (an open marker when extrapolated). The
rows come from :mod:`audit.report.watchlist_size`, which loads no plotting
library; this module is imported when a report is rendered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from audit.report import formatting
from audit.report.figures import WIDTH, _draw, _log_ticks, _percent_axis, _rc, short
from audit.report.reading import ALL
from audit.report.references import Reference
from audit.report.styles import MUTED, OVERALL_COLOUR, GroupStyles
from audit.report.svg import SafeSvg, plain
from audit.report.watchlist_size import METRICS, SizeCurve


def watchlist_size(data: SizeCurve, *, figure_id: str, titles: Mapping[str, str], xlabel: str,
                   overall_label: str, deployment_label: str,
                   styles: GroupStyles | None = None,
                   others: Sequence[Reference] = (), others_label: str = "{label}") -> SafeSvg:
    """FPIR and FNIR against W (log-log), one line and interval band per sufficient group,
    each group in its report-wide look (``styles``).

    The deployment's W is a dashed vertical line labelled ``deployment_label``;
    its read rates are filled markers, or open ones when extrapolated.
    ``others`` are public references whose published false alert rates at
    stated watchlist sizes (``watchlist_points``) are drawn as grey crosses on
    the false alert panel, labelled ``others_label`` (``{label}`` is the source's).
    """
    xlabel, overall_label = plain(xlabel), plain(overall_label)
    styles = styles if styles is not None else GroupStyles()
    with matplotlib.rc_context(_rc(figure_id)):
        fig = Figure(figsize=(WIDTH, 2.9))
        rates = data.drawn or METRICS[:1]
        axes = fig.subplots(1, len(rates), squeeze=False)[0]
        handles, names = [], []
        for ax, metric in zip(axes, rates):
            drawn = []
            for s in (x for x in data.series[metric] if x.sufficient):
                kwargs = ({"color": OVERALL_COLOUR, "linewidth": 2.0, "linestyle": "-",
                           "marker": None} if s.group == ALL else styles[s.group].line())
                y = _positive(s.values)
                (line,) = ax.plot(s.sizes, y, markersize=3.0, **kwargs)
                ax.fill_between(s.sizes, _positive(s.lows), _positive(s.highs),
                                color=kwargs["color"], alpha=0.15, linewidth=0)
                drawn.append(y)
                if ax is axes[0]:
                    handles.append(line)
                    names.append(overall_label if s.group == ALL else short(s.group))
                read = data.at(metric, s.group)
                if read is not None and read.rate.value and data.deployment_size:
                    ax.plot([data.deployment_size], [read.rate.value], linestyle="none",
                            marker=kwargs["marker"] or "D", color=kwargs["color"], markersize=4.5,
                            markerfacecolor="white" if read.extrapolated else kwargs["color"])
            if metric == "fpir":
                for other in (r for r in others if r.watchlist_points):
                    x = np.array([p.watchlist for p in other.watchlist_points], dtype=float)
                    y = np.array([p.fpir for p in other.watchlist_points])
                    (mark,) = ax.plot(x, y, linestyle="none", marker="X", color=MUTED,
                                      markersize=6)
                    drawn.append(y)
                    handles.append(mark)
                    names.append(plain(others_label.format(label=other.label)))
            if data.deployment_size:
                ax.axvline(data.deployment_size, color=MUTED, linestyle="--", linewidth=0.9)
                ax.annotate(plain(deployment_label), (data.deployment_size, 1.0),
                            xycoords=("data", "axes fraction"), xytext=(3, -3),
                            textcoords="offset points", va="top", fontsize=7, color=MUTED)
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: formatting.count(x)))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_yscale("log")
            _log_ticks(ax.yaxis, np.concatenate(drawn) if drawn else np.array([]))
            _percent_axis(ax.yaxis)
            ax.set_title(plain(titles.get(metric, metric)), loc="left")
            ax.set_xlabel(xlabel)
        if handles:
            fig.legend(handles, names, loc="outside lower center", ncol=min(5, len(names)),
                       frameon=False)
        fig.set_layout_engine("constrained")
        return _draw(fig, figure_id)


def _positive(values: tuple[float, ...]) -> np.ndarray:
    """Values for a log axis: zero (no error) has no position."""
    array = np.asarray(values, dtype=float)
    return np.where(array > 0, array, np.nan)

"""False alerts and misses against watchlist size: the curve's rows and its figure.

The metrics stage writes the curve (``statistic == "watchlist_curve"``,
:mod:`audit.metrics.watchlist_curve`) and the rates it read at the
deployment's watchlist size (``"rate_at_size"``, with ``"model_error"`` when
that size lies beyond the gallery, :mod:`audit.metrics.size_projection`). The
report shows those rows; it computes nothing. The figure draws FPIR and FNIR
against W on log axes, one line per sufficient group, its interval as a band,
and the deployment's W as a vertical line (an open marker when extrapolated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
import pandas as pd
import pyarrow as pa
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from audit.report import formatting
from audit.report.figures import WIDTH, _draw, _log_ticks, _percent_axis, _rc, short
from audit.report.references import Reference
from audit.report.reading import ALL, OVERALL, Interval, OperatingPoint, interval
from audit.report.styles import MUTED, OVERALL_COLOUR, GroupStyles
from audit.report.svg import SafeSvg, plain

CURVE, AT_SIZE, MODEL_ERROR = "watchlist_curve", "rate_at_size", "model_error"
COMPOSITION = "watchlist_composition"
EXTRAPOLATED = "extrapolated-independent-comparisons"
METRICS = ("fpir", "fnir")
#: Rates read at the deployment's W: also a person's seen several times, and FPIR under a
#: uniform make-up beside a stated one, when measured.
READ = (*METRICS, "fpir_per_person", "fnir_per_person", "fpir_uniform")


@dataclass(frozen=True)
class MakeupRow:
    """One group's part of the watchlist: its ``share`` of a list of W (``entries`` people),
    the ``stated`` share (None for a uniform make-up) and the ``people`` of the data in it."""

    group: str
    share: float
    stated: float | None
    entries: int
    people: int


@dataclass(frozen=True)
class SizeSeries:
    """One group's rate against watchlist size (values and interval ends, by ``sizes``)."""

    group: str
    sufficient: bool
    sizes: tuple[int, ...]
    values: tuple[float, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]


@dataclass(frozen=True)
class AtSize:
    """A group's rate read at the deployment's watchlist size; ``model_error`` when extrapolated."""

    group: str
    size: int
    sufficient: bool
    rate: Interval
    extrapolated: bool
    model_error: float | None
    n_trials: int = 0


@dataclass(frozen=True)
class SizeCurve:
    """The curve at one operating point for one grouping (``"overall"`` included).

    ``series[metric]`` holds one :class:`SizeSeries` per group, overall first;
    ``at_size[metric]`` the rates at ``deployment_size`` (None when not
    projected); ``largest`` the largest measured W of FPIR.
    """

    id: str
    grouping: str
    operating_point: OperatingPoint
    series: Mapping[str, tuple[SizeSeries, ...]]
    at_size: Mapping[str, tuple[AtSize, ...]]
    largest: int
    deployment_size: int | None
    makeup: tuple[MakeupRow, ...] = ()
    makeup_grouping: str | None = None
    makeup_size: int | None = None

    @property
    def gallery_size(self) -> int:
        """People with a usable face, each one gallery entry (the largest W is one less
        unless a stated make-up runs out of one group first)."""
        return sum(m.people for m in self.makeup) if self.makeup else self.largest + 1

    @property
    def stated_makeup(self) -> bool:
        """The watchlist's make-up was stated (stratified or balanced), not uniform."""
        return any(m.stated is not None for m in self.makeup)

    @property
    def extrapolated(self) -> bool:
        """The overall rates at the deployment's W are an extrapolation beyond the gallery."""
        return any(a is not None and a.extrapolated for a in (self.at("fpir"), self.at("fnir")))

    @property
    def drawn(self) -> tuple[str, ...]:
        """The rates with a curve to draw: a sufficient group with a measured value
        (no miss rate where no person has a second image to search with)."""
        return tuple(m for m in METRICS if any(
            s.sufficient and np.isfinite(np.asarray(s.values, dtype=float)).any()
            for s in self.series.get(m, ())))

    def at(self, metric: str, group: str = ALL, size: int | None = None) -> AtSize | None:
        """The rate read at ``size`` (default: the deployment's W), or None."""
        size = self.deployment_size if size is None else size
        return next((a for a in self.at_size.get(metric, ())
                     if a.group == group and a.size == size), None)


def size_curves(metrics: pa.Table | pd.DataFrame, point: OperatingPoint | None,
                groupings: tuple[str, ...]) -> tuple[SizeCurve, ...]:
    """The curve at ``point`` overall and for each of ``groupings`` that has rows."""
    frame = metrics.to_pandas() if isinstance(metrics, pa.Table) else metrics
    if point is None or "watchlist_size" not in frame.columns:
        return ()
    here = frame[(frame["operating_point"] == point.label)
                 & np.isclose(frame["threshold"].astype(float), point.threshold)]
    curve = here[here["statistic"] == CURVE]
    if curve.empty:
        return ()
    makeup = frame[frame["statistic"] == COMPOSITION]
    rows_of_makeup = tuple(
        MakeupRow(str(r["group"]), float(r["value"]),
                  None if pd.isna(r["target"]) else float(r["target"]),
                  int(r["n_trials"]), int(r["n_subjects"]))
        for r in makeup.to_dict(orient="records")
        if r["n_subjects"] > 0 or (pd.notna(r["target"]) and r["target"] > 0))
    out = []
    for grouping in (OVERALL, *groupings):
        rows = curve[curve["grouping"] == grouping]
        if rows.empty:
            continue
        read = here[(here["grouping"] == grouping) & here["statistic"].isin([AT_SIZE, MODEL_ERROR])]
        sizes = read["watchlist_size"].dropna()
        overall = curve[curve["grouping"] == OVERALL]
        if grouping != OVERALL:  # the overall line is drawn beside the groups
            rows = pd.concat([overall, rows])
        out.append(SizeCurve(
            id=f"size-{point.id}-{grouping}".replace(" ", "-"), grouping=grouping,
            operating_point=point,
            series={m: _series(rows[rows["metric"] == m]) for m in METRICS},
            at_size={m: _at_size(read[read["metric"] == m]) for m in READ},
            largest=int(rows.loc[rows["metric"] == "fpir", "watchlist_size"].max()),
            deployment_size=int(sizes.min()) if len(sizes) else None,
            makeup=rows_of_makeup,
            makeup_grouping=str(makeup["grouping"].iloc[0]) if len(makeup) else None,
            makeup_size=int(makeup["watchlist_size"].iloc[0]) if len(makeup) else None,
        ))
    return tuple(out)


def _series(rows: pd.DataFrame) -> tuple[SizeSeries, ...]:
    out = []
    for group, part in rows.groupby("group", sort=False):
        part = part.sort_values("watchlist_size")
        measured = part[part["value"].notna()]  # a group none of whom a make-up lists at W
        out.append(SizeSeries(
            str(group), bool(len(measured) and measured["sufficient"].all()),
            tuple(int(w) for w in part["watchlist_size"]),
            *(tuple(float(v) for v in part[c]) for c in ("value", "ci_low", "ci_high"))))
    return tuple(sorted(out, key=lambda s: s.group != ALL))


def _at_size(rows: pd.DataFrame) -> tuple[AtSize, ...]:
    rates = rows[rows["statistic"] == AT_SIZE]
    gaps = rows[rows["statistic"] == MODEL_ERROR].set_index(["group", "watchlist_size"])["value"]
    return tuple(
        AtSize(str(r["group"]), int(r["watchlist_size"]), bool(r["sufficient"]), interval(r),
               r["ci_method"] == EXTRAPOLATED,
               float(gaps[key]) if (key := (r["group"], r["watchlist_size"])) in gaps.index
               else None, int(r["n_trials"]))
        for r in rates.to_dict(orient="records"))


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

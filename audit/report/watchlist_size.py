"""False alerts and misses against watchlist size: the curve's rows, as the report reads them.

The metrics stage writes the curve (``statistic == "watchlist_curve"``,
:mod:`audit.metrics.watchlist_curve`) and the rates it read at the
deployment's watchlist size (``"rate_at_size"``, with ``"model_error"`` when
that size lies beyond the gallery, :mod:`audit.metrics.size_projection`). The
report shows those rows; it computes nothing. The figure is drawn by
:mod:`audit.report.size_figures`, so reading the rows loads no plotting library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.report.reading import ALL, OVERALL, Interval, OperatingPoint, interval

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

"""The changes between two runs' metrics, each tested (for :mod:`audit.runs.compare`).

Operating points are matched by kind, target and threshold value; a rate
change is tested on its two intervals (a log-scale MOVER interval for the
ratio, the difference's from the same limits), a fixed pair's change on the
pair's own ratio intervals; every p-value then enters one Benjamini-Hochberg
adjustment. The rules and their reasons are in :mod:`audit.runs.compare`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import pandas as pd

from ..metrics import table as mt
from ..metrics.trials import FMR_CROSS
from ..metrics.contrasts import DIFFERENCE, P_ADJUSTED, RATIO, benjamini_hochberg
from ..report.comparison import (
    CALIBRATED,
    INFINITE,
    UNDEFINED,
    Estimate,
    PairChange,
    PairEstimate,
    Point,
    RateChange,
)

#: z for the two-sided 95% interval of a change.
Z95 = 1.959963984540054
#: Operating points in this order; fta's "no threshold" last.
BEFORE, AFTER = "before", "after"
KIND_ORDER = (mt.DEPLOYMENT, mt.REFERENCE, mt.TARGET_FMR, mt.TARGET_FPIR)
#: Why a change was not tested (shown as written).
POINT_MISSING = "operating point not in the {run} run"
NOT_IN_RUN = "not in the {run} run"
NO_TRIALS = "not tested: no trials in the {run} run"
NO_INTERVAL = "not tested: no interval"
INSUFFICIENT = "not tested: insufficient data in the {run} run"
GROUP_INSUFFICIENT = "{group} insufficient"
GROUP_MISSING = "{group} not measured"
PAIR_MISSING = "not compared in the {run} run: {why}"
NO_PAIR = "no contrast"


def _point_key(kind: object, target: object, threshold: object) -> tuple:
    """How an operating point is matched: by target when calibrated, by value when fixed."""
    if not isinstance(kind, str):
        return ("",)
    if kind in CALIBRATED:
        return (kind, float(target))
    return (kind, round(float(threshold), 10))


def points_keyed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["point_key"] = [
        _point_key(k, t, h)
        for k, t, h in zip(frame[mt.POINT_KIND], frame[mt.TARGET], frame["threshold"], strict=True)
    ]
    frame[mt.GROUP_B] = frame[mt.GROUP_B].astype(object).where(frame[mt.GROUP_B].notna(), None)
    return frame


def match_points(frames: Mapping[str, pd.DataFrame]) -> dict[tuple, Point]:
    seen: dict[tuple, dict] = {}
    for run in (BEFORE, AFTER):
        rows = frames[run].drop_duplicates("point_key")
        for key, kind, target, label, threshold in zip(
                rows["point_key"], rows[mt.POINT_KIND], rows[mt.TARGET],
                rows[mt.OPERATING_POINT], rows["threshold"], strict=True):
            entry = seen.setdefault(key, {
                "kind": kind if isinstance(kind, str) else None,
                "target": _number(target), "label": label if isinstance(label, str) else None,
                "in_before": False, "in_after": False,
                "threshold_before": None, "threshold_after": None})
            entry[f"in_{run}"] = True
            entry[f"threshold_{run}"] = _number(threshold)
    points = {key: Point(**entry) for key, entry in seen.items()}
    return dict(sorted(points.items(), key=lambda item: point_order(item[1])))


def point_order(point: Point) -> tuple:
    if point.kind is None:
        return (len(KIND_ORDER) + 1, 0.0)
    rank = KIND_ORDER.index(point.kind) if point.kind in KIND_ORDER else len(KIND_ORDER)
    value = point.target if point.calibrated else (point.threshold_before
                                                   if point.in_before else point.threshold_after)
    return (rank, value if value is not None else 0.0)


def rate_changes(frames: Mapping[str, pd.DataFrame], points: Mapping[tuple, Point]
                  ) -> list[RateChange]:
    keys = ["metric", "grouping", "group", mt.GROUP_B, "point_key"]
    runs = {}
    for run, frame in frames.items():
        rows = _one_per_mirror(frame[frame[mt.STATISTIC] == mt.RATE]).drop_duplicates(keys)
        runs[run] = {tuple(k): _estimate(r) for k, r in zip(
            rows[keys].itertuples(index=False, name=None), rows.itertuples(index=False),
            strict=True)}
    out = []
    for key in sorted(set(runs[BEFORE]) | set(runs[AFTER]), key=_sort_key):
        metric, grouping, group, group_b, point_key = key
        point = points[point_key]
        a, b = runs[BEFORE].get(key), runs[AFTER].get(key)
        out.append(_rate_change(metric, grouping, group, group_b, point, a, b))
    return out


def _one_per_mirror(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with each cross-group FMR cell once: the matrix is symmetric (a comparison
    counts in the unordered pair of its two people's groups), so cell (a, b) and its
    mirror (b, a) are one figure, tested once (the one with ``group <= group_b``). A cell
    whose mirror holds another figure (a directional matrix) is kept."""
    cross = rows[rows["metric"] == FMR_CROSS]
    if cross.empty:
        return rows
    keys = ["grouping", "group", mt.GROUP_B, mt.OPERATING_POINT]
    mirror = cross.rename(columns={"group": mt.GROUP_B, mt.GROUP_B: "group"})
    paired = cross.reset_index().merge(mirror[[*keys, "value", "n_trials", "n_errors"]],
                                       on=keys, how="left", suffixes=("", "_mirror"))
    same = ((paired["value"] == paired["value_mirror"])
            | (paired["value"].isna() & paired["value_mirror"].isna())) & (
        paired["n_trials"] == paired["n_trials_mirror"]) & (
        paired["n_errors"] == paired["n_errors_mirror"])
    dropped = paired.loc[same & (paired["group"].astype(str) > paired[mt.GROUP_B].astype(str)),
                         "index"]
    return rows.drop(index=dropped)


def _rate_change(metric, grouping, group, group_b, point, a, b) -> RateChange:
    change = low = high = p = None
    reason = None
    if a is None or b is None:
        run = BEFORE if a is None else AFTER
        present = point.in_before if a is None else point.in_after
        reason = NOT_IN_RUN.format(run=run) if present else POINT_MISSING.format(run=run)
    elif a.value is None or b.value is None:
        reason = NO_TRIALS.format(run=BEFORE if a.value is None else AFTER)
    else:
        moved = _mover(b.value, b.low, b.high, a.value, a.low, a.high, log=False)
        if moved is not None:
            change, low, high, p = moved
        if not (a.sufficient and b.sufficient):
            which = "before and after" if not (a.sufficient or b.sufficient) else (
                BEFORE if not a.sufficient else AFTER)
            reason, p = INSUFFICIENT.format(run=which), None
        elif moved is None:
            reason = NO_INTERVAL
    return RateChange(metric=metric, grouping=grouping, group=group, group_b=group_b,
                      point=point, before=a, after=b, change=change, low=low, high=high,
                      p_value=p, p_adjusted=None, reason=reason)


def pair_changes(frames: Mapping[str, pd.DataFrame], points: Mapping[tuple, Point]
                  ) -> list[PairChange]:
    runs = {run: _pair_estimates(frame) for run, frame in frames.items()}
    rated = {run: _rate_status(frame) for run, frame in frames.items()}
    out = []
    for key in sorted(set(runs[BEFORE]) | set(runs[AFTER]), key=_sort_key):
        metric, grouping, pair, point_key = key
        point = points[point_key]
        a, b = runs[BEFORE].get(key), runs[AFTER].get(key)
        first = (a or b).higher
        second = next(g for g in sorted(pair) if g != first) if len(pair) > 1 else first
        if b is not None and b.higher != first:
            b = b.turned()
        change = low = high = p = None
        reason = None
        if a is None or b is None:
            run = BEFORE if a is None else AFTER
            if not (point.in_before if a is None else point.in_after):
                why = POINT_MISSING.format(run=run)
            else:
                status = rated[run]
                why = " and ".join(
                    GROUP_MISSING.format(group=g) if (metric, grouping, g, point_key) not in status
                    else GROUP_INSUFFICIENT.format(group=g)
                    for g in (first, second)
                    if not status.get((metric, grouping, g, point_key), False)) or NO_PAIR
            reason = PAIR_MISSING.format(run=run, why=why)
        elif _undefined(a.ratio) or _undefined(b.ratio):
            reason = UNDEFINED
        elif not (_positive(a.ratio) and _positive(b.ratio)
                  and all(_positive(x) for x in (a.ratio_low, a.ratio_high,
                                                 b.ratio_low, b.ratio_high))):
            reason = INFINITE
        else:
            change, low, high, p = _mover(b.ratio, b.ratio_low, b.ratio_high,
                                          a.ratio, a.ratio_low, a.ratio_high, log=True)
        out.append(PairChange(metric=metric, grouping=grouping, group=first, group_b=second,
                              point=point, before=a, after=b, change=change, low=low,
                              high=high, p_value=p, p_adjusted=None, reason=reason))
    return out


def _pair_estimates(frame: pd.DataFrame) -> dict[tuple, PairEstimate]:
    """One PairEstimate per (metric, grouping, {group, group_b}, point) of a run."""
    rows = frame[frame[mt.STATISTIC].isin([RATIO, DIFFERENCE, P_ADJUSTED])
                 & frame[mt.GROUP_B].notna()]
    parts: dict[tuple, dict] = {}
    for r in rows.itertuples(index=False):
        key = (r.metric, r.grouping, frozenset((r.group, getattr(r, mt.GROUP_B))), r.point_key)
        entry = parts.setdefault(key, {"higher": r.group})
        entry[getattr(r, mt.STATISTIC)] = (_number(r.value), _number(r.ci_low),
                                           _number(r.ci_high))
    out = {}
    none = (None, None, None)
    for key, entry in parts.items():
        ratio, difference = entry.get(RATIO, none), entry.get(DIFFERENCE, none)
        out[key] = PairEstimate(
            higher=entry["higher"], ratio=ratio[0], ratio_low=ratio[1], ratio_high=ratio[2],
            difference=difference[0], difference_low=difference[1],
            difference_high=difference[2], p_adjusted=entry.get(P_ADJUSTED, none)[0])
    return out


def _rate_status(frame: pd.DataFrame) -> dict[tuple, bool]:
    """Whether each group's rate was sufficient, by (metric, grouping, group, point)."""
    rows = frame[(frame[mt.STATISTIC] == mt.RATE) & frame[mt.GROUP_B].isna()]
    return {(m, g, grp, k): bool(s) for m, g, grp, k, s in zip(
        rows["metric"], rows["grouping"], rows["group"], rows["point_key"], rows["sufficient"],
        strict=True)}


def adjust_p_values(rates: list[RateChange], pairs: list[PairChange]
            ) -> tuple[tuple[RateChange, ...], tuple[PairChange, ...]]:
    """Benjamini-Hochberg over every tested change (rates and pairs together)."""
    changes = rates + pairs
    tested = [i for i, c in enumerate(changes) if c.tested]
    adjusted = benjamini_hochberg([changes[i].p_value for i in tested])
    for i, q in zip(tested, adjusted, strict=True):
        changes[i] = replace(changes[i], p_adjusted=float(q))
    return tuple(changes[:len(rates)]), tuple(changes[len(rates):])


def point_key_of(point: Point) -> tuple:
    threshold = point.threshold_before if point.in_before else point.threshold_after
    return _point_key(point.kind, point.target, threshold)


# -- numbers ----------------------------------------------------------------------------


def _mover(a, a_low, a_high, b, b_low, b_high, *, log: bool):
    """Change ``a - b`` (``log``: ``a / b`` on the log scale) with its 95% interval and p.

    Returns (change, low, high, p) or None when an interval is missing.
    """
    values = (a, a_low, a_high, b, b_low, b_high)
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    if log:
        a, a_low, a_high, b, b_low, b_high = (math.log(v) for v in values)
    d = a - b
    below = math.hypot(a - a_low, b_high - b)
    above = math.hypot(a_high - a, b - b_low)
    low, high = d - below, d + above
    facing = below if d > 0 else above
    if d == 0:
        p = 1.0
    elif facing == 0:
        p = 0.0
    else:
        p = math.erfc(abs(d) / (facing / Z95) / math.sqrt(2))  # two-sided normal
    if log:
        return math.exp(d), math.exp(low), math.exp(high), p
    return d, low, high, p


def change_size(change: RateChange | PairChange) -> float:
    """How far a tested change moved: in rate units, or log-ratio units for a pair."""
    if change.kind == "pair":
        return abs(math.log(change.change))
    return abs(change.change)


def _estimate(row) -> Estimate:
    return Estimate(value=_number(row.value), low=_number(row.ci_low), high=_number(row.ci_high),
                    sufficient=bool(row.sufficient), n_trials=int(row.n_trials),
                    n_subjects=int(row.n_subjects), n_errors=int(row.n_errors))


def _number(value: object) -> float | None:
    """A float, or None for a missing value (NaN or null)."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _undefined(x: float | None) -> bool:
    return x is None


def _positive(x: float | None) -> bool:
    return x is not None and 0 < x < math.inf


def _sort_key(key: tuple) -> tuple:
    return tuple(sorted(k) if isinstance(k, frozenset) else ("" if k is None else k)
                 for k in key[:-1]) + (str(key[-1]),)

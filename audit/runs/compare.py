"""What changed between two audit runs, and whether it matters.

:func:`compare_runs` reads two run folders and returns a
:class:`audit.report.comparison.Comparison`:
spec and environment differences key by key, the policy outcomes, and every
error rate and fixed-pair contrast of the two metrics tables matched, with
the change, its 95% interval, a p-value and a Benjamini-Hochberg adjusted
p-value. :meth:`Comparison.to_json` is its ``compare.json``;
:mod:`audit.report.changes` words it for the terminal and the reports.

Matching (on the structure columns of :mod:`audit.metrics.table`, never on
label text):

* Operating points: a calibrated point (``point_kind`` ``target_fmr`` or
  ``target_fpir``) by its kind and ``target``, since re-calibration is exactly
  what a model change does (its threshold may differ, and both are shown); a
  fixed threshold (``deployment``, ``reference``) by its kind and threshold
  value. ``fta`` rows have no threshold and match each other. Sweep rows are
  never compared.
* Rates (``statistic == "rate"``) on (metric, grouping, group, ``group_b``,
  point); ``group_b`` is the reference side of a cross-group FMR cell.
* Fixed pairs (``ratio`` and ``difference`` rows) on the *unordered* pair
  {``group``, ``group_b``}, metric, grouping and point. A pair is named in the
  before run's orientation (its higher group first); when the other group is
  higher in the after run, the after run's figures are turned round (ratio
  ``r`` with interval ``(l, u)`` becomes ``1/r`` with ``(1/u, 1/l)``; a
  difference is negated and its interval negated and swapped) and the flip is
  recorded. A rate or pair in one run only is kept, with the reason (the
  operating point is missing, a group was insufficient or not measured).

Changes and tests: for a rate, the change ``after - before`` gets a MOVER
interval (Zou & Donner 2008) from the two runs' own 95% intervals, each side
taken from the interval facing the other value::

    low  = d - sqrt((a - l_a)^2 + (u_b - b)^2)
    high = d + sqrt((u_a - a)^2 + (b - l_b)^2)

(with symmetric intervals this is the usual ``1.96 * sqrt(se_a^2 + se_b^2)``).
A ratio is compared on the log scale the same way, and its change is a factor
``after / before``. The p-value comes from the same normal approximation, the
standard error being the margin facing zero over 1.96, so ``p < 0.05`` exactly
when the interval excludes no change. The two runs are treated as
independent. Runs on the same data share subjects, whose errors are
positively correlated across runs, so the true variance of the change is
smaller: these intervals are conservative (a flagged change is real at least
at the stated level; a small real change may go unflagged).

Multiple testing: the family is every change tested, i.e. every rate and
every fixed-pair ratio, in every grouping, group or pair and operating point
present, finite and sufficient in both runs. Benjamini-Hochberg (1995)
controls its false discovery rate at :data:`FDR`; a change is *significant*
when its adjusted p-value is below it. A ratio whose lower group has no error
(infinite, or zero once turned round) or whose groups both have none
(undefined) is not tested. Descriptive summaries (max/min ratio, Gini, GARBE,
FDR) and projected figures are not compared: the fixed pairs replace the
former, and the latter follow from FPIR and FNIR.

What leads (:attr:`Comparison.headline`, :attr:`Comparison.lead_pairs`,
:attr:`Comparison.others`): the overall rates at each operating point; then,
at each operating point present in both runs, the fixed pairs of the
demographic groupings that were the extreme pair (highest and lowest
sufficient group, within a stratum) in either run, so a change of extreme
pair shows both pairs; then every other significant change, by adjusted
p-value, then by size (rate difference, or log of the ratio's factor).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ..metrics import table as mt
from ..metrics.contrasts import DIFFERENCE, P_ADJUSTED, RATIO, benjamini_hochberg
from .layout import METRICS_FILE, RunError, read_run
from ..report.comparison import (
    CALIBRATED,
    INFINITE,
    UNDEFINED,
    Comparison,
    Estimate,
    PairChange,
    PairEstimate,
    Point,
    RateChange,
    RunRef,
    SettingChange,
)

#: z for the two-sided 95% interval of a change.
Z95 = 1.959963984540054
#: Overall rates of the headline, in this order (1:N first).
HEADLINE_RATES = ("fpir", "fnir", "fmr", "fnmr", "fta")
#: Operating points in this order; fta's "no threshold" last.
KIND_ORDER = (mt.DEPLOYMENT, mt.REFERENCE, mt.TARGET_FMR, mt.TARGET_FPIR)
OVERALL = "overall"
BEFORE, AFTER = "before", "after"
#: Columns a metrics table needs to be compared.
NEEDED = ("metric", "grouping", "group", "threshold", "value", "ci_low", "ci_high",
          "n_trials", "n_subjects", "n_errors", "sufficient", mt.OPERATING_POINT,
          mt.STATISTIC, mt.GROUP_B, mt.POINT_KIND, mt.TARGET)
OLD_TABLE = ("{folder}: metrics.parquet has no {columns} column(s); it was written by an "
             "older lfr-audit. Re-run that run's spec, then compare")

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


# -- reading and comparing ----------------------------------------------------------------


def flatten(data: object, prefix: str = "") -> dict[str, object]:
    """Nested dicts as dotted keys, for a key-by-key diff."""
    if not isinstance(data, dict):
        return {prefix: data}
    out = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def diff_dicts(a: dict, b: dict) -> tuple[SettingChange, ...]:
    left, right = flatten(a), flatten(b)
    return tuple(SettingChange(k, left.get(k), right.get(k))
                 for k in sorted(set(left) | set(right)) if left.get(k) != right.get(k))


def read_metrics(folder: Path) -> pd.DataFrame:
    """A run's METRICS rows without the sweep, checked for the structure columns."""
    frame = pq.read_table(Path(folder) / METRICS_FILE).to_pandas()
    missing = [c for c in NEEDED if c not in frame.columns]
    if missing:
        raise RunError(OLD_TABLE.format(folder=folder, columns=", ".join(missing)))
    return _unswept(frame)


def _unswept(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame[mt.POINT_KIND].fillna("") != mt.SWEEP].reset_index(drop=True)


def compare_runs(before: Path, after: Path) -> Comparison:
    """Compare run folder ``after`` with the earlier ``before`` (see the module docstring)."""
    run_a, run_b = read_run(before), read_run(after)
    pa_, pb = run_a.provenance, run_b.provenance
    demographic = _demographic(pa_.sensitive_groupings, pb.sensitive_groupings)
    compared = compare_metrics(read_metrics(before), read_metrics(after), demographic=demographic)
    return replace(
        compared,
        before=RunRef(pa_.run_id, str(before)),
        after=RunRef(pb.run_id, str(after)),
        spec_changes=diff_dicts(pa_.spec, pb.spec),
        environment_changes=diff_dicts(pa_.environment(), pb.environment()),
        policy_before=run_a.policy_record,
        policy_after=run_b.policy_record,
    )


def compare_metrics(
    before: pd.DataFrame, after: pd.DataFrame, *, demographic: Iterable[str] | None = None
) -> Comparison:
    """Compare two METRICS frames (sweep rows are ignored).

    ``demographic``: groupings whose fixed pairs lead; None: every grouping
    but ``overall``. The run references and set-up changes are left empty.
    """
    frames = {BEFORE: _points_keyed(_unswept(before)), AFTER: _points_keyed(_unswept(after))}
    points = _points(frames)
    rates = _rate_changes(frames, points)
    pairs = _pair_changes(frames, points)
    rates, pairs = _adjust(rates, pairs)
    groupings = sorted(set().union(*(set(f["grouping"]) for f in frames.values())))
    if demographic is None:
        chosen = tuple(g for g in groupings if g != OVERALL)
    else:
        wanted = [_canonical(g) for g in demographic]
        chosen = tuple(g for g in sorted(groupings, key=lambda g: _rank(wanted, _canonical(g)))
                       if _canonical(g) in wanted)
    headline = tuple(sorted(
        (c for c in rates if c.grouping == OVERALL and c.metric in HEADLINE_RATES),
        key=lambda c: (_point_order(c.point), HEADLINE_RATES.index(c.metric))))
    lead = _lead_pairs(frames, pairs, chosen)
    shown = {id(c) for c in headline} | {id(c) for c in lead}
    others = tuple(sorted(
        (c for c in rates + pairs if c.significant and id(c) not in shown),
        key=lambda c: (c.p_adjusted, -_size(c), _point_order(c.point), c.metric, c.grouping,
                       c.group, c.group_b or "")))
    return Comparison(
        before=RunRef("", ""), after=RunRef("", ""), spec_changes=(), environment_changes=(),
        policy_before=None, policy_after=None, points=tuple(points.values()), rates=rates,
        pairs=pairs, headline=headline, lead_pairs=lead, others=others, demographic=chosen)


def _demographic(*recorded: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The spec's demographic groupings (either run's), or None when neither records them."""
    if all(r is None for r in recorded):
        return None
    out: list[str] = []
    for names in recorded:
        out += [str(n) for n in names or () if str(n) not in out]
    return tuple(out)


def _canonical(grouping: str) -> str:
    """A grouping name without spaces: ``"gender x  ethnicity"`` as ``"genderxethnicity"``."""
    return "".join(str(grouping).split())


def _rank(wanted: list[str], name: str) -> int:
    return wanted.index(name) if name in wanted else len(wanted)


def _point_key(kind: object, target: object, threshold: object) -> tuple:
    """How an operating point is matched: by target when calibrated, by value when fixed."""
    if not isinstance(kind, str):
        return ("",)
    if kind in CALIBRATED:
        return (kind, float(target))
    return (kind, round(float(threshold), 10))


def _points_keyed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["point_key"] = [
        _point_key(k, t, h)
        for k, t, h in zip(frame[mt.POINT_KIND], frame[mt.TARGET], frame["threshold"], strict=True)
    ]
    frame[mt.GROUP_B] = frame[mt.GROUP_B].astype(object).where(frame[mt.GROUP_B].notna(), None)
    return frame


def _points(frames: Mapping[str, pd.DataFrame]) -> dict[tuple, Point]:
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
    return dict(sorted(points.items(), key=lambda item: _point_order(item[1])))


def _point_order(point: Point) -> tuple:
    if point.kind is None:
        return (len(KIND_ORDER) + 1, 0.0)
    rank = KIND_ORDER.index(point.kind) if point.kind in KIND_ORDER else len(KIND_ORDER)
    value = point.target if point.calibrated else (point.threshold_before
                                                   if point.in_before else point.threshold_after)
    return (rank, value if value is not None else 0.0)


def _rate_changes(frames: Mapping[str, pd.DataFrame], points: Mapping[tuple, Point]
                  ) -> list[RateChange]:
    keys = ["metric", "grouping", "group", mt.GROUP_B, "point_key"]
    runs = {}
    for run, frame in frames.items():
        rows = frame[frame[mt.STATISTIC] == mt.RATE].drop_duplicates(keys)
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


def _pair_changes(frames: Mapping[str, pd.DataFrame], points: Mapping[tuple, Point]
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


def _adjust(rates: list[RateChange], pairs: list[PairChange]
            ) -> tuple[tuple[RateChange, ...], tuple[PairChange, ...]]:
    """Benjamini-Hochberg over every tested change (rates and pairs together)."""
    changes = rates + pairs
    tested = [i for i, c in enumerate(changes) if c.tested]
    adjusted = benjamini_hochberg([changes[i].p_value for i in tested])
    for i, q in zip(tested, adjusted, strict=True):
        changes[i] = replace(changes[i], p_adjusted=float(q))
    return tuple(changes[:len(rates)]), tuple(changes[len(rates):])


def _lead_pairs(frames: Mapping[str, pd.DataFrame], pairs: Iterable[PairChange],
                groupings: tuple[str, ...]) -> tuple[PairChange, ...]:
    """The extreme pair of each demographic block in either run, at points in both runs.

    Within a (metric, grouping, point) block, the pairs of one stratum are
    the pairs linking its sufficient groups; the extreme pair (highest and
    lowest rate) is the one with the largest difference.
    """
    extreme: set[tuple] = set()
    for frame in frames.values():
        rows = frame[(frame[mt.STATISTIC] == DIFFERENCE) & frame["grouping"].isin(groupings)
                     & frame["metric"].isin(HEADLINE_RATES)]
        for (metric, grouping, point_key), block in rows.groupby(
                ["metric", "grouping", "point_key"], sort=False):
            for part in _strata(block):
                best = part.sort_values(["value", "group", mt.GROUP_B],
                                        ascending=[False, True, True], kind="stable").iloc[0]
                extreme.add((metric, grouping, frozenset((best["group"], best[mt.GROUP_B])),
                             point_key))
    chosen = [c for c in pairs
              if c.point.matched and (c.metric, c.grouping, frozenset((c.group, c.group_b)),
                                      _key_of(c.point)) in extreme]
    return tuple(sorted(chosen, key=lambda c: (
        _point_order(c.point), groupings.index(c.grouping), HEADLINE_RATES.index(c.metric),
        c.group, c.group_b)))


def _strata(block: pd.DataFrame) -> list[pd.DataFrame]:
    """Split a block's pair rows into connected sets of groups (one per stratum)."""
    parent: dict[str, str] = {}

    def root(g: str) -> str:
        while parent.setdefault(g, g) != g:
            g = parent[g]
        return g

    for a, b in zip(block["group"], block[mt.GROUP_B], strict=True):
        parent[root(a)] = root(b)
    labels = [root(a) for a in block["group"]]
    return [part for _, part in block.groupby(pd.Series(labels, index=block.index), sort=True)]


def _key_of(point: Point) -> tuple:
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


def _size(change: RateChange | PairChange) -> float:
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

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
interval (Zou & Donner 2008) from the two runs' own 95% intervals (runs measured
at another level are refused: :func:`check_previous`), each side
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
smaller: these intervals are conservative (a flagged change is at most as likely to be
chance as the stated level allows; a small real change may go unflagged).

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
from ..metrics.contrasts import DIFFERENCE
from ..report.comparison import Comparison, PairChange, RunRef, SettingChange
from .layout import METRICS_FILE, RunError, read_run
from .tested_changes import (
    AFTER,
    BEFORE,
    adjust_p_values,
    change_size,
    match_points,
    pair_changes,
    point_key_of,
    point_order,
    points_keyed,
    rate_changes,
)

#: Overall rates of the headline, in this order (1:N first).
HEADLINE_RATES = ("fpir", "fnir", "fmr", "fnmr", "fta")
OVERALL = "overall"
#: Columns a metrics table needs to be compared.
NEEDED = ("metric", "grouping", "group", "threshold", "value", "ci_low", "ci_high",
          "n_trials", "n_subjects", "n_errors", "sufficient", mt.OPERATING_POINT,
          mt.STATISTIC, mt.GROUP_B, mt.POINT_KIND, mt.TARGET)
#: The level of the runs' intervals that the changes' intervals and tests are built from
#: (:data:`audit.runs.tested_changes.Z95`).
LEVEL = 0.95
OTHER_LEVEL = ("{folder} was measured at confidence {confidence:g} ([statistics] confidence); "
               "changes are tested on both runs' 95% intervals: run its spec again with "
               "confidence = 0.95 (cached faces and scores are reused)")
NEW_LEVEL = ("this spec's [statistics] confidence is {confidence:g}; the report's changes "
             "since --previous are tested on both runs' 95% intervals: set confidence = 0.95, "
             "or drop --previous")
OLD_TABLE = ("{folder}: metrics.parquet has no {columns} column(s); it was written by an "
             "older lfr-audit. Re-run that run's spec, then compare")


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
    return read_metrics_table(Path(folder) / METRICS_FILE, named=folder)


def read_metrics_table(path: Path, *, named: Path | None = None) -> pd.DataFrame:
    """A metrics table's rows without the sweep, checked for the structure columns
    (``named``: what the error calls it, the run folder or the table itself)."""
    frame = pq.read_table(path).to_pandas()
    missing = [c for c in NEEDED if c not in frame.columns]
    if missing:
        raise RunError(OLD_TABLE.format(folder=named or path, columns=", ".join(missing)))
    return _unswept(frame)


def _unswept(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame[mt.POINT_KIND].fillna("") != mt.SWEEP].reset_index(drop=True)


def check_previous(previous: Path, confidence: float) -> None:
    """Before a run's work: ``previous`` can be compared with a run measured at ``confidence``
    (a finished run folder with a metrics table, both runs at the level the tests assume).

    Its report's changes section needs both; found wrong only at the report, the run's
    work would be done and its folder discarded.
    """
    record = read_run(previous)
    if not (Path(previous) / METRICS_FILE).is_file():
        raise RunError(f"{previous} has no {METRICS_FILE} to compare with (--previous)")
    _check_level(previous, record.provenance.confidence)
    if not math.isclose(confidence, LEVEL):
        raise RunError(NEW_LEVEL.format(confidence=confidence))


def _check_level(folder: Path, confidence: float) -> None:
    if not math.isclose(confidence, LEVEL):
        raise RunError(OTHER_LEVEL.format(folder=folder, confidence=confidence))


def compare_runs(before: Path, after: Path) -> Comparison:
    """Compare run folder ``after`` with the earlier ``before`` (see the module docstring)."""
    run_a, run_b = read_run(before), read_run(after)
    pa_, pb = run_a.provenance, run_b.provenance
    for folder, provenance in ((before, pa_), (after, pb)):
        _check_level(folder, provenance.confidence)
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
    frames = {BEFORE: points_keyed(_unswept(before)), AFTER: points_keyed(_unswept(after))}
    points = match_points(frames)
    rates = rate_changes(frames, points)
    pairs = pair_changes(frames, points)
    rates, pairs = adjust_p_values(rates, pairs)
    groupings = sorted(set().union(*(set(f["grouping"]) for f in frames.values())))
    if demographic is None:
        chosen = tuple(g for g in groupings if g != OVERALL)
    else:
        wanted = [_canonical(g) for g in demographic]
        chosen = tuple(g for g in sorted(groupings, key=lambda g: _rank(wanted, _canonical(g)))
                       if _canonical(g) in wanted)
    headline = tuple(sorted(
        (c for c in rates if c.grouping == OVERALL and c.metric in HEADLINE_RATES),
        key=lambda c: (point_order(c.point), HEADLINE_RATES.index(c.metric))))
    lead = _lead_pairs(frames, pairs, chosen)
    shown = {id(c) for c in headline} | {id(c) for c in lead}
    others = tuple(sorted(
        (c for c in rates + pairs if c.significant and id(c) not in shown),
        key=lambda c: (c.p_adjusted, -change_size(c), point_order(c.point), c.metric, c.grouping,
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
                                      point_key_of(c.point)) in extreme]
    return tuple(sorted(chosen, key=lambda c: (
        point_order(c.point), groupings.index(c.grouping), HEADLINE_RATES.index(c.metric),
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



"""Policy gates: agreed limits judged against a run's metrics, with a stated meaning.

The ``[policy]`` table of the spec (:class:`audit.config.PolicySpec`) sets
limits; :func:`check_policy` judges each against the metrics table and returns
a typed :class:`PolicyOutcome`, one :class:`PolicyCheck` per limit and row
judged. ``policy.json`` is :meth:`PolicyOutcome.to_json`; the CLI, ``runs
list`` and the report read it back with :meth:`PolicyOutcome.from_json`.

Limits
------
* Rate limits ``max_fnir``, ``max_fnmr``, ``max_fpir``, ``max_fta``: the
  ``statistic == "rate"`` rows of that rate, overall and for every group.
* Ratio limits ``max_fpir_ratio``, ``max_fmr_ratio``: the fixed-pair
  ``statistic == "ratio"`` rows (higher over lower rate, ``group`` over
  ``group_b``) of every pair of sufficient groups of each gated grouping
  (:mod:`audit.metrics.contrasts`).

Which rows
----------
* Groupings: ``overall`` and the spec's demographic groupings; capture-condition
  bands are reported, not gated.
* Operating points: the deployment thresholds (``point_kind ==
  "deployment"``) when the table has any, otherwise the calibrated ones
  (``"target_fmr"``, ``"target_fpir"``). Deepface's default (``"reference"``)
  and sweep points are never gated. FTA has no threshold: its rows are always
  gated. Each limit is judged at every gated point.

What a limit means (``evaluate``)
---------------------------------
* ``"estimate"`` (default): broken when the value exceeds the limit
  (``value > allowed``).
* ``"evidence"``: broken only when the whole interval lies beyond the limit
  (``ci_low > allowed``), i.e. when the data show the limit is exceeded.
* ``"precaution"``: met only when the whole interval lies within the limit
  (``ci_high <= allowed``), broken otherwise, i.e. the data must show the
  limit is kept.

The interval is the metrics table's (``ci_low``, ``ci_high``, at the spec's
``[statistics] confidence``). A limit equal to the value (or to the bound) is met.
Each check reads its own interval, unadjusted for the other checks or for the
table's other comparisons: at 95% a kept limit reads broken under ``"evidence"``
at most 2.5% of the time per check, so with many checks one may break by chance,
and a fixed pair that is not shown after the Benjamini-Hochberg correction the
report applies can still break an ``"evidence"`` ratio limit.

Not evaluated
-------------
A check that cannot be judged is ``"not evaluated"``, never met, with its
reason (:data:`NO_TRIALS` and the other constants below):

* the rate has no trials at a gated point: no overall row, or overall
  ``n_trials == 0`` (``max_fnir`` on an impostor-only dataset); one check per
  point;
* the table has no gated operating point (no deployment threshold and no
  calibrated target);
* overall or a group is insufficient for the rate (too few subjects or trials,
  ``sufficient`` False); for a ratio limit such a group is left out of every
  pair, so it too is named. Groups whose label has an ``unknown`` part are
  missing data, not people, and are not named;
* a gated grouping (within a stratum, for a controlled grouping) has fewer
  than two sufficient groups: no ratio to judge (ratio limits);
* an unbounded ratio (``value == inf``: the lower group had no error) under
  ``"estimate"``; ``"evidence"`` judges its lower bound, which is a real
  bound, and ``"precaution"`` finds it broken (its upper bound is infinite);
* an undefined ratio (NaN: both groups error-free), under every mode;
* a mode that needs an interval bound the row does not have.

Outcome
-------
``"broken"`` if any check is broken; else ``"not evaluated"`` if any check is
not evaluated and the spec does not set ``skip_unevaluable = true``, or if no
check at all could be evaluated (skipping every check judges nothing, and a
gate that judged nothing does not pass); else ``"met"`` (read "met where
evaluated" when checks were skipped). A spec without ``[policy]`` limits gives ``"no policy"``. The
command line exits 3 on ``"broken"`` and 4 on ``"not evaluated"``
(:mod:`audit.cli`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import pyarrow as pa

from ..config import PolicySpec
from ..report.policy_outcome import (
    BROKEN,
    ESTIMATE,
    EVIDENCE,
    LIMITS,
    MET,
    NO_POLICY,
    NOT_EVALUATED,
    OVERALL,
    RATE,
    RATIO,
    PolicyCheck,
    PolicyOutcome,
    sentence,
)

# audit.metrics (and its engine's imports) is loaded by check_policy only: reading a
# recorded outcome (`runs list`, the report) stays light.

#: The descriptive summary whose ``sufficient`` flag says whether a grouping (stratum)
#: had two sufficient groups at a point (:mod:`audit.metrics.disparity`).
SUMMARY = "max_min_ratio"
#: ``point_kind`` values gated: the first kind present in the table wins.
GATED_KINDS = (("deployment",), ("target_fmr", "target_fpir"))

# Reasons a check is not evaluated.
NO_TRIALS = "no trials"
NO_POINT = "no deployment threshold or calibrated target in the metrics table"
INSUFFICIENT = "too few subjects or trials ({counts})"
INSUFFICIENT_PAIRS = "too few subjects or trials ({counts}): left out of every ratio"
FEWER_THAN_TWO = "fewer than two sufficient groups: no ratio to judge"
NO_GROUPING = "no demographic grouping to compare groups in"
UNBOUNDED = ('unbounded ratio ({lower} had no error); evaluate = "evidence" judges '
             'its lower bound')
UNDEFINED = "both groups error-free: ratio undefined"
UNDEFINED_OTHER = "ratio undefined"
NO_BOUND = "no interval {bound} to judge on"


def _number(value: Any) -> float | None:
    """A table cell as a float, None when missing or NaN."""
    if value is None or pd.isna(value):
        return None
    return float(value)


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def check_policy(policy: PolicySpec, metrics: pa.Table | pd.DataFrame,
                 groupings: tuple[str, ...] | None = None) -> PolicyOutcome:
    """Judge every ``[policy]`` limit on the metrics table (module docstring: the rules).

    Parameters
    ----------
    policy : PolicySpec
        Limits, ``evaluate`` mode and ``skip_unevaluable``.
    metrics : Table or DataFrame with :data:`audit.metrics.table.SCHEMA` columns
    groupings : tuple of str, default=None
        The demographic groupings limits apply to (with ``overall``);
        capture-condition bands are reported, not gated. None: every grouping
        in the table.

    Returns
    -------
    PolicyOutcome
        Checks in :data:`LIMITS` order, then by operating point, grouping and
        group as in the table.
    """
    limits = tuple((key, float(getattr(policy, key))) for key in LIMITS
                   if getattr(policy, key) is not None)
    mode, skip = policy.evaluate, policy.skip_unevaluable
    if not limits:
        return PolicyOutcome(NO_POLICY, mode, skip, (), ())
    from ..metrics import table

    frame = metrics.to_pandas() if isinstance(metrics, pa.Table) else metrics
    if groupings is None:
        groupings = tuple(dict.fromkeys(g for g in frame["grouping"] if g != OVERALL))
    frame = frame[frame["grouping"].isin((OVERALL, *groupings))]
    points = _gated_points(frame)
    checks: list[PolicyCheck] = []
    for key, allowed in limits:
        metric, kind = LIMITS[key]
        judge = _Judge(key, allowed, mode, metric)
        rows = frame[frame["metric"] == metric]
        if metric == "fta":  # no threshold: its rows are always gated
            at = [((None, None), rows[rows[table.POINT_KIND].isna()])]
        elif not points:
            checks.append(judge.not_evaluated(NO_POINT))
            continue
        else:
            at = [(point, _at(rows, point)) for point in points]
        for point, point_rows in at:
            rates = point_rows[point_rows[table.STATISTIC] == RATE]
            overall = rates[rates["grouping"] == OVERALL]
            if overall.empty or not (overall["n_trials"] > 0).any():
                checks.append(judge.not_evaluated(NO_TRIALS, grouping=OVERALL, group="all",
                                                  point=point))
                continue
            if kind == "rate":
                checks.extend(_rate_checks(judge, rates))
            else:
                checks.extend(_ratio_checks(judge, point_rows, groupings, point))
    return PolicyOutcome(_overall_state(checks, skip), mode, skip, limits, tuple(checks))


def _overall_state(checks: list[PolicyCheck], skip: bool) -> str:
    states = {c.state for c in checks}
    if BROKEN in states:
        return BROKEN
    if NOT_EVALUATED in states and (not skip or states == {NOT_EVALUATED}):
        return NOT_EVALUATED
    return MET


def _gated_points(frame: pd.DataFrame) -> list[tuple[str | None, float | None]]:
    """(operating_point, threshold) of the gated rate rows: deployment, else calibrated."""
    from ..metrics import table

    rates = frame[(frame[table.STATISTIC] == RATE) & frame[table.POINT_KIND].notna()]
    for kinds in GATED_KINDS:
        gated = rates[rates[table.POINT_KIND].isin(kinds)]
        if not gated.empty:
            pairs = zip(gated[table.OPERATING_POINT], gated["threshold"])
            return list(dict.fromkeys((_text(p), _number(t)) for p, t in pairs))
    return []


def _at(rows: pd.DataFrame, point: tuple[str | None, float | None]) -> pd.DataFrame:
    from ..metrics import table

    label, threshold = point
    return rows[(rows[table.OPERATING_POINT] == label) & (rows["threshold"] == threshold)]


def _rate_checks(judge: _Judge, rates: pd.DataFrame) -> Iterator[PolicyCheck]:
    """Overall first, then every named group: judged if sufficient, else not evaluated."""
    from ..metrics.trials import has_unknown_label

    ordered = pd.concat([rates[rates["grouping"] == OVERALL], rates[rates["grouping"] != OVERALL]])
    named = ordered[~has_unknown_label(ordered["group"])]
    for row, sufficient in zip(named.itertuples(index=False), _flag(named["sufficient"])):
        if sufficient:
            yield judge.row(row)
        else:
            reason = (NO_TRIALS if row.n_trials == 0 else
                      INSUFFICIENT.format(counts=_counts(row)))
            yield judge.row(row, reason=reason)


def _counts(row) -> str:
    subjects, trials = int(row.n_subjects), int(row.n_trials)
    return (f"{subjects} subject{'s' if subjects != 1 else ''}, "
            f"{trials} trial{'s' if trials != 1 else ''}")


def _flag(column: pd.Series) -> pd.Series:
    """A ``sufficient`` column as bool (missing: False)."""
    return column.fillna(False).astype(bool)


def _ratio_checks(judge: _Judge, rows: pd.DataFrame, groupings: tuple[str, ...],
                  point: tuple[str | None, float | None]) -> Iterator[PolicyCheck]:
    """Every pair of sufficient groups of each gated grouping, and what was left out."""
    from ..metrics import table
    from ..metrics.trials import has_unknown_label

    if not groupings:
        yield judge.not_evaluated(NO_GROUPING, point=point)
        return
    for grouping in groupings:
        of = rows[rows["grouping"] == grouping]
        statistic = of[table.STATISTIC]
        rates, ratios, summaries = (of[statistic == RATE], of[statistic == RATIO],
                                    of[statistic == SUMMARY])
        for row in ratios.itertuples(index=False):
            yield judge.ratio(row)
        short = summaries[~_flag(summaries["sufficient"])]
        for row in short.itertuples(index=False):
            stratum = None if row.group == "all" else row.group
            yield judge.not_evaluated(FEWER_THAN_TWO, grouping=grouping, group=stratum,
                                      point=point)
        if ratios.empty and summaries.empty:
            yield judge.not_evaluated(FEWER_THAN_TWO, grouping=grouping, point=point)
        left_out = rates[~_flag(rates["sufficient"]) & ~has_unknown_label(rates["group"])]
        for row in left_out.itertuples(index=False):
            yield judge.row(row, reason=INSUFFICIENT_PAIRS.format(counts=_counts(row)))


@dataclass(frozen=True)
class _Judge:
    """Judges one limit's rows under one mode and words the checks."""

    limit: str
    allowed: float
    mode: str
    metric: str

    def row(self, row, *, reason: str | None = None) -> PolicyCheck:
        """A rate row (``reason`` given: not evaluated, else judged)."""
        value, low, high = _number(row.value), _number(row.ci_low), _number(row.ci_high)
        if reason is not None:
            return self._check(NOT_EVALUATED, reason, row, value, low, high)
        state, reason = self._judge(value, low, high)
        return self._check(state, reason, row, value, low, high)

    def ratio(self, row) -> PolicyCheck:
        value, low, high = _number(row.value), _number(row.ci_low), _number(row.ci_high)
        if value is None:
            reason = UNDEFINED if row.n_errors == 0 else UNDEFINED_OTHER
            return self._check(NOT_EVALUATED, reason, row, value, low, high)
        if math.isinf(value) and self.mode == ESTIMATE:
            return self._check(NOT_EVALUATED, UNBOUNDED.format(lower=row.group_b), row, value,
                               low, high)
        state, reason = self._judge(value, low, high)
        return self._check(state, reason, row, value, low, high)

    def _judge(self, value, low, high) -> tuple[str, str | None]:
        if self.mode == ESTIMATE:
            if value is None:
                return NOT_EVALUATED, NO_TRIALS
            return (BROKEN if value > self.allowed else MET), None
        if self.mode == EVIDENCE:
            if low is None:
                return NOT_EVALUATED, NO_BOUND.format(bound="lower bound")
            return (BROKEN if low > self.allowed else MET), None
        if high is None:
            return NOT_EVALUATED, NO_BOUND.format(bound="upper bound")
        return (MET if high <= self.allowed else BROKEN), None

    def _check(self, state, reason, row, value, low, high) -> PolicyCheck:
        from ..metrics import table

        return self.make(state, reason, statistic=getattr(row, table.STATISTIC),
                         grouping=row.grouping, group=row.group,
                         group_b=_text(getattr(row, table.GROUP_B)),
                         point=(_text(getattr(row, table.OPERATING_POINT)),
                                _number(row.threshold)),
                         value=value, ci_low=low, ci_high=high)

    def not_evaluated(self, reason: str, *, grouping: str | None = None,
                      group: str | None = None,
                      point: tuple[str | None, float | None] = (None, None)) -> PolicyCheck:
        return self.make(NOT_EVALUATED, reason, grouping=grouping, group=group, point=point)

    def make(self, state, reason, *, statistic=None, grouping=None, group=None, group_b=None,
             point=(None, None), value=None, ci_low=None, ci_high=None) -> PolicyCheck:
        label, threshold = point
        check = PolicyCheck(
            limit=self.limit, allowed=self.allowed, mode=self.mode, state=state,
            metric=self.metric, statistic=statistic, grouping=grouping, group=group,
            group_b=group_b, operating_point=label, threshold=threshold, value=value,
            ci_low=ci_low, ci_high=ci_high, reason=reason)
        return replace(check, sentence=sentence(check))



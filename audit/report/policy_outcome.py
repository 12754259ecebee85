"""The policy outcome of a run, typed: what the report, the CLI and ``runs list`` read.

:func:`audit.runs.policy.check_policy` judges the spec's ``[policy]`` limits
against a metrics table and returns a :class:`PolicyOutcome`, one
:class:`PolicyCheck` per limit and row judged; ``policy.json`` is
:meth:`PolicyOutcome.to_json` and every reader goes through
:meth:`PolicyOutcome.from_json` (which also reads the earlier layout). The
rules themselves, and what ``evaluate`` means, are in :mod:`audit.runs.policy`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit.choices import POLICY_MODES
from audit.schema import json_value

#: policy key -> (rate, kind of limit); kinds: "rate" or "ratio".
LIMITS = {
    "max_fpir_ratio": ("fpir", "ratio"),
    "max_fmr_ratio": ("fmr", "ratio"),
    "max_fnir": ("fnir", "rate"),
    "max_fnmr": ("fnmr", "rate"),
    "max_fpir": ("fpir", "rate"),
    "max_fta": ("fta", "rate"),
}
#: Modes of ``[policy] evaluate``.
ESTIMATE, EVIDENCE, PRECAUTION = POLICY_MODES
MODES = POLICY_MODES
#: States of a check, and of the outcome (which adds :data:`NO_POLICY`).
MET, BROKEN, NOT_EVALUATED, NO_POLICY = "met", "broken", "not evaluated", "no policy"
CHECK_STATES = (MET, BROKEN, NOT_EVALUATED)
STATES = (*CHECK_STATES, NO_POLICY)
#: Version of the ``policy.json`` layout written by :meth:`PolicyOutcome.to_json`
#: (files without it are the earlier ``{"limits", "passed", "violations"}`` layout).
FORMAT = 2

OVERALL = "overall"
#: ``statistic`` values judged (:mod:`audit.metrics.table`).
RATE, RATIO = "rate", "ratio"
@dataclass(frozen=True)
class PolicyCheck:
    """One limit judged on one row of the metrics table (or not evaluated, and why).

    ``limit`` and ``allowed`` come from the spec, ``mode`` is ``[policy]
    evaluate``, ``state`` one of :data:`CHECK_STATES`. The row: ``metric``
    (the rate), ``statistic`` (``"rate"`` or ``"ratio"``: what ``value`` is;
    None when the check has no row), ``grouping``, ``group`` (``"all"``
    overall; the higher-rate group of a ratio, or the stratum of a
    grouping-level check; None when the check is about a whole grouping),
    ``group_b`` (the lower-rate group of a ratio), ``operating_point`` and
    ``threshold`` (None for FTA), ``value``,
    ``ci_low``, ``ci_high`` (None when absent; ``inf`` for an unbounded
    ratio). ``reason`` says why a check is not evaluated; ``sentence`` states
    the check in one line with its numbers.
    """

    limit: str
    allowed: float
    mode: str
    state: str
    metric: str
    statistic: str | None = None
    grouping: str | None = None
    group: str | None = None
    group_b: str | None = None
    operating_point: str | None = None
    threshold: float | None = None
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    reason: str | None = None
    sentence: str = ""

    def to_json(self) -> dict[str, Any]:
        return {name: json_value(getattr(self, name)) for name in _CHECK_FIELDS}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> PolicyCheck:
        values = {name: record.get(name) for name in _CHECK_FIELDS}
        for name in _NUMBERS:
            values[name] = _decode(values[name])
        values["allowed"] = float(values["allowed"])
        values["sentence"] = str(values["sentence"] or "")
        return cls(**values)


_CHECK_FIELDS = tuple(PolicyCheck.__dataclass_fields__)
_NUMBERS = ("allowed", "threshold", "value", "ci_low", "ci_high")


@dataclass(frozen=True)
class PolicyOutcome:
    """The run's policy: ``state`` (one of :data:`STATES`), ``mode``, the
    ``skip_unevaluable`` flag, the ``limits`` set (``(key, allowed)`` in
    :data:`LIMITS` order) and every check."""

    state: str
    mode: str = ESTIMATE
    skip_unevaluable: bool = False
    limits: tuple[tuple[str, float], ...] = ()
    checks: tuple[PolicyCheck, ...] = ()

    @property
    def broken(self) -> tuple[PolicyCheck, ...]:
        return tuple(c for c in self.checks if c.state == BROKEN)

    @property
    def not_evaluated(self) -> tuple[PolicyCheck, ...]:
        return tuple(c for c in self.checks if c.state == NOT_EVALUATED)

    @property
    def words(self) -> str:
        """The outcome as users read it: ``met where evaluated: 4 of 6 checks`` when checks
        that could not be evaluated were skipped (``skip_unevaluable``), so that "met" is
        never read as every check met; otherwise the state itself. (With every check
        skipped the state is "not evaluated": :func:`audit.runs.policy.check_policy`.)"""
        if self.state == MET and self.not_evaluated:
            judged, total = len(self.checks) - len(self.not_evaluated), len(self.checks)
            return f"{MET} where evaluated: {judged} of {total} check{'s' if total != 1 else ''}"
        return self.state

    def to_json(self) -> dict[str, Any]:
        """The ``policy.json`` record: strict JSON (infinite bounds as ``"inf"``)."""
        return {
            "format": FORMAT,
            "state": self.state,
            "words": self.words,  # "met where evaluated: 4 of 6 checks": "met" read as users read it
            "mode": self.mode,
            "skip_unevaluable": self.skip_unevaluable,
            "limits": [{"limit": key, "allowed": allowed} for key, allowed in self.limits],
            "checks": [check.to_json() for check in self.checks],
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> PolicyOutcome:
        """Read :meth:`to_json`'s record back, or an earlier ``policy.json``.

        Runs written before stated meanings (``{"limits", "passed",
        "violations"}``) read as ``"broken"`` when they recorded a violation
        (each becomes a broken check carrying its recorded sentence), else
        ``"met"``, or ``"no policy"`` when they set no limit; their mode was
        the estimate.
        """
        if "state" not in record:
            return _legacy(record)
        state = str(record["state"])
        if state not in STATES:
            raise ValueError(f"policy.json: unknown state {state!r}; expected one of {STATES}")
        return cls(
            state=state,
            mode=str(record.get("mode", ESTIMATE)),
            skip_unevaluable=bool(record.get("skip_unevaluable", False)),
            limits=tuple((str(item["limit"]), float(item["allowed"]))
                         for item in record.get("limits", [])),
            checks=tuple(PolicyCheck.from_json(c) for c in record.get("checks", [])),
        )


def _legacy(record: Mapping[str, Any]) -> PolicyOutcome:
    recorded = record.get("limits") or {}
    limits = tuple((key, float(recorded[key])) for key in LIMITS if recorded.get(key) is not None)
    checks = tuple(
        PolicyCheck(
            limit=str(v.get("limit", "")), allowed=float(v.get("allowed", math.nan)),
            mode=ESTIMATE, state=BROKEN,
            metric=LIMITS.get(str(v.get("limit")), ("", ""))[0],
            value=_decode(v.get("observed")),
            sentence=str(v.get("sentence") or f"{v.get('limit')} broken for {v.get('where')}"),
        )
        for v in record.get("violations") or [])
    if checks or record.get("passed") is False:
        state = BROKEN
    else:
        state = MET if limits else NO_POLICY
    return PolicyOutcome(state, ESTIMATE, False, limits, checks)


def _decode(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)  # also reads "inf"
    return None if math.isnan(number) else number


def _figure(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def sentence(check: PolicyCheck) -> str:
    """One line with the numbers, e.g. ``max_fnir = 0.1 broken (evidence): FNIR of
    gender = female 0.25 [0.15, 0.38] at threshold 0.94 (deployment)``."""
    rate = check.metric.upper()
    if check.statistic == RATIO:
        what = f"{rate} ratio of {check.grouping}: {check.group} over {check.group_b}"
    elif check.grouping not in (None, OVERALL) and check.statistic == RATE:
        what = f"{rate} of {check.grouping} = {check.group}"
    elif check.grouping not in (None, OVERALL):  # a whole grouping (or a stratum of it)
        what = f"{rate} ratio of {check.grouping}" + (f" in {check.group}" if check.group else "")
    elif LIMITS.get(check.limit, ("", ""))[1] == RATIO and check.grouping is None:
        what = f"{rate} ratio"
    else:
        what = f"{rate} overall"
    if check.value is not None:
        what += f" {_figure(check.value)}"
        if check.ci_low is not None or check.ci_high is not None:
            what += f" [{_figure(check.ci_low)}, {_figure(check.ci_high)}]"
    if check.threshold is not None:
        what += f" at threshold {check.threshold:.4g} ({check.operating_point})"
    elif check.operating_point is not None:
        what += f" at {check.operating_point}"
    because = f": {check.reason}" if check.reason else ""
    return f"{check.limit} = {check.allowed:g} {check.state} ({check.mode}): {what}{because}"

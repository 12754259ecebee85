"""The typed result of comparing two audit runs, and its ``compare.json``.

:func:`audit.runs.compare.compare_runs` builds a :class:`Comparison`; the report
(:mod:`audit.report.changes`) and the command line read it. How figures are
matched and tested is :mod:`audit.runs.compare`'s docstring.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import ClassVar

from audit.metrics import table as mt
from audit.schema import json_value

#: False discovery rate at which changes are called significant.
FDR = 0.05
CORRECTION = "Benjamini-Hochberg"
#: Operating-point kinds matched by their target, not their threshold.
CALIBRATED = (mt.TARGET_FMR, mt.TARGET_FPIR)
#: Why a ratio was not tested (shown as written).
INFINITE = "not tested: a group with no errors gives an unbounded ratio"
UNDEFINED = "not tested: neither group has an error"


@dataclass(frozen=True)
class RunRef:
    run_id: str
    folder: str


@dataclass(frozen=True)
class SettingChange:
    """A spec or environment key whose value differs (values as recorded)."""

    key: str
    before: object
    after: object


@dataclass(frozen=True)
class Point:
    """An operating point matched across runs.

    ``kind`` is the ``point_kind`` (None: no threshold, the ``fta`` rows);
    ``target`` the target rate of a calibrated point; ``label`` the
    ``operating_point`` label (the before run's when it has the point);
    ``threshold_before`` / ``threshold_after`` the similarity threshold in
    each run (None where the run lacks the point).
    """

    kind: str | None
    target: float | None
    label: str | None
    in_before: bool
    in_after: bool
    threshold_before: float | None
    threshold_after: float | None

    @property
    def matched(self) -> bool:
        return self.in_before and self.in_after

    @property
    def calibrated(self) -> bool:
        return self.kind in CALIBRATED


@dataclass(frozen=True)
class Estimate:
    """One run's rate of one group, from its METRICS row."""

    value: float | None
    low: float | None
    high: float | None
    sufficient: bool
    n_trials: int
    n_subjects: int
    n_errors: int


@dataclass(frozen=True)
class PairEstimate:
    """One run's contrast of a fixed pair, in the orientation of the comparison.

    ``higher`` is the group with the higher rate *in this run*; ``ratio`` is
    the named pair's first group's rate over the second's (below 1 when the
    run's higher group is the second); ``p_adjusted`` is the run's own
    adjusted p-value of equal rates (None when not recorded).
    """

    higher: str
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    difference: float | None
    difference_low: float | None
    difference_high: float | None
    p_adjusted: float | None

    @property
    def at_least(self) -> bool:
        """Unbounded above (the second group has no error): only ``ratio_low`` holds."""
        return self.ratio_high is not None and math.isinf(self.ratio_high)

    @property
    def at_most(self) -> bool:
        """The ratio is 0 (the first group has no error): only ``ratio_high`` holds."""
        return self.ratio == 0

    def turned(self) -> PairEstimate:
        """The same contrast with the groups swapped."""
        return replace(
            self,
            ratio=_inverse(self.ratio),
            ratio_low=_inverse(self.ratio_high),
            ratio_high=_inverse(self.ratio_low),
            difference=_negated(self.difference),
            difference_low=_negated(self.difference_high),
            difference_high=_negated(self.difference_low),
        )


class _Verdict:
    """A change's test: tested when it has a p-value, significant under the correction."""

    p_value: float | None
    p_adjusted: float | None

    @property
    def tested(self) -> bool:
        return self.p_value is not None

    @property
    def significant(self) -> bool:
        return self.p_adjusted is not None and self.p_adjusted < FDR


@dataclass(frozen=True)
class RateChange(_Verdict):
    """A rate of one group (or cross-group cell) at one operating point, in both runs.

    ``change`` is ``after - before`` with its 95% interval ``low``..``high``
    (None unless both values and intervals are finite); ``p_value`` and
    ``p_adjusted`` are None when the change was not tested, and ``reason``
    then says why.
    """

    kind: ClassVar[str] = "rate"
    metric: str
    grouping: str
    group: str
    group_b: str | None
    point: Point
    before: Estimate | None
    after: Estimate | None
    change: float | None
    low: float | None
    high: float | None
    p_value: float | None
    p_adjusted: float | None
    reason: str | None



@dataclass(frozen=True)
class PairChange(_Verdict):
    """A fixed pair of groups at one operating point, in both runs.

    The pair is named ``group`` / ``group_b`` with ``group`` the higher group
    of the before run (of the after run when the before run lacks the pair);
    ``before`` and ``after`` are in that orientation, and ``flipped`` says the
    after run's higher group is the other one. ``change`` is the factor
    ``after ratio / before ratio`` with its 95% interval.
    """

    kind: ClassVar[str] = "pair"
    metric: str
    grouping: str
    group: str
    group_b: str
    point: Point
    before: PairEstimate | None
    after: PairEstimate | None
    change: float | None
    low: float | None
    high: float | None
    p_value: float | None
    p_adjusted: float | None
    reason: str | None

    @property
    def flipped(self) -> bool:
        return self.before is not None and self.after is not None and (
            self.after.higher != self.before.higher)



@dataclass(frozen=True)
class Comparison:
    """Two runs compared; see the module docstring for matching and testing.

    ``rates`` and ``pairs`` hold every matched or one-run-only figure;
    ``headline``, ``lead_pairs`` and ``others`` are what to show first, next
    and then (``others``: every significant change not already in the first
    two, in order). ``demographic`` names the groupings whose pairs lead.
    """

    before: RunRef
    after: RunRef
    spec_changes: tuple[SettingChange, ...]
    environment_changes: tuple[SettingChange, ...]
    policy_before: Mapping | None
    policy_after: Mapping | None
    points: tuple[Point, ...]
    rates: tuple[RateChange, ...]
    pairs: tuple[PairChange, ...]
    headline: tuple[RateChange, ...]
    lead_pairs: tuple[PairChange, ...]
    others: tuple[RateChange | PairChange, ...]
    demographic: tuple[str, ...]
    fdr: float = FDR
    correction: str = CORRECTION

    @property
    def n_tested(self) -> int:
        return sum(c.tested for c in self.rates) + sum(c.tested for c in self.pairs)

    @property
    def n_significant(self) -> int:
        return sum(c.significant for c in self.rates) + sum(c.significant for c in self.pairs)

    @property
    def n_unbounded(self) -> int:
        """Pairs present in both runs not tested because a ratio is unbounded or undefined."""
        return sum(c.reason in (INFINITE, UNDEFINED) for c in self.pairs)

    @property
    def n_one_run(self) -> int:
        """Rates and pairs present in one run only."""
        return sum((c.before is None) != (c.after is None) for c in self.rates + self.pairs)

    @property
    def n_insufficient(self) -> int:
        """Rates present in both runs, not tested because a run has too little data."""
        return sum(c.before is not None and c.after is not None
                   and not (c.before.sufficient and c.after.sufficient) for c in self.rates)

    def to_json(self) -> dict:
        """``compare.json``: strict JSON (NaN as null, an unbounded value as ``"inf"``)."""
        return json_value({
            "before": asdict(self.before),
            "after": asdict(self.after),
            "spec_changes": [asdict(c) for c in self.spec_changes],
            "environment_changes": [asdict(c) for c in self.environment_changes],
            "policy": {"before": self.policy_before, "after": self.policy_after},
            "testing": {
                "family": "every rate and fixed-pair ratio, in every grouping, group or pair "
                          "and operating point, present, finite and sufficient in both runs",
                "n_tested": self.n_tested,
                "correction": self.correction,
                "false_discovery_rate": self.fdr,
                "n_significant": self.n_significant,
                "not_tested": {"unbounded_or_undefined_ratios": self.n_unbounded,
                               "insufficient": self.n_insufficient,
                               "one_run_only": self.n_one_run},
                "interval": "95% MOVER from each run's interval (ratios on the log scale), "
                            "runs treated as independent: conservative when they share subjects",
            },
            "demographic_groupings": list(self.demographic),
            "points": [asdict(p) for p in self.points],
            "headline": [_change_json(c) for c in self.headline],
            "lead_pairs": [_change_json(c) for c in self.lead_pairs],
            "other_significant": [_change_json(c) for c in self.others],
            "rate_changes": [_change_json(c) for c in self.rates],
            "pair_changes": [_change_json(c) for c in self.pairs],
        })


def _change_json(change: RateChange | PairChange) -> dict:
    out = {"kind": change.kind, **asdict(change)}
    out["point"] = change.point.label
    out["point_kind"], out["target"] = change.point.kind, change.point.target
    out["threshold_before"] = change.point.threshold_before
    out["threshold_after"] = change.point.threshold_after
    out["significant"] = change.significant
    if isinstance(change, PairChange):
        out["flipped"] = change.flipped
    return out


def _inverse(x: float | None) -> float | None:
    if x is None:
        return None
    if x == 0:
        return math.inf
    return 1.0 / x


def _negated(x: float | None) -> float | None:
    return None if x is None else -x

"""What changed since an earlier run, typed for the templates.

:func:`build_changes` reads the JSON diff of :func:`audit.compare.compare_runs`
(spec and environment changes key by key, metric changes with an interval for
the difference and a ``significant`` flag, policy outcomes) and keeps what a
reader needs: every spec and environment change, and the metric changes of
error rates and of the max/min ratio, significant ones first. Values stay
numbers; the templates word them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Metric changes shown: error rates, and the max/min ratio of each rate.
SHOWN_RATES = ("fpir", "fnir", "fmr", "fnmr", "fnmr_incl_fta", "fta")
SHOWN_STATISTICS = ("max_min_ratio",)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


@dataclass(frozen=True)
class Change:
    """A spec or environment key whose value differs (strings as recorded)."""

    key: str
    before: str
    after: str


@dataclass(frozen=True)
class MetricChange:
    metric: str
    grouping: str
    group: str
    operating_point: str
    before: float | None
    after: float | None
    change: float | None
    low: float | None
    high: float | None
    significant: bool
    is_ratio: bool


@dataclass(frozen=True)
class Changes:
    """Changes between run ``before`` and run ``after``.

    ``metrics`` holds the shown metric changes (significant first);
    ``n_compared`` and ``n_significant`` count all compared rows;
    ``policy_before`` / ``policy_after`` are None when not recorded, else
    whether every agreed limit was met; ``violations`` are the recorded
    sentences of the limits broken by ``after``.
    """

    before: str
    after: str
    spec: tuple[Change, ...]
    environment: tuple[Change, ...]
    metrics: tuple[MetricChange, ...]
    n_compared: int
    n_significant: int
    policy_before: bool | None
    policy_after: bool | None
    violations: tuple[str, ...]


def _shown(metric: str) -> bool:
    rate, _, statistic = metric.partition(":")
    return rate in SHOWN_RATES and (not statistic or statistic in SHOWN_STATISTICS)


def build_changes(diff: Mapping[str, Any]) -> Changes:
    """Typed changes from the diff dict of :func:`audit.compare.compare_runs`."""
    rows = list(diff.get("metric_changes", []))
    shown = []
    for row in rows:
        metric = str(row.get("metric", ""))
        if not _shown(metric):
            continue
        shown.append(
            MetricChange(
                metric=metric,
                grouping=_text(row.get("grouping")),
                group=_text(row.get("group")),
                operating_point=_text(row.get("operating_point")),
                before=_number(row.get("value_before")),
                after=_number(row.get("value_after")),
                change=_number(row.get("change")),
                low=_number(row.get("change_low")),
                high=_number(row.get("change_high")),
                significant=bool(row.get("significant")),
                is_ratio=":" in metric,
            )
        )
    shown.sort(key=lambda c: (not c.significant, SHOWN_RATES.index(c.metric.partition(":")[0]), c.is_ratio))
    policy = diff.get("policy") or {}

    def passed(record: Any) -> bool | None:
        return None if not record else bool(record.get("passed"))

    after = policy.get("after") or {}
    return Changes(
        before=_text((diff.get("before") or {}).get("run_id")),
        after=_text((diff.get("after") or {}).get("run_id")),
        spec=tuple(Change(str(c["key"]), _text(c.get("before")), _text(c.get("after"))) for c in diff.get("spec_changes", [])),
        environment=tuple(
            Change(str(c["key"]), _text(c.get("before")), _text(c.get("after")))
            for c in diff.get("environment_changes", [])
        ),
        metrics=tuple(shown),
        n_compared=len(rows),
        n_significant=int(diff.get("n_significant", sum(bool(r.get("significant")) for r in rows))),
        policy_before=passed(policy.get("before")),
        policy_after=passed(after),
        violations=tuple(_text(v.get("sentence")) for v in after.get("violations", [])),
    )

"""Policy gates: agreed limits checked against a run's metrics.

Limits apply to the demographic groupings of the spec (and overall), not to
capture-condition bands, which are reported but not gated. They apply at the
deployment thresholds when the spec gives any, otherwise
at the calibrated operating points; deepface's default threshold (audited for
reference) and sweep rows never count. Rate limits apply
to every *sufficient* group (and overall); ratio limits to the max/min ratio
across sufficient groups of each grouping. A broken limit is a sentence with
the numbers, and makes ``run`` and ``compare`` exit with a distinct code.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd
import pyarrow as pa

from .config import PolicySpec

#: policy key -> (metric name in the METRICS table, kind of limit)
LIMITS = {
    "max_fpir_ratio": ("fpir:max_min_ratio", "ratio"),
    "max_fmr_ratio": ("fmr:max_min_ratio", "ratio"),
    "max_fnir": ("fnir", "rate"),
    "max_fnmr": ("fnmr", "rate"),
    "max_fpir": ("fpir", "rate"),
    "max_fta": ("fta", "rate"),
}


@dataclass(frozen=True)
class Violation:
    limit: str
    allowed: float
    observed: float
    where: str

    def sentence(self) -> str:
        return (f"{self.limit} = {self.allowed:g} broken: {self.observed:.4g} for "
                f"{self.where}")


def _gated_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows at the deployment thresholds, or else at the calibrated ones (plus FTA)."""
    points = frame["operating_point"]
    gated = points == "deployment"
    if not gated.any():
        gated = points.fillna("").str.startswith("target_")
    return frame[gated | points.isna()]


def check_policy(policy: PolicySpec, metrics: pa.Table,
                 groupings: tuple[str, ...] | None = None) -> list[Violation]:
    """Every broken limit, in the order of :data:`LIMITS`.

    ``groupings``: the demographic groupings limits apply to (with ``overall``);
    capture-condition bands are reported, not gated. None: every grouping.
    """
    frame = _gated_rows(metrics.to_pandas())
    if groupings is not None:
        frame = frame[frame["grouping"].isin(("overall", *groupings))]
    found = []
    for key, (metric, _) in LIMITS.items():
        allowed = getattr(policy, key)
        if allowed is None:
            continue
        rows = frame[(frame["metric"] == metric) & frame["sufficient"].fillna(False)]
        for row in rows.itertuples():
            if math.isfinite(row.value) and row.value > allowed:
                where = "overall" if row.grouping == "overall" else f"{row.grouping} = {row.group}"
                point = (f" at threshold {row.threshold:.4g} ({row.operating_point})"
                         if pd.notna(row.threshold) else "")
                found.append(Violation(key, allowed, float(row.value), where + point))
    return found


def as_json(violations: list[Violation], policy: PolicySpec) -> dict:
    return {"limits": policy.model_dump(exclude_none=True),
            "passed": not violations,
            "violations": [{**asdict(v), "sentence": v.sentence()} for v in violations]}

"""The measured coverage of the interval methods, as the report's method section quotes it.

``coverage.json`` beside this module is written by a full run of
``benchmarks/bench_coverage.py`` (simulated audits with known truth); it is
read here, never edited by hand. Without it the report says that coverage is
measured separately.
"""

from __future__ import annotations

import json
from pathlib import Path

from audit.report.context import CoverageResult

MEASURED = Path(__file__).with_name("coverage.json")
#: ``ci_method`` of each kind of interval, for a study file whose rows do not name it.
METHODS = {"rate": "wilson-clustered", "ratio": "mover-log", "difference": "mover"}


def measured_coverage(path: Path = MEASURED) -> tuple[CoverageResult, ...] | None:
    """Every measured interval of the study, or None when the study's file is absent."""
    if not path.is_file():
        return None
    study = json.loads(path.read_text())
    return tuple(
        CoverageResult(
            method=row.get("method") or _method(row["interval"]),
            statistic=row["interval"],
            nominal=float(study["nominal"]),
            measured=float(row["measured"]),
            simulations=int(row["simulations"]),
            setting=row["setting"],
        )
        for row in study["results"]
    )


def _method(interval: str) -> str:
    """The ci_method of an interval named like ``"rate g1"`` or ``"fnmr ratio"``."""
    return next(METHODS[word] for word in interval.split() if word in METHODS)

"""What changed between two audit runs, and whether it matters.

Spec and environment differences are listed key by key. Metric changes are
matched on (metric, grouping, group, operating point) and given an interval for
the difference built from each run's own interval (normal approximation:
half-width = sqrt(a^2 + b^2) of the two half-widths). Runs on the same data
share subjects, so their errors are positively correlated and this interval is
conservative: a change flagged significant is real at least at the stated
level, while a small real change may go unflagged. Calibrated operating points
are matched by their target (``target_fmr=0.001``), not by threshold, because
re-calibration is exactly what a model change does; fixed thresholds
(deployment, deepface's default) are matched by their value.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from .runs import METRICS_FILE, read_run

#: z for the two-sided 95% interval of a difference.
Z95 = 1.959963984540054
KEYS = ["metric", "grouping", "group", "point"]
#: Rate rows compared (disparity rows carry their own interval and are compared too).
SKIP_POINTS = ("sweep",)


def flatten(data: object, prefix: str = "") -> dict[str, object]:
    """Nested dicts as dotted keys, for a key-by-key diff."""
    if not isinstance(data, dict):
        return {prefix: data}
    out = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def diff_dicts(a: dict, b: dict) -> list[dict]:
    left, right = flatten(a), flatten(b)
    return [{"key": k, "before": left.get(k), "after": right.get(k)}
            for k in sorted(set(left) | set(right)) if left.get(k) != right.get(k)]


def _metrics(folder: Path) -> pd.DataFrame:
    """Rows keyed by ``point``: a fixed threshold by its value (``deployment@0.93``),
    a calibrated one by its target, so that only like is compared with like."""
    frame = pq.read_table(Path(folder) / METRICS_FILE).to_pandas()
    frame = frame[~frame["operating_point"].isin(SKIP_POINTS)]
    frame["operating_point"] = frame["operating_point"].fillna("-")
    fixed = ~frame["operating_point"].str.startswith("target_") & frame["threshold"].notna()
    frame["point"] = frame["operating_point"].where(
        ~fixed, frame["operating_point"] + "@" + frame["threshold"].map("{:.6g}".format))
    return frame.drop_duplicates(KEYS)


def metric_changes(before: Path, after: Path) -> pd.DataFrame:
    """Per metric and group: values in both runs, difference, its interval, a flag."""
    a, b = _metrics(before), _metrics(after)
    cols = KEYS + ["operating_point", "threshold", "value", "ci_low", "ci_high", "sufficient"]
    merged = a[cols].merge(b[cols], on=KEYS, suffixes=("_before", "_after"), how="outer")
    merged["operating_point"] = merged.pop("operating_point_before").fillna(
        merged.pop("operating_point_after"))
    half_a = (merged["ci_high_before"] - merged["ci_low_before"]) / 2
    half_b = (merged["ci_high_after"] - merged["ci_low_after"]) / 2
    merged["change"] = merged["value_after"] - merged["value_before"]
    half = np.sqrt(half_a**2 + half_b**2)
    merged["change_low"] = merged["change"] - half
    merged["change_high"] = merged["change"] + half
    both_sufficient = merged["sufficient_before"].eq(True) & merged["sufficient_after"].eq(True)
    merged["significant"] = both_sufficient & (
        (merged["change_low"] > 0) | (merged["change_high"] < 0))
    return merged


def compare_runs(before: Path, after: Path) -> dict:
    """The JSON diff of two runs: spec, environment, policy and metric changes."""
    run_a, run_b = read_run(before), read_run(after)
    pa_, pb = run_a["provenance"], run_b["provenance"]
    changes = metric_changes(before, after)
    rows = changes.replace({np.nan: None}).to_dict(orient="records")
    return {
        "before": {"run_id": pa_["run_id"], "folder": str(before)},
        "after": {"run_id": pb["run_id"], "folder": str(after)},
        "spec_changes": diff_dicts(pa_["spec"], pb["spec"]),
        "environment_changes": diff_dicts(
            {"versions": pa_["versions"], "weights": pa_["weights"],
             "dataset": pa_["dataset"]["fingerprint"]},
            {"versions": pb["versions"], "weights": pb["weights"],
             "dataset": pb["dataset"]["fingerprint"]}),
        "policy": {"before": run_a.get("policy"), "after": run_b.get("policy")},
        "metric_changes": [_plain(r) for r in rows],
        "n_significant": int(changes["significant"].sum()),
    }


def _plain(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and math.isnan(value):
            value = None
        out[key] = value
    return out

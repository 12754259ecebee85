"""Policy gates: which operating points a limit applies to, and the sentence it gives."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from audit.config import PolicySpec
from audit.metrics.table import SCHEMA
from audit.policy import check_policy


def _rows(*rows):
    frame = pd.DataFrame([
        {"metric": m, "grouping": "overall", "group": "all", "threshold": t, "value": v,
         "ci_low": None, "ci_high": None, "ci_method": None, "n_trials": 100,
         "n_subjects": 50, "n_errors": int(v * 100), "sufficient": True, "operating_point": p}
        for m, p, t, v in rows])
    return pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)


def test_limits_apply_at_deployment_thresholds_only():
    metrics = _rows(("fpir", "deployment", 0.94, 0.001), ("fpir", "deepface-default", 0.93, 0.3),
                    ("fpir", "target_fmr=0.001", 0.933, 0.2), ("fpir", "sweep", 0.5, 0.9))
    assert check_policy(PolicySpec(max_fpir=0.01), metrics) == []
    broken = check_policy(PolicySpec(max_fpir=0.0001), metrics)
    assert [v.sentence() for v in broken] == [
        "max_fpir = 0.0001 broken: 0.001 for overall at threshold 0.94 (deployment)"]


def test_without_deployment_thresholds_limits_apply_at_calibrated_ones():
    metrics = _rows(("fpir", "deepface-default", 0.93, 0.3), ("fpir", "target_fmr=0.001", 0.933,
                                                               0.2), ("fta", None, None, 0.01))
    broken = check_policy(PolicySpec(max_fpir=0.1, max_fta=0.05), metrics)
    assert [(v.limit, v.observed) for v in broken] == [("max_fpir", 0.2)]


def test_condition_bands_are_reported_not_gated():
    frame = pd.DataFrame([
        {"metric": "fpir:max_min_ratio", "grouping": g, "group": "a / b", "threshold": 0.9,
         "value": 4.0, "ci_low": None, "ci_high": None, "ci_method": None, "n_trials": 100,
         "n_subjects": 50, "n_errors": 4, "sufficient": True, "operating_point": "deployment"}
        for g in ("gender", "face_height_band")])
    metrics = pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)
    broken = check_policy(PolicySpec(max_fpir_ratio=3.0), metrics, ("gender",))
    assert [v.where for v in broken] == ["gender = a / b at threshold 0.9 (deployment)"]

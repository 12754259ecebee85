"""The disparity-by-threshold grid is dense where the false match rate is small."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from audit.runs.measure import CONTRAST_SWEEP_POINTS, contrast_thresholds


def _scores(kind: str, n: int = 200_000) -> pa.Table:
    rng = np.random.default_rng(0)
    return pa.table({"trial_kind": [kind] * n, "mated": np.zeros(n, bool),
                     "score": rng.normal(0, 1, n)})


def test_grid_runs_from_fmr_one_in_ten_to_one_in_a_hundred_thousand():
    grid = contrast_thresholds(_scores("verification"))
    values = np.random.default_rng(0).normal(0, 1, 200_000)
    exceed = [(values >= t).mean() for t in grid]
    assert len(grid) == CONTRAST_SWEEP_POINTS
    assert exceed[0] == pytest.approx(0.1, rel=0.01) and exceed[-1] <= 2e-5
    assert np.all(np.diff(grid) > 0)


def test_grid_falls_back_to_watchlist_searches_and_to_nothing():
    assert len(contrast_thresholds(_scores("identification"))) == CONTRAST_SWEEP_POINTS
    empty = pa.table({"trial_kind": pa.array([], pa.string()), "mated": pa.array([], pa.bool_()),
                      "score": pa.array([], pa.float64())})
    assert contrast_thresholds(empty).size == 0


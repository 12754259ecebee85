"""``run``'s terminal shows calibrated thresholds as ``metrics`` does: the number nearest
the computed one, of at least four significant digits, that decides the run's scores alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.cli.audits import _show_answers
from audit.metrics import table
from audit.runs import layout
from audit.tables import write_table

COMPUTED = 0.6012345678901234  # a score of the run, as a calibration to a target finds it


def _run_folder(folder):
    """A run folder's metrics and scores: an FMR calibrated onto a score with float noise."""
    rows = table.empty_frame()
    rows = pd.concat([rows, pd.DataFrame([{
        "metric": "fmr", "grouping": "overall", "group": "all", "threshold": COMPUTED,
        "value": 0.001, "ci_low": 0.0005, "ci_high": 0.002, "ci_method": "wilson",
        "n_trials": 1000, "n_subjects": 50, "n_errors": 1, "sufficient": True,
        "operating_point": "target_fmr=0.001", "statistic": "rate",
        "point_kind": "target_fmr", "target": 0.001}])], ignore_index=True)
    write_table(table.to_table(rows), folder / layout.METRICS_FILE)
    scores = pa.table({"score": pa.array([0.2, 0.59, COMPUTED, 0.75, None], pa.float64())})
    write_table(scores, folder / layout.SCORES_FILE)


def test_run_shows_a_calibrated_threshold_as_metrics_does(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    _run_folder(tmp_path)
    _show_answers(tmp_path, 0.95)
    out = capsys.readouterr().out
    # Independent check: 0.6012 is the nearest four-digit number above the highest score
    # below the threshold (0.59) and at most the lowest at or above it (the threshold).
    scores = np.array([0.2, 0.59, COMPUTED, 0.75])
    assert ((scores >= 0.6012) == (scores >= COMPUTED)).all()
    assert "target_fmr=0.001 0.6012 " in out
    assert repr(COMPUTED) not in out.split("thresholds shown")[0]
    assert (f"thresholds shown: 0.6012 for {COMPUTED!r} in the table (every trial of the run "
            "is decided alike at both)") in out

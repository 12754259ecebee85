"""``metrics`` option mistakes, answered in one line before the expensive work.

Option values are checked before any file is read (a target rate outside
[0, 1], a threshold that is not a finite number, ``--kfold`` on a log with
no fold column); what only the log can tell (a target FMR on a log with no
1:1 non-mated scores to calibrate on) is checked right after reading, before
the metrics are computed. Each message says what to do instead.
"""

from __future__ import annotations

import math
from pathlib import Path

from .common import UserError

BAD_THRESHOLD = "--threshold {value}: a threshold must be a finite similarity score"
BAD_TARGET = "--{option} {value}: a target is a rate between 0 and 1, e.g. 1e-3"
NOTHING_TO_CALIBRATE = (
    "--{option}: the log has no scored non-mated {kind} rows to calibrate on "
    "(it has {rows}); {instead}")
INSTEAD = {
    "target-fmr": "use --target-fpir or --threshold for an identification log",
    "target-fpir": "use --target-fmr or --threshold for a verification log",
}
NO_FOLD_COLUMN = ("--kfold: {file} has no column {column!r} (the protocol fold of each pair); "
                  "name yours with --map fold=COLUMN; its columns are {columns}")


def check_operating_points(thresholds: list[float] | None, target_fmr: list[float] | None,
                           target_fpir: list[float] | None) -> None:
    """Thresholds are finite numbers and targets are rates in [0, 1] (NaN neither)."""
    for value in thresholds or ():
        if not math.isfinite(value):
            raise UserError(BAD_THRESHOLD.format(value=value))
    for option, targets in (("target-fmr", target_fmr), ("target-fpir", target_fpir)):
        for value in targets or ():
            if not 0.0 <= value <= 1.0:  # False for NaN too
                raise UserError(BAD_TARGET.format(option=option, value=value))


def check_fold_column(source: Path, fold_column: str) -> None:
    """``--kfold`` needs the trials file's fold column (read from the header only)."""
    from ..metrics.log_reading import LogReadError, column_names

    try:
        names = column_names(source)
    except LogReadError as error:
        raise UserError(str(error)) from None
    if fold_column not in names:
        raise UserError(NO_FOLD_COLUMN.format(file=source.name, column=fold_column,
                                              columns=", ".join(names)))


def check_calibration(scores, target_fmr: list[float] | None,
                      target_fpir: list[float] | None) -> None:
    """Every target names a rate the scores can be calibrated on (else one line, exit 2)."""
    import numpy as np

    from ..metrics import trials
    from ..metrics.points import calibration_scores

    for option, targets, spec in (("target-fmr", target_fmr, trials.FMR),
                                  ("target-fpir", target_fpir, trials.FPIR)):
        if not targets:
            continue
        if np.isfinite(calibration_scores(scores, spec)).any():
            continue
        kinds = scores.column("trial_kind").cast("string").value_counts().to_pylist()
        rows = ", ".join(f"{k['counts']:,} {k['values']}" for k in kinds) + " rows"
        raise UserError(NOTHING_TO_CALIBRATE.format(option=option, kind=spec.kind, rows=rows,
                                                    instead=INSTEAD[option]))

"""Per-unit trial and error counts: the one pass over a rate's trials.

A *unit* is a (subject, cell) of a one-way rate, or a trial of a dyadic
rate (its unordered pair of subjects kept, for the two-way variance). The
counting kernel runs once over the trials at every operating threshold;
everything downstream (:mod:`audit.metrics.groups`: breakdowns, cluster
counts) works on these counts, never on rows of comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from audit.metrics import trials
from audit.metrics.subject_pairs import SubjectPairs, subject_pairs


@dataclass(frozen=True)
class UnitCounts:
    """Trials and errors of one rate per unit and threshold.

    ``errors`` is sparse (units x thresholds): non-mated rates err only above
    the lowest threshold, which at the targets audited is a small share of
    the trials. A dyadic rate's units are its trials, with the unordered pair
    of subjects of each (``pairs``, sorted once per log and shared by every breakdown);
    its errors are kept as coordinates (each trial errs at most once per threshold, and
    a compressed matrix would hold a row pointer for each of ten million trials).
    """

    rate: str
    mated: bool
    thresholds: np.ndarray
    operating_points: tuple[str | None, ...]
    subjects: np.ndarray
    cells: np.ndarray
    trials: np.ndarray
    errors: sparse.csr_matrix | sparse.coo_matrix
    cell_table: pd.DataFrame
    #: The other subject of each unit's non-mated pairs (dyadic rates), else None.
    reference_subjects: np.ndarray | None = None
    pairs: SubjectPairs | None = None


def unit_counts(
    trial_set: trials.TrialSet, thresholds: np.ndarray, operating_points: tuple[str, ...]
) -> UnitCounts:
    """Count one rate's trials and errors per unit at each threshold.

    A unit is (subject, cell); for trials that carry a reference subject it
    is the trial itself (the same two people rarely meet twice, so collapsing
    would cost a sort and save nothing).
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    rows, columns = _error_entries(trial_set.scores, thresholds, mated=trial_set.mated)
    base = dict(rate=trial_set.rate, mated=trial_set.mated, thresholds=thresholds,
                operating_points=tuple(operating_points), cell_table=trial_set.cell_table)
    if trial_set.reference_subjects is not None:
        a, b = trial_set.subjects, trial_set.reference_subjects
        pairs = trial_set.pairs if trial_set.pairs is not None else subject_pairs(a, b)
        return UnitCounts(
            **base, subjects=a, cells=trial_set.cells, trials=np.ones(a.size, dtype=np.int8),
            errors=sparse.coo_matrix((np.ones(rows.size), (rows, columns)),
                                     shape=(a.size, thresholds.size)),
            reference_subjects=b, pairs=pairs)
    n_cells = len(trial_set.cell_table)
    keys, unit = np.unique(trial_set.subjects.astype(np.int64) * n_cells + trial_set.cells,
                           return_inverse=True)
    unit = unit.ravel()
    return UnitCounts(
        **base, subjects=keys // n_cells, cells=keys % n_cells,
        trials=np.bincount(unit, minlength=keys.size).astype(np.int64),
        errors=_sparse_counts(unit[rows], columns, (keys.size, thresholds.size)))


def _error_entries(scores: np.ndarray, thresholds: np.ndarray, *, mated: bool
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(trial, threshold) of every error: a non-mated trial at ``score >= t``, a mated one
    below it (NaN never decides). One comparison finds the trials that err at some
    threshold (few, for non-mated rates at the thresholds audited); only those are
    placed among the sorted thresholds (``searchsorted``)."""
    order = np.argsort(thresholds, kind="stable")
    ordered = thresholds[order]
    if not ordered.size:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    erring = np.flatnonzero(~(scores >= ordered[-1]) if mated else scores >= ordered[0])
    erring_scores = scores[erring]
    reached = np.searchsorted(ordered, erring_scores, side="right")
    reached[np.isnan(erring_scores)] = 0
    count = thresholds.size - reached if mated else reached
    rows = np.repeat(erring, count)
    offset = np.arange(rows.size) - np.repeat(np.cumsum(count) - count, count)
    return rows, order[np.repeat(reached, count) + offset if mated else offset]


def _sparse_counts(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]
                   ) -> sparse.csr_matrix:
    """Number of (row, column) entries, as a sparse matrix."""
    return sparse.csr_matrix((np.ones(rows.size), (rows, columns)), shape=shape)


def fta_unit_counts(
    fta: pd.DataFrame, images: trials.ImageTable, *, subjects: pd.Index, columns: tuple[str, ...]
) -> UnitCounts:
    """Failure-to-acquire counts per (subject, cell): one trial per image, no threshold.

    The unit's subject is the image's ``subject_id``; the rate is carried as
    a non-mated rate whose "decision" is the failure, so MetricFrame's
    false positive share is the FTA rate.
    """
    positions = images.positions(pa.array(fta["image_id"].to_numpy(dtype=object)), table="fta")
    image_cells, cell_table = images.cells(columns)
    n_cells = len(cell_table)
    subject = subjects.get_indexer(images.subject_ids[positions]).astype(np.int64)
    keys, unit = np.unique(subject * n_cells + image_cells[positions], return_inverse=True)
    n = np.bincount(unit, minlength=keys.size).astype(np.int64)
    failed = np.bincount(unit, weights=fta["fta"].to_numpy(bool), minlength=keys.size)
    return UnitCounts(
        rate=trials.FTA,
        mated=False,
        thresholds=np.array([np.nan]),
        operating_points=(None,),
        subjects=keys // n_cells,
        cells=keys % n_cells,
        trials=n,
        errors=sparse.csr_matrix(failed[:, None]),
        cell_table=cell_table,
    )

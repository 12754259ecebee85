"""Trials given twice in a score log, found on integer codes by one sort.

A trial is its kind, probe image, reference image (none for a 1:N search)
and fold. Each becomes one int64 key; sorting the keys (numpy, no hash of
strings, no Python object per row) shows whether any repeats, and only when
one does is a stable argsort run to name the rows.
"""

from __future__ import annotations

import numpy as np


def repeated_trials(verification: np.ndarray, probe: np.ndarray, reference: np.ndarray,
                    fold: np.ndarray | None, n_codes: int, limit: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Rows that repeat an earlier trial, and that earlier trial's first row.

    Parameters
    ----------
    verification : bool array
        True for a 1:1 row (its reference counts), False for a 1:N search.
    probe, reference : int arrays
        Image codes in ``[0, n_codes)`` (reference ignored for searches).
    fold : float array or None
        Fold per row, NaN when empty; None when the log has no fold column.
    n_codes : int
    limit : int
        At most this many repeats are returned, the first ones in row order.

    Returns
    -------
    rows, firsts : int arrays
        Each repeating row (0-based, ascending) and the first row of its trial.

    Examples
    --------
    >>> repeated_trials(np.array([True, True, False, True]), np.array([0, 1, 0, 0]),
    ...                 np.array([1, 0, 0, 1]), None, 2, 10)
    (array([3]), array([0]))
    """
    folds = 0 if fold is None else np.unique(
        np.nan_to_num(fold, nan=-1.0), return_inverse=True)[1].astype(np.int64)
    side = np.where(verification, reference, -1) + 1
    width = n_codes + 1
    key = ((folds * 2 + verification.astype(np.int64)) * width + probe) * width + side
    ranked = np.sort(key)
    if not (ranked[1:] == ranked[:-1]).any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(key, kind="stable")  # equal keys in row order: the first comes first
    ranked = key[order]
    again = np.flatnonzero(ranked[1:] == ranked[:-1]) + 1
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    firsts = order[starts[np.searchsorted(starts, again, side="right") - 1]]
    shown = np.argsort(order[again], kind="stable")[:limit]
    return order[again][shown], firsts[shown]

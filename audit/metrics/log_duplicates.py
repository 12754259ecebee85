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
    ranked = _keys(verification, probe, reference, fold, n_codes)
    ranked.sort()
    if not (ranked[1:] == ranked[:-1]).any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    key = _keys(verification, probe, reference, fold, n_codes)  # again, in row order
    order = np.argsort(key, kind="stable")  # equal keys in row order: the first comes first
    ranked = key[order]
    again = np.flatnonzero(ranked[1:] == ranked[:-1]) + 1
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    firsts = order[starts[np.searchsorted(starts, again, side="right") - 1]]
    shown = np.argsort(order[again], kind="stable")[:limit]
    return order[again][shown], firsts[shown]


def _keys(verification: np.ndarray, probe: np.ndarray, reference: np.ndarray,
          fold: np.ndarray | None, n_codes: int) -> np.ndarray:
    """One int64 per row: fold, kind, probe and reference (0 for a search) in mixed radix.

    Built in place: each int64 temporary of a 10M-row log would be 80 MB of fresh
    pages for the system to hand over."""
    width = n_codes + 1
    if fold is None:
        key = verification.astype(np.int64)
    else:
        key = np.unique(np.nan_to_num(fold, nan=-1.0), return_inverse=True)[1].astype(np.int64)
        key *= 2
        key += verification
    key *= width
    key += probe
    key *= width
    side = np.where(verification, reference, -1)
    side += 1
    key += side
    return key

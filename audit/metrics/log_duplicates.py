"""Trials given twice in a score log, found on integer codes.

A trial is its kind, probe image, reference image (none for a 1:N search)
and fold. Whether any repeats is answered by scipy's COO -> CSR conversion of
the trials as (kind, fold and probe; reference) coordinates: it orders them
by counting, in time linear in the trials, and sums repeated coordinates, so
fewer stored entries than trials means a repeat (a 10M-trial log: 0.3 s, where
sorting 10M int64 keys takes 0.7 s). Only when one repeats are the keys
sorted, by a stable argsort, to name the rows, and each repeat is reported
with both rows and its images (:func:`repeated_trial_messages`). No hash of
strings, no Python object per row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.metrics.log_reading import Codes

DUPLICATE = "{file} row {row}: repeats the trial of {first_file} row {first_row} ({what})"


def repeated_trial_messages(verification: np.ndarray, probe: Codes, reference: Codes,
                            fold: np.ndarray | None, *,
                            where: Callable[[int], tuple[str, int]], limit: int
                            ) -> tuple[list[str], int]:
    """One line per repeated trial (the first ``limit``): both rows and the images; and
    how many rows repeat an earlier trial in all.

    ``probe`` and ``reference`` are image ids on one value table; ``where`` turns a row
    of the log (its files one after another) into a file name and 1-based row.
    """
    rows, firsts, total = _repeats(verification, probe.codes, reference.codes, fold,
                                   len(probe.values), limit)
    messages = []
    for row, first in zip(rows.tolist(), firsts.tolist(), strict=True):
        file, at = where(row)
        first_file, first_at = where(first)
        what = f"probe {probe.text(row)!r}" + (
            f", reference {reference.text(row)!r}" if verification[row] else "")
        messages.append(DUPLICATE.format(file=file, row=at, first_file=first_file,
                                         first_row=first_at, what=what))
    return messages, total


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
    rows, firsts, _ = _repeats(verification, probe, reference, fold, n_codes, limit)
    return rows, firsts


def _repeats(verification: np.ndarray, probe: np.ndarray, reference: np.ndarray,
             fold: np.ndarray | None, n_codes: int, limit: int
             ) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`repeated_trials`, and the number of repeating rows (listed or not)."""
    if all_distinct(verification, probe, reference, fold, n_codes):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 0
    key = _keys(verification, probe, reference, fold, n_codes)  # again, in row order
    order = np.argsort(key, kind="stable")  # equal keys in row order: the first comes first
    ranked = key[order]
    again = np.flatnonzero(ranked[1:] == ranked[:-1]) + 1
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    firsts = order[starts[np.searchsorted(starts, again, side="right") - 1]]
    shown = np.argsort(order[again], kind="stable")[:limit]
    return order[again][shown], firsts[shown], int(again.size)


def all_distinct(verification: np.ndarray, probe: np.ndarray, reference: np.ndarray,
                 fold: np.ndarray | None, n_codes: int) -> bool:
    """Whether no trial repeats (parameters as :func:`repeated_trials`).

    Examples
    --------
    >>> all_distinct(np.array([True, False, False]), np.array([0, 0, 0]), np.array([0, 0, 1]),
    ...              None, 2)  # two searches of image 0 (their references do not count)
    False
    """
    from scipy import sparse  # after the log is read: scipy takes a few tenths of a second

    width = n_codes + 1
    folds = None if fold is None else pc.dictionary_encode(pa.array(_fold_values(fold)))
    n_rows = 2 * width * (1 if folds is None else max(len(folds.dictionary), 1))
    if n_rows > 4 * len(probe) + width:  # very many folds: a row pointer per row would cost more
        key = _keys(verification, probe, reference, fold, n_codes)
        key.sort()
        return not (key[1:] == key[:-1]).any()
    searches = not verification.all()
    row = probe if folds is None and not searches else _rows(verification, probe, folds, width)
    column = np.where(verification, reference, -1) + 1 if searches else reference
    coordinates = sparse.coo_array((np.ones(len(row), dtype=np.int8), (row, column)),
                                   shape=(n_rows, width + 1))
    return coordinates.tocsr().nnz == len(row)  # tocsr sums repeated coordinates


def _fold_values(fold: np.ndarray) -> np.ndarray:
    """The folds as :func:`_keys` tells them apart: an empty fold as -1, -0 as 0 (Arrow's
    hash tells the two zeros apart)."""
    values = np.nan_to_num(fold, nan=-1.0)
    values += 0.0
    return values


def _rows(verification: np.ndarray, probe: np.ndarray, folds: pa.DictionaryArray | None,
          width: int) -> np.ndarray:
    """Row of each trial's coordinate: fold, kind and probe in mixed radix."""
    row = (~verification).astype(np.int64)
    if folds is not None:
        row += 2 * folds.indices.to_numpy(zero_copy_only=False)
    row *= width
    row += probe
    return row


def _keys(verification: np.ndarray, probe: np.ndarray, reference: np.ndarray,
          fold: np.ndarray | None, n_codes: int) -> np.ndarray:
    """One int64 per row: fold, kind, probe and reference (0 for a search) in mixed radix.

    Built in place: each int64 temporary of a 10M-row log would be 80 MB of fresh
    pages for the system to hand over."""
    width = n_codes + 1
    if fold is None:
        key = verification.astype(np.int64)
    else:
        key = np.unique(_fold_values(fold), return_inverse=True)[1].astype(np.int64)
        key *= 2
        key += verification
    key *= width
    key += probe
    key *= width
    side = np.where(verification, reference, -1)
    side += 1
    key += side
    return key

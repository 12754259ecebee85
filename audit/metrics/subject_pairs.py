"""The unordered subject pairs of dyadic trials, sorted once per log.

A non-mated 1:1 trial has two people; its dyadic variance
(:mod:`audit.metrics.variance`) needs every unordered pair of subjects, with
its trials counted by group, for every FMR breakdown (overall, each grouping,
the cross-group matrix). Sorting ten million pair codes is the costly step,
and the order it finds serves every breakdown: :class:`SubjectPairs` keeps the
sorted distinct codes and the trials in pair order, so that a breakdown's
pairs x groups trial table is a gather of its groups in that order
(:meth:`SubjectPairs.trials`), not a sparse conversion of ten million
coordinates, and a trial's pair is looked up only for the few trials that err
(:meth:`SubjectPairs.positions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

#: Subject codes are below this, so ``low * PAIR_BASE + high`` names an unordered pair.
PAIR_BASE = 2**31


@dataclass(frozen=True)
class SubjectPairs:
    """Distinct unordered-pair codes ``low * PAIR_BASE + high`` of a set of trials, sorted.

    ``order`` lists the trials by pair code, then trial index; pair *k*'s
    trials are ``order[starts[k]:starts[k + 1]]``. ``a`` and ``b`` are the
    trials' two subject codes (either orientation).
    """

    keys: np.ndarray
    order: np.ndarray
    starts: np.ndarray
    a: np.ndarray
    b: np.ndarray

    def positions(self, trials: np.ndarray) -> np.ndarray:
        """Position in :attr:`keys` of the pair of each trial in ``trials`` (indices).

        The codes are looked up in sorted order: ten thousand look-ups into ten million
        keys, each a binary search, then walk the keys in one direction (cache lines
        reused) instead of jumping about them."""
        a, b = self.a[trials], self.b[trials]
        codes = np.minimum(a, b).astype(np.int64) * PAIR_BASE + np.maximum(a, b)
        order = np.argsort(codes)
        found = np.empty(codes.size, dtype=np.int32 if self.keys.size < 2**31 else np.int64)
        found[order] = np.searchsorted(self.keys, codes[order])
        return found

    def trials(self, group: np.ndarray, n_groups: int) -> sparse.csr_matrix:
        """Trials of every pair in every group (pairs x groups, int32 counts), ``group`` being
        each trial's group code: the table ``csr_matrix((ones, (inverse, group)))`` builds,
        in canonical form (columns sorted within a row, repeats summed), without it.

        Most pairs meet once, so their row is their one trial's group; only the rows of
        pairs met more than once are sorted and merged.
        """
        columns = (np.take(group, self.order).astype(np.int32, copy=False) if n_groups > 1
                   else np.zeros(self.order.size, dtype=np.int32))  # one group: no gather
        return canonical_rows(np.ones(columns.size, dtype=np.int32), columns, self.starts,
                              (self.keys.size, n_groups))


def canonical_rows(counts: np.ndarray, columns: np.ndarray, indptr: np.ndarray,
                   shape: tuple[int, int]) -> sparse.csr_matrix:
    """The CSR matrix of ``(counts, columns, indptr)`` in canonical form: columns sorted within
    a row, a column's repeats within a row summed. Only rows of two entries or more are
    sorted and merged (most pairs of people meet once); ``counts`` and ``columns`` are
    overwritten. The row pointers are shared when no row loses an entry."""
    n_columns = shape[1]
    lengths = np.diff(indptr)
    wide = np.flatnonzero(lengths > 1)
    if not wide.size:
        return _csr(counts, columns, indptr, shape)
    within = lengths[wide]
    first = np.repeat(indptr[wide], within)
    slot = first + (np.arange(first.size) - np.repeat(np.cumsum(within) - within, within))
    row = np.repeat(np.arange(wide.size, dtype=np.int64), within)
    merged, inverse = np.unique(row * n_columns + columns[slot], return_inverse=True)
    summed = np.bincount(inverse.ravel(), weights=counts[slot], minlength=merged.size)
    merged_row = merged // n_columns
    kept = np.bincount(merged_row, minlength=wide.size)
    # Each wide row's merged entries go to the front of its slots; the rest are dropped.
    rank = np.arange(merged.size) - np.repeat(np.cumsum(kept) - kept, kept)
    target = indptr[wide][merged_row] + rank
    columns[target] = merged % n_columns
    counts[target] = summed
    if np.array_equal(kept, within):
        return _csr(counts, columns, indptr, shape)
    keep = np.ones(columns.size, dtype=bool)
    keep[slot] = False
    keep[target] = True
    new_lengths = lengths.copy()
    new_lengths[wide] = kept
    new_indptr = np.zeros(lengths.size + 1, dtype=indptr.dtype)
    np.cumsum(new_lengths, out=new_indptr[1:])
    return _csr(counts[keep], columns[keep], new_indptr, shape)


def _csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]
         ) -> sparse.csr_matrix:
    """A CSR matrix from arrays already in canonical form (not checked again)."""
    out = sparse.csr_matrix((data, indices, indptr), shape=shape)
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out


def owner_keys(owners: np.ndarray, n_columns: int, columns: np.ndarray) -> np.ndarray:
    """``owners * n_columns + columns`` as int64, formed in place: at ten million trials each
    int64 temporary is 80 MB of fresh pages, and ``bincount`` reads int64 without a copy.
    A subject's trials by cell, a trial's ordered pair of groups."""
    keys = owners.astype(np.int64)
    keys *= n_columns
    keys += columns
    return keys

#: Descents per value below which the codes are sorted by merging their ascending runs:
#: measured on ten million int64 codes, Timsort took 0.55 s at one descent in a thousand,
#: 0.7 s at one in a hundred, where the quicksort takes 0.7-0.8 s whatever the order.
RUN_SORT_DESCENTS = 1 / 256


def _sort_kind(codes: np.ndarray) -> str:
    """``"stable"`` (Timsort, merging ascending runs) for codes in long ascending runs,
    else ``"quicksort"`` (numpy's vectorised sort)."""
    descents = np.count_nonzero(codes[1:] < codes[:-1])
    return "stable" if descents < RUN_SORT_DESCENTS * codes.size else "quicksort"


def subject_pairs(a: np.ndarray, b: np.ndarray) -> SubjectPairs:
    """Sort the trials' unordered subject pairs (subject codes ``a``, ``b``: non-negative).

    When the dense code ``low * n + high`` (``n`` subjects) and the trial's index
    fit in 63 bits together, one value sort of ``code << bits | index`` (a
    vectorised sort, several times faster than an ``argsort``) gives both the order
    and the sorted codes; otherwise a stable ``argsort`` of the codes. Logs are often
    written pair by pair or probe by probe, so the codes come in long ascending runs:
    then a merge sort of the runs (numpy's ``stable``, Timsort) is several times faster
    than the vectorised quicksort, which gains nothing from order (:func:`_sort_kind`).
    The codes are distinct (each holds its trial's index), so both give the same array.
    """
    n = int(max(a.max(initial=0), b.max(initial=0))) + 1
    index_bits = max(int(a.size - 1).bit_length(), 1)
    index_type = np.int32 if a.size < 2**31 else np.int64
    if a.size == 0 or (n * n - 1).bit_length() + index_bits > 63:
        codes = np.minimum(a, b).astype(np.int64) * PAIR_BASE + np.maximum(a, b)
        order = np.argsort(codes, kind="stable").astype(index_type)
        codes = codes[order]
        scale = None
    else:
        # In place, one int64 array at a time: each temporary costs page faults.
        codes = np.minimum(a, b, dtype=np.int64)
        codes *= n
        np.add(codes, np.maximum(a, b), out=codes)
        codes <<= index_bits
        codes |= np.arange(a.size, dtype=np.int64)
        codes.sort(kind=_sort_kind(codes))
        order = np.empty(codes.size, dtype=index_type)
        np.bitwise_and(codes, (1 << index_bits) - 1, out=order, casting="unsafe")  # < 2**bits
        codes >>= index_bits  # the dense codes, sorted
        scale = n
    first = np.empty(codes.size, dtype=bool)
    first[:1] = True
    np.not_equal(codes[1:], codes[:-1], out=first[1:])
    starts = np.empty(np.count_nonzero(first) + 1, dtype=index_type)
    starts[:-1] = np.flatnonzero(first)
    starts[-1] = codes.size
    starts.flags.writeable = False  # every breakdown's pair table shares it as row pointers
    keys = codes[first]
    if scale is not None:  # dense codes low * n + high to low * PAIR_BASE + high, in place
        low = keys // scale
        low *= PAIR_BASE - scale
        keys += low
    return SubjectPairs(keys, order, starts, a, b)

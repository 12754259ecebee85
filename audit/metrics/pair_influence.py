r"""The pair part of a dyadic influence, kept as counts instead of one entry per pair and row.

A dyadic rate's variance (:mod:`audit.metrics.variance`) subtracts, for every
unordered pair of subjects :math:`p` and every row :math:`k` (a group at a
threshold), the square of the pair's influence

.. math:: u_{pk} = s_k\,(w\,e_{pk} - r_k\,n_{p,b(k)})

(errors :math:`e`, trials :math:`n`, the row's rate :math:`r_k` and scale
:math:`s_k = 1/N_k`, :math:`w = 1`; a row's *shares* :math:`n/N` are the same
form with :math:`w = 0`, :math:`r = -1`). Stored as a pairs x rows matrix this
has an entry for every pair at every threshold: ten million comparisons at
three thresholds made 30 million entries per matrix, two matrices per
breakdown, and again for the cross-group matrix. But a pair's trials do not
depend on the threshold, only on the row's *base* :math:`b(k)` (its group),
and errors are rare at the thresholds that matter. So :class:`PairInfluence`
keeps the errors (pairs x rows, sparse: only pairs with an error) and the
trials (pairs x bases), and every sum over pairs of a product of two
influences is expanded into count products:

.. math::
   \sum_p u_{pk} v_{pl} = s_k s'_l \big(w w' \textstyle\sum e_{pk} e'_{pl}
   - w\,r'_l \sum e_{pk} n'_{p,b'(l)} - r_k w' \sum n_{p,b(k)} e'_{pl}
   + r_k r'_l \sum n_{p,b(k)} n'_{p,b'(l)}\big)

The last sum is a bases x bases Gram matrix, computed once per pair of trial
matrices (:attr:`PairInfluence.grams`). The counts are integers, so every sum
is exact and only the final combination rounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class PairInfluence:
    """Influence of every unordered pair of subjects on a set of rows (see the module).

    ``keys`` are the pairs' codes (``low * n_subjects + high``), sorted;
    ``errors`` is pairs x rows, ``trials`` pairs x bases, ``base`` the column
    of ``trials`` each row reads.
    """

    keys: np.ndarray
    errors: sparse.csr_matrix
    trials: sparse.csr_matrix
    base: np.ndarray
    rate: np.ndarray
    scale: np.ndarray
    weight: float = 1.0
    #: Gram matrices ``trials.T @ other.trials``, shared by every column selection.
    grams: dict = field(default_factory=dict, compare=False, repr=False)

    def columns(self, index: np.ndarray) -> PairInfluence:
        """The rows at ``index`` (the trials and cached Gram matrices are shared)."""
        return replace(self, errors=self.errors[:, index], base=self.base[index],
                       rate=self.rate[index], scale=self.scale[index])

    def shares(self) -> PairInfluence:
        """Each pair's share of each row's trials, ``n / N``, in the same form."""
        return replace(self, rate=np.full(self.rate.shape, -1.0), weight=0.0)

    def dense(self) -> np.ndarray:
        """The influence as a pairs x rows array (for small tables and checks)."""
        trials = self.trials.toarray()[:, self.base]
        return self.scale * (self.weight * self.errors.toarray() - self.rate * trials)

    def cross(self, other: PairInfluence) -> np.ndarray:
        """Sum over pairs of the product of each row's influence with each of ``other``'s."""
        mine, theirs, gram = _aligned(self, other)
        out = np.outer(self.rate, other.rate) * gram[np.ix_(self.base, other.base)]
        if other.weight:
            shared = _with_errors(theirs.errors, mine.trials).toarray()  # other rows x bases
            out -= other.weight * self.rate[:, None] * shared.T[self.base, :]
        if self.weight:
            shared = _with_errors(mine.errors, theirs.trials).toarray()  # rows x other bases
            out -= self.weight * shared[:, other.base] * other.rate[None, :]
        if self.weight and other.weight:
            out += self.weight * other.weight * (mine.errors.T @ theirs.errors).toarray()
        return out * np.outer(self.scale, other.scale)

    def diagonal(self, other: PairInfluence) -> np.ndarray:
        """Sum over pairs of row *k*'s influence times ``other``'s row *k*, for every *k*."""
        mine, theirs, gram = _aligned(self, other)
        out = self.rate * other.rate * gram[self.base, other.base]
        rows = np.arange(self.base.size)
        if other.weight:
            shared = _with_errors(theirs.errors, mine.trials)  # rows x bases
            out -= other.weight * self.rate * _entries(shared, rows, self.base)
        if self.weight:
            shared = _with_errors(mine.errors, theirs.trials)
            out -= self.weight * other.rate * _entries(shared, rows, other.base)
        if self.weight and other.weight:
            out += self.weight * other.weight * _column_sums(mine.errors.multiply(theirs.errors))
        return out * self.scale * other.scale


@dataclass(frozen=True)
class _Rows:
    errors: sparse.csr_matrix
    trials: sparse.csr_matrix


def _aligned(a: PairInfluence, b: PairInfluence) -> tuple[_Rows, _Rows, np.ndarray]:
    """Both sides on their shared pairs, and the Gram matrix of their trials there."""
    if a.keys is b.keys or np.array_equal(a.keys, b.keys):
        cached = a.grams.get(id(b.trials))
        if cached is None or cached[0] is not b.trials:
            cached = (b.trials, (a.trials.T @ b.trials).toarray())
            a.grams[id(b.trials)] = cached
        return _Rows(a.errors, a.trials), _Rows(b.errors, b.trials), cached[1]
    at = np.minimum(np.searchsorted(b.keys, a.keys), max(b.keys.size - 1, 0))
    shared = (b.keys[at] == a.keys) if b.keys.size else np.zeros(a.keys.size, dtype=bool)
    mine, theirs = np.flatnonzero(shared), at[shared]
    rows_a = _Rows(a.errors[mine], a.trials[mine])
    rows_b = _Rows(b.errors[theirs], b.trials[theirs])
    return rows_a, rows_b, (rows_a.trials.T @ rows_b.trials).toarray()


def _with_errors(errors: sparse.csr_matrix, trials: sparse.csr_matrix) -> sparse.csr_matrix:
    """``errors.T @ trials`` (rows x bases) over the few pairs with an error only."""
    erred = np.flatnonzero(np.diff(errors.indptr))
    return sparse.csr_matrix(errors[erred].T @ trials[erred])


def _entries(matrix: sparse.csr_matrix, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    return np.asarray(matrix[rows, columns], dtype=np.float64).ravel() if rows.size else (
        np.zeros(0))


def _column_sums(matrix: sparse.spmatrix) -> np.ndarray:
    return np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel()

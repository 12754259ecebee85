r"""The pair part of a dyadic influence, kept as counts instead of one entry per pair and row.

A dyadic rate's variance (:mod:`audit.metrics.variance`) subtracts, for every
unordered pair of subjects :math:`p` and every row :math:`k` (a group at a
threshold), the square of the pair's influence

.. math:: u_{pk} = s_k\,(e_{pk} - r_k\,n_{p,b(k)})

(errors :math:`e`, trials :math:`n`, the row's rate :math:`r_k` and scale
:math:`s_k = 1/N_k`). Stored as a pairs x rows matrix this
has an entry for every pair at every threshold: ten million comparisons at
three thresholds made 30 million entries per matrix, two matrices per
breakdown, and again for the cross-group matrix. But a pair's trials do not
depend on the threshold, only on the row's *base* :math:`b(k)` (its group),
and errors are rare at the thresholds that matter. So :class:`PairInfluence`
keeps the errors (pairs x rows, sparse: only pairs with an error) and the
trials (pairs x bases), and every sum over pairs of a product of two
influences is expanded into count products:

.. math::
   \sum_p u_{pk} v_{pl} = s_k s'_l \big(\textstyle\sum e_{pk} e'_{pl}
   - r'_l \sum e_{pk} n'_{p,b'(l)} - r_k \sum n_{p,b(k)} e'_{pl}
   + r_k r'_l \sum n_{p,b(k)} n'_{p,b'(l)}\big)

The last sum is a bases x bases Gram matrix, computed once per pair of trial
matrices (:attr:`PairInfluence.grams`). The counts are integers, so every sum
is exact and only the final combination rounds.

A contrast of rows (the difference of two groups' rates, their log ratio)
keeps the rows' counts and its weights beside them (:meth:`PairInfluence.combine`):
its products are the rows' products, weighted. The sum of cubes that a
skewness needs (:meth:`PairInfluence.cubes`) is taken directly over the pairs
with an error; every other pair's influence is :math:`-\sum_b n_{pb} c_b`
with one coefficient per base, and a row or contrast reading one or two bases
(one group; two groups) has its cube sum from the count moments
:math:`\sum_p n_{pa}^2 n_{pb}` (bases x bases, computed once per trials table).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class PairInfluence:
    """Influence of every unordered pair of subjects on a set of rows (see the module).

    ``keys`` are the pairs' codes (``low * n_subjects + high``), sorted;
    ``trials`` is pairs x bases and ``base`` the column of ``trials`` each row
    reads; ``errors`` (erred x rows) holds the rows of the pairs ``erred``
    (positions into ``keys``, sorted) that have an error at some row: a few
    thousand of ten million pairs, so that selecting rows copies little.
    ``mix`` (rows x combinations), when given, makes the influence that of
    ``rows @ mix`` (:meth:`combine`).
    """

    keys: np.ndarray
    erred: np.ndarray
    errors: sparse.csr_matrix
    trials: sparse.csr_matrix
    base: np.ndarray
    rate: np.ndarray
    scale: np.ndarray
    mix: np.ndarray | None = None
    #: Gram matrices ``trials.T @ other.trials``, shared by every column selection.
    grams: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_counts(cls, keys: np.ndarray, errors: sparse.csr_matrix, trials: sparse.csr_matrix,
                    base: np.ndarray, rate: np.ndarray, scale: np.ndarray) -> PairInfluence:
        """From pairs x rows errors, keeping only the pairs that have one (read from the
        coordinates: no row pointers for the ten million pairs without an error)."""
        errors = sparse.coo_matrix(errors)
        erred = np.unique(errors.row).astype(np.int64)
        kept = sparse.csr_matrix((errors.data, (np.searchsorted(erred, errors.row), errors.col)),
                                 shape=(erred.size, errors.shape[1]))
        return cls(keys, erred, kept, sparse.csr_matrix(trials), base, rate, scale)

    def columns(self, index: np.ndarray) -> PairInfluence:
        """The rows at ``index`` (the trials and cached Gram matrices are shared)."""
        if self.mix is not None:
            return replace(self, mix=self.mix[:, index])
        return replace(self, errors=self.errors[:, index], base=self.base[index],
                       rate=self.rate[index], scale=self.scale[index])

    def combine(self, weights: np.ndarray) -> PairInfluence:
        """The influence of ``rows @ weights`` (rows x combinations), kept as the rows' counts."""
        weights = np.asarray(weights, dtype=np.float64)
        return replace(self, mix=weights if self.mix is None else self.mix @ weights)

    def dense(self) -> np.ndarray:
        """The influence as a pairs x rows array (for small tables and checks)."""
        errors = np.zeros((self.keys.size, self.base.size))
        errors[self.erred] = self.errors.toarray()
        trials = self.trials.toarray()[:, self.base]
        rows = self.scale * (errors - self.rate * trials)
        return rows if self.mix is None else rows @ self.mix

    def cross(self, other: PairInfluence) -> np.ndarray:
        """Sum over pairs of the product of each row's influence with each of ``other``'s."""
        out = self._row_cross(other.on_keys(self.keys))
        if self.mix is not None:
            out = self.mix.T @ out
        return out if other.mix is None else out @ other.mix

    def _row_cross(self, other: PairInfluence) -> np.ndarray:
        """:meth:`cross` of the rows before any ``mix`` (``other`` on the same keys)."""
        out = np.outer(self.rate, other.rate) * self._gram(other)[np.ix_(self.base, other.base)]
        shared = (self.trials[other.erred].T @ other.errors).toarray()  # bases x other rows
        out -= self.rate[:, None] * shared[self.base, :]
        shared = (self.errors.T @ other.trials[self.erred]).toarray()  # rows x other bases
        out -= shared[:, other.base] * other.rate[None, :]
        mine, theirs = _common(self, other)
        out += (mine.T @ theirs).toarray()
        return out * np.outer(self.scale, other.scale)

    def diagonal(self, other: PairInfluence) -> np.ndarray:
        """Sum over pairs of row *k*'s influence times ``other``'s row *k*, for every *k*."""
        if self.mix is not None or other.mix is not None:  # a few contrasts: all products
            return np.diag(self.cross(other)).copy()
        other = other.on_keys(self.keys)
        out = self.rate * other.rate * self._gram(other)[self.base, other.base]
        rows = np.arange(self.base.size)
        shared = sparse.csr_matrix(other.errors.T @ self.trials[other.erred])  # rows x bases
        out -= self.rate * _entries(shared, rows, self.base)
        shared = sparse.csr_matrix(self.errors.T @ other.trials[self.erred])
        out -= other.rate * _entries(shared, rows, other.base)
        mine, theirs = _common(self, other)
        out += _column_sums(mine.multiply(theirs))
        return out * self.scale * other.scale

    def cubes(self) -> np.ndarray:
        """Sum over pairs of the cube of every row's influence (see the module)."""
        rows = np.arange(self.base.size)
        mix = sparse.identity(rows.size, format="csr") if self.mix is None else sparse.csr_matrix(
            self.mix)
        coefficients = sparse.csc_matrix(sparse.csr_matrix(
            (self.rate * self.scale, (self.base, rows)),
            shape=(self.trials.shape[1], rows.size)) @ mix)  # bases x combinations
        known = sparse.csr_matrix(self.trials[self.erred] @ coefficients)
        erred = self.errors @ sparse.diags(self.scale) @ mix - known
        return (_column_sums(erred.power(3)) + _column_sums(known.power(3))
                - self._trial_cubes(coefficients))

    def _trial_cubes(self, coefficients: sparse.csc_matrix) -> np.ndarray:
        """``sum_p (n_p @ c)**3`` for every column ``c`` of ``coefficients`` (bases x columns)."""
        count, first = np.diff(coefficients.indptr), coefficients.indptr[:-1]
        second = first + 1
        index = np.append(coefficients.indices, [0, 0])  # a column's absent entries: 0 at 0
        value = np.append(coefficients.data, [0.0, 0.0])
        a, b = index[first], index[second]
        alpha = np.where(count > 0, value[first], 0.0)
        beta = np.where(count > 1, value[second], 0.0)
        moments = self._square_gram()  # [a, b] = sum_p n_pa**2 n_pb
        out = (alpha**3 * moments[a, a] + 3 * alpha**2 * beta * moments[a, b]
               + 3 * alpha * beta**2 * moments[b, a] + beta**3 * moments[b, b])
        wide = np.flatnonzero(count > 2)  # three groups or more: summed over the pairs
        if wide.size:
            out[wide] = _column_sums((self.trials @ coefficients[:, wide]).power(3))
        return out

    def _square_gram(self) -> np.ndarray:
        """``(trials**2).T @ trials`` (bases x bases), computed once per trials table."""
        return self._own_grams()[1]

    def _own_grams(self) -> tuple[np.ndarray, np.ndarray]:
        """``trials.T @ trials`` and ``(trials**2).T @ trials``, computed together once per
        trials table (one pass over its entries gives both, :func:`own_products`)."""
        cached = self.grams.get(("own", id(self.trials)))
        if cached is None or cached[0] is not self.trials:
            cached = (self.trials, tuple(own_products(self.trials, (1, 2))))
            self.grams[("own", id(self.trials))] = cached
        return cached[1]

    def on_keys(self, keys: np.ndarray) -> PairInfluence:
        """The same influence on another list of pairs (pairs absent here get none)."""
        if self.keys is keys or np.array_equal(self.keys, keys):
            return self
        at = np.minimum(np.searchsorted(self.keys, keys), max(self.keys.size - 1, 0))
        found = (self.keys[at] == keys) if self.keys.size else np.zeros(keys.size, dtype=bool)
        trials = sparse.diags(found.astype(np.float64)) @ self.trials[at]
        where = np.searchsorted(keys, self.keys[self.erred])
        where = np.minimum(where, max(keys.size - 1, 0))
        kept = (keys[where] == self.keys[self.erred]) if keys.size else np.zeros(0, dtype=bool)
        return replace(self, keys=keys, erred=where[kept], errors=self.errors[np.flatnonzero(kept)],
                       trials=sparse.csr_matrix(trials), grams={})

    def _gram(self, other: PairInfluence) -> np.ndarray:
        """``trials.T @ other.trials`` (bases x other bases), computed once per pair of tables."""
        if other.trials is self.trials:
            return self._own_grams()[0]
        cached = self.grams.get(id(other.trials))
        if cached is None or cached[0] is not other.trials:
            if totals_of(self.trials, other.trials):  # other is overall: a sum of own columns
                gram = self._own_grams()[0].sum(axis=1, keepdims=True)
            elif totals_of(other.trials, self.trials):
                gram = other._own_grams()[0].sum(axis=0, keepdims=True)
            else:
                gram = count_products(self.trials, other.trials)
            cached = (other.trials, gram)
            self.grams[id(other.trials)] = cached
        return cached[1]


def totals_of(table: sparse.csr_matrix, totals: sparse.csr_matrix) -> bool:
    """Whether ``totals`` (pairs x 1) holds every pair's trials in ``table`` (pairs x bases),
    as an overall breakdown's table does beside a grouping's on the same pairs. Then
    ``table.T @ totals`` is the row sums of ``table.T @ table``: every sum of integer
    counts, exact in any order, with no pass over the pairs but this check. Both tables
    are only read (a ``totals`` not in canonical form is summed on a copy)."""
    lengths = np.diff(table.indptr)
    if totals.shape != (table.shape[0], 1) or not lengths.all():
        return False  # not one column, or a pair without a trial (not from a breakdown)
    if not totals.has_canonical_format:
        totals = totals.copy()
        totals.sum_duplicates()
    if totals.nnz != table.shape[0]:
        return False
    # Row sums from one running sum (ten million rows of one or two entries: a per-row
    # reduction would cost a step per row).
    running = np.cumsum(table.data, dtype=np.int64)
    ends = running[table.indptr[1:] - 1]
    ends[1:] -= running[table.indptr[1:-1] - 1]
    return bool(np.array_equal(ends, totals.data))


#: Pairs read at a time by :func:`count_products` (its temporaries stay a few MiB).
CHUNK = 1 << 20


def count_products(a: sparse.csr_matrix, b: sparse.csr_matrix, *, power: int = 1
                   ) -> np.ndarray:
    """``(a ** power).T @ b`` as a dense array, for two pairs x bases count tables.

    Most pairs of people meet once, so most rows of both tables hold one entry: those
    rows add ``a**power * b`` into one cell each (one ``bincount``); only the other rows
    go through a sparse product. Read a million pairs at a time, so that no temporary
    grows with the number of pairs (the product of the whole tables copied and
    transposed both, hundreds of MiB at ten million pairs). The counts are integers,
    so the sums are exact whatever their order. A table with itself (every Gram
    matrix of a variance, and every count moment of a skewness) takes
    :func:`own_products`.
    """
    if a is b or a.shape == b.shape and all(getattr(a, n) is getattr(b, n) for n in (
            "indptr", "indices", "data")):
        return own_products(a, (power,))[0]
    out = np.zeros((a.shape[1], b.shape[1]))
    ones = bool(np.all(a.data == 1) and np.all(b.data == 1))  # then the products are 1
    for start in range(0, a.shape[0], CHUNK):
        stop = min(start + CHUNK, a.shape[0])
        left, right = a.indptr[start:stop + 1], b.indptr[start:stop + 1]
        in_a, in_b = np.diff(left), np.diff(right)
        single = (in_a == 1) & (in_b == 1)
        at_a, at_b = left[:-1][single], right[:-1][single]
        out += np.bincount(a.indices[at_a] * b.shape[1] + b.indices[at_b], weights=None if ones
                           else a.data[at_a].astype(np.float64) ** power * b.data[at_b],
                           minlength=out.size).reshape(out.shape)
        rest = start + np.flatnonzero((in_a > 0) & (in_b > 0) & ~single)
        if rest.size:
            out += (a[rest].astype(np.float64).power(power).T @ b[rest]).toarray()
    return out


def own_products(a: sparse.csr_matrix, powers: tuple[int, ...]) -> list[np.ndarray]:
    """``(a ** power).T @ a`` for one pairs x bases count table, at each of ``powers``.

    The diagonal is every entry's ``count ** (power + 1)`` summed by column (one
    ``bincount``, the same for every power when every count is 1, as when no two
    trials of a pair share a group); only the few pairs with trials in two or more
    bases add off-diagonal terms. Exact: the counts are integers. The diagonal rule
    needs each column at most once a row: a table not in canonical form has its
    repeats summed first (scipy does nothing when it is marked canonical).
    """
    a.sum_duplicates()
    ones = bool(np.all(a.data == 1))
    plain = np.bincount(a.indices, minlength=a.shape[1]).astype(np.float64) if ones else None
    wide = np.flatnonzero(np.diff(a.indptr) > 1)
    rows = a[wide].astype(np.float64) if wide.size else None
    out = []
    for power in powers:
        own = plain if ones else np.bincount(a.indices, weights=a.data.astype(np.float64) ** (
            power + 1), minlength=a.shape[1])
        products = np.diag(own)
        if rows is not None:
            extra = (rows.power(power).T @ rows).toarray()
            np.fill_diagonal(extra, 0.0)
            products += extra
        out.append(products)
    return out


def _common(a: PairInfluence, b: PairInfluence) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Both sides' error rows on the pairs that have an error on both sides."""
    _, mine, theirs = np.intersect1d(a.erred, b.erred, assume_unique=True, return_indices=True)
    return a.errors[mine], b.errors[theirs]


def _entries(matrix: sparse.csr_matrix, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    return np.asarray(matrix[rows, columns], dtype=np.float64).ravel() if rows.size else (
        np.zeros(0))


def _column_sums(matrix: sparse.spmatrix) -> np.ndarray:
    return np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel()

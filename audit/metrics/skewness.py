r"""The skewness of a cluster-robust influence: third cumulants and effective clusters.

A dyadic rate's limits (:func:`audit.metrics.score_limits.skew_corrected`) and
a dyadic pair's (:mod:`audit.metrics.contrasts`) correct the t interval for
the skewness of the estimate, whose numerator is the third cumulant of the
subjects' influence sums, and take their degrees of freedom from the
effective number of clusters: both come from the column sums of the subject
sums' cubes and fourth powers (:func:`subject_moments`), kept on the
:class:`audit.metrics.variance.Influence` they describe. The power sums
(:func:`power_sums`) serve the variance's squares too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from audit.metrics.variance import Influence

#: Rows of corrected subject sums formed at a time (:func:`subject_moments`).
BLOCK_COLUMNS = 16
#: Share of filled entries above which the corrected subject sums are formed dense.
DENSE_SHARE = 0.25
#: Entries of one dense block of corrected subject sums (people x rows): 16 MiB of float64.
DENSE_BLOCK = 1 << 21


def effective_clusters(influence: Influence) -> np.ndarray:
    r"""Effective number of clusters of every row, :math:`(\sum_s u_s^2)^2 / \sum_s u_s^4`.

    As many as there are clusters when all influence equally, near 1 when
    one person carries the row (Carter, Schnepel & Steigerwald 2017). NaN
    for a row without influence.
    """
    moments = influence.subject_moments
    with np.errstate(invalid="ignore", divide="ignore"):
        return moments[2] ** 2 / moments[4]


def third_cumulants(influence: Influence) -> np.ndarray:
    r"""Third cumulant of every row's estimate, the skewness's numerator.

    .. math:: \hat\kappa_3 = \frac{G}{G-1}\Big(\sum_s u_s^3 - \sum_{\{a,b\}} u_{ab}^3\Big)

    as :meth:`Influence.variance` (the same sums, cubed): a person's influence is
    skewed when few people carry the errors, and the pairs' own cubes
    are counted in both of their people's sums, so they are removed
    once. A corrected row (calibrated threshold) uses its corrected
    subject sums and its own pairs' cubes: the correction's share of one
    pair is small beside the subject sums and is left out there.
    """
    cubes = influence.subject_moments[3]
    if influence.pairs is not None:
        cubes = cubes - influence.pairs.cubes()
    return small_sample_factor(influence.clusters) * cubes


def subject_moments(influence: Influence) -> dict[int, np.ndarray]:
    """Column sums of the corrected subject sums' squares, cubes and fourth powers.

    Kept once computed (:attr:`Influence.subject_moments`): :func:`effective_clusters`
    and :func:`third_cumulants` of one influence read the same sums. The corrected
    sums (corrections applied) are formed a block of rows at a time: a contrast
    table's are people x pairs of groups, millions of entries at ten million
    comparisons, and each entry is the same whichever columns are formed with it.
    The blocks are sliced from the sums by column (one conversion, where selecting
    columns of the rows' layout passes over every entry per block). Sums that are
    mostly filled (a calibrated threshold's correction touches every person) are
    formed dense (:func:`_dense_moments`), sparse ones a block of
    :data:`BLOCK_COLUMNS` at a time.
    """
    by_column = sparse.csc_matrix(influence.subjects)
    if _mostly_filled(influence, by_column):
        return _dense_moments(influence, by_column)
    sums: dict[int, list[np.ndarray]] = {2: [np.zeros(0)], 3: [np.zeros(0)], 4: [np.zeros(0)]}
    for start in range(0, influence.subjects.shape[1], BLOCK_COLUMNS):
        block = slice(start, min(start + BLOCK_COLUMNS, influence.subjects.shape[1]))
        subjects = by_column[:, block]
        for c in influence.corrections:
            subjects = subjects - sparse.csc_matrix(
                c.reference.subjects @ sparse.csr_matrix(c.pick[:, block]))
        for power, column_sums in zip(sums, power_sums(subjects, *sums), strict=True):
            sums[power].append(column_sums)
    return {power: np.concatenate(parts) for power, parts in sums.items()}


def _mostly_filled(influence: Influence, by_column: sparse.csc_matrix) -> bool:
    """Whether the corrected subject sums would hold at least :data:`DENSE_SHARE` of their
    entries (estimated from the sums' entries and each correction's people x rows)."""
    n, m = by_column.shape
    filled = by_column.nnz + sum(
        c.reference.subjects.nnz * np.count_nonzero(c.pick.any(axis=0))
        for c in influence.corrections)
    return n * m > 0 and filled >= DENSE_SHARE * n * m


def _dense_moments(influence: Influence, by_column: sparse.csc_matrix) -> dict[int, np.ndarray]:
    """:func:`subject_moments` on dense blocks of at most :data:`DENSE_BLOCK` entries.

    The same numbers as the sparse blocks: each corrected entry is the same difference
    of the same products (a correction's reference rows added in their order), an
    absent entry is 0 and adds nothing, and ``bincount`` over the rows' layout sums
    every column in row order, as over the sparse entries (numpy's own column sums
    would add in another order and move the last bits)."""
    n, m = by_column.shape
    width = max(1, min(m, DENSE_BLOCK // max(n, 1)))
    references = [(c.reference.subjects.toarray(), c.pick) for c in influence.corrections]
    sums: dict[int, list[np.ndarray]] = {2: [], 3: [], 4: []}
    columns = np.tile(np.arange(width, dtype=np.intp), n)
    for start in range(0, m, width):
        block = slice(start, min(start + width, m))
        values = by_column[:, block].toarray()
        for reference, pick in references:
            shared = reference[:, :1] * pick[0, block]
            for k in range(1, pick.shape[0]):
                shared += reference[:, k:k + 1] * pick[k, block]
            values -= shared
        size = values.shape[1]
        index = columns if size == width else np.tile(np.arange(size, dtype=np.intp), n)
        squares = values * values
        sums[2].append(float_bincount(index, squares.ravel(), size))
        values *= squares
        sums[3].append(float_bincount(index, values.ravel(), size))
        squares *= squares
        sums[4].append(float_bincount(index, squares.ravel(), size))
    return {power: np.concatenate(parts) if parts else np.zeros(0) for power, parts in sums.items()}


def float_bincount(index: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """Weighted ``bincount``, float64 even with nothing to count (numpy gives int64 then)."""
    return np.bincount(index, weights=weights, minlength=size).astype(np.float64, copy=False)


def power_sums(matrix: sparse.csr_matrix, *powers: int) -> list[np.ndarray]:
    """Column sums of the entries' squares, cubes or fourth powers (2, 3, 4).

    The same sums, in the same order, as ``matrix.multiply(matrix)...sum(axis=0)``,
    without its copies of the matrix: a contrast's subject sums (people x pairs of
    groups) hold millions of entries at ten million comparisons. A matrix by column is
    summed as it is: each column's entries come in row order, as they do by row, so
    the sums are the same.
    """
    by_column = sparse.isspmatrix_csc(matrix)
    matrix = matrix if by_column else sparse.csr_matrix(matrix)
    matrix.sum_duplicates()
    squares = matrix.data * matrix.data
    power = {2: lambda: squares, 3: lambda: squares * matrix.data, 4: lambda: squares * squares}
    # bincount's index type, made once for every power
    columns = np.repeat(np.arange(matrix.shape[1], dtype=np.intp), np.diff(matrix.indptr)) if (
        by_column) else matrix.indices.astype(np.intp)
    return [float_bincount(columns, power[p](), matrix.shape[1]) for p in powers]


def small_sample_factor(clusters: np.ndarray) -> np.ndarray:
    """G / (G - 1) per row (1 when G < 2)."""
    g = np.asarray(clusters, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(g > 1, g / (g - 1), 1.0)

r"""Cluster-robust variance of error rates: by subject, or by both subjects of a pair.

Every rate here is a ratio of sums, :math:`\hat p = E / N`, over trials that
are not independent: a subject's trials share a face and a capture habit.
Its sandwich (linearisation) variance sums each cluster's *influence*
:math:`u = e - \hat p\, n` before squaring, so correlated trials count
together (Binder 1983; Cameron & Miller 2015, section VI).

* **One-way** (FNMR, FPIR, FNIR, FTA): a trial has one subject, the cluster.

  .. math:: \widehat{V}(\hat p) = \frac{G}{G-1}\,\frac{\sum_s u_s^2}{N^2}

* **Dyadic** (FMR and its cross-group matrix): a non-mated pair has *two*
  subjects, and the same people are probes in some pairs and references in
  others, so two pairs are correlated whenever they share a person, on
  either side. The dyadic-robust variance (Fafchamps & Gubert 2007; Aronow,
  Samii & Assenova 2015; Tabord-Meehan 2019) sums each subject's influence
  over every pair it is in, on either side, then removes the double count of
  pairs that share *both* people:

  .. math::
     \widehat{V}(\hat p) = \frac{G}{G-1}\,
     \frac{\sum_s \big(\sum_{d \ni s} u_d\big)^2 - \sum_{\{a,b\}} u_{ab}^2}{N^2}

  where :math:`u_{ab}` is the influence of every comparison between subjects
  *a* and *b*. A probe-only variance misses the reference side (measured in
  ``benchmarks/results_coverage.md``: 84-87% coverage where 95% is due); two-way
  clustering by probe and by reference separately (Cameron, Gelbach & Miller
  2011) misses that a person's effect acts on both sides; the pigeonhole
  bootstrap (Owen 2007) counts the pair-level noise about three times, and at
  false match rates of 1e-3 that noise is most of the variance, so its
  intervals are too wide.

The design effect :math:`d = \max(1, \widehat V / (\hat p(1-\hat p)/N))`
gives the effective sample size :math:`N / d` at which
:mod:`audit.metrics.intervals` builds Wilson intervals (Korn & Graubard 1998)
for one-way rates; dyadic rates take the variance at every candidate rate
instead (skewness-corrected t limits from :meth:`Influence.third_cumulants` and
:meth:`Influence.effective_clusters`, :mod:`audit.metrics.score_limits`).
Covariances between the rows of one block (the groups at one threshold) come
from the same sums and feed the fixed-pair contrasts of
:mod:`audit.metrics.contrasts`.

**Calibrated thresholds.** A threshold calibrated so that the overall FMR
(FPIR) is at most a target is itself an estimate: another sample would put
it elsewhere, and every rate read there would move with it. Its uncertainty
enters by linearisation (the delta method for a rate at an estimated
quantile; Serfling 1980, section 2.5): a rate :math:`r` read at the
calibrated threshold :math:`\hat t` has influence

.. math:: u_r - \frac{r'(t)}{R'(t)}\, u_R

where :math:`R` is the calibration rate (overall FMR or FPIR) and the slope
ratio :math:`r'/R'` is the change of :math:`r` over the change of :math:`R`
across a window of thresholds around :math:`\hat t` (:class:`Influence`
works on such combined influences, summed per subject and per pair of
subjects). Coverage at fixed thresholds and at a calibrated threshold
(scenario 6) is measured in ``benchmarks/bench_coverage.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from scipy import sparse

from audit.metrics import skewness
from audit.metrics.pair_influence import PairInfluence
from audit.metrics.skewness import float_bincount, power_sums, small_sample_factor


@dataclass(frozen=True)
class ClusterCounts:
    """Per-cluster counts of rate rows, the input of the sandwich variance.

    ``errors`` and ``trials`` have shape ``(n_subjects, n_rows)``: column *k*
    holds every subject's errors and trials for row *k* (for a dyadic rate, a
    pair counts for both of its subjects). ``pair_errors`` and
    ``pair_trials`` (dyadic rates only, else None) have shape
    ``(n_subject_pairs, n_rows)``: the counts of every unordered pair of
    subjects, whose codes are ``pair_keys`` (``low * n_subjects + high``).
    When ``pair_base`` is given, ``pair_trials`` has one column per *base*
    (a group) instead, and row *k* reads column ``pair_base[k]``: a pair's
    trials are the same at every threshold, so they are stored once
    (:mod:`audit.metrics.pair_influence`). ``pair_errors`` may be kept as coordinates
    (COO): few pairs have an error, and a compressed matrix would hold a row pointer for
    every pair. When ``gather`` is given, the matrices' columns are *stored* columns and
    row *k* is stored column ``gather[k]``: a cross-group matrix's cells (A, B) and
    (B, A) hold the same trials (:mod:`audit.metrics.cross_groups`), counted and turned
    into influence once.
    """

    errors: sparse.csr_matrix
    trials: sparse.csr_matrix
    pair_errors: sparse.spmatrix | None = None
    pair_trials: sparse.csr_matrix | None = None
    pair_keys: np.ndarray | None = None
    pair_base: np.ndarray | None = None
    gather: np.ndarray | None = None

    @property
    def dyadic(self) -> bool:
        return self.pair_errors is not None

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        """Errors and trials of each row (a dyadic pair counted once, not per subject)."""
        if not self.dyadic:
            errors, trials = _column_sums(self.errors), _column_sums(self.trials)
        else:
            trials = _column_sums(self.pair_trials)
            errors = _column_sums(self.pair_errors)
            trials = trials if self.pair_base is None else trials[self.pair_base]
        return (errors, trials) if self.gather is None else (errors[self.gather],
                                                             trials[self.gather])


@dataclass(frozen=True)
class Correction:
    """A calibrated threshold's share of the influence: ``- reference @ pick``.

    ``reference`` holds the calibration rate's influence at the source points
    only; ``pick`` (sources x rows) gives each row its slope on its source.
    """

    reference: Influence
    pick: np.ndarray


@dataclass(frozen=True)
class Influence:
    """Each cluster's influence on a set of estimates, summed per subject and per pair.

    ``subjects`` (n_subjects x n_rows) and, for dyadic estimates, ``pairs``
    (a :class:`~audit.metrics.pair_influence.PairInfluence`, pairs x rows) hold
    influences already divided by each row's number of trials, so that the
    variance of row *k* is
    ``G/(G-1) * (sum subjects[:, k]**2 - sum pairs[:, k]**2)`` with ``G`` =
    ``clusters[k]``, the number of subjects with a trial in the row.

    ``corrections`` (from :meth:`minus`) subtract slopes times another
    estimate's influence. They are kept apart, not added into the matrices:
    the other estimate (overall FMR) touches every pair of subjects, so the
    sum would be as large as the number of pairs times the number of rows
    (billions of entries at 10 million comparisons), while the variance only
    needs a few cross-products: :math:`\\sum (u_k - s u_R)^2 = \\sum u_k^2 -
    2 s \\sum u_k u_R + s^2 \\sum u_R^2`.
    """

    subjects: sparse.csr_matrix
    pairs: PairInfluence | None
    clusters: np.ndarray
    corrections: tuple[Correction, ...] = ()

    def variance(self) -> np.ndarray:
        """Cluster-robust variance of every row (dyadic ones may come out negative)."""
        (subject_squares,) = power_sums(self.subjects, 2)
        squares = subject_squares
        if self.pairs is not None:
            squares = squares - self.pairs.diagonal(self.pairs)
        corrected = self._corrected_rows()
        if corrected.size:
            squares[corrected] = self.columns(corrected)._products(
                own_squares=subject_squares[corrected])
        return small_sample_factor(self.clusters) * squares

    def products(self) -> np.ndarray:
        """Sums of influence products between the rows (rows x rows), corrections included."""
        return self._products()

    def _products(self, *, own_squares: np.ndarray | None = None) -> np.ndarray:
        """:meth:`products`, or only its diagonal when ``own_squares`` (the subject sums'
        column sums of squares, :func:`~audit.metrics.skewness.power_sums`) is given: the
        same numbers without the rows x rows product of the subject sums (a contrast
        table's 90 x 90 over every person), whose diagonal is those sums, added in the
        same order. The corrections' terms are small (a few reference rows) and taken
        whole."""
        diagonal = own_squares is not None
        plain = self._plain()
        out = _cross(plain, plain) if not diagonal else _own_diagonal(plain, own_squares)
        for c in self.corrections:
            shared = _cross(plain, c.reference) @ c.pick
            out -= np.diag(shared + shared.T) if diagonal else shared + shared.T
        for c in self.corrections:
            for d in self.corrections:
                term = c.pick.T @ _cross(c.reference, d.reference) @ d.pick
                out += np.diag(term) if diagonal else term
        return out

    def correlation(self) -> np.ndarray:
        """Correlation between the rows (rows x rows); 0 where a variance is not positive."""
        products = self.products()
        scale = np.sqrt(np.clip(np.diag(products), 0.0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = products / np.outer(scale, scale)
        rho = np.nan_to_num(rho, nan=0.0, posinf=0.0, neginf=0.0)
        np.fill_diagonal(rho, 1.0)
        return rho

    def effective_clusters(self) -> np.ndarray:
        """Effective number of clusters of every row
        (:func:`audit.metrics.skewness.effective_clusters`)."""
        return skewness.effective_clusters(self)

    def third_cumulants(self) -> np.ndarray:
        """Third cumulant of every row's estimate
        (:func:`audit.metrics.skewness.third_cumulants`)."""
        return skewness.third_cumulants(self)

    @cached_property
    def subject_moments(self) -> dict[int, np.ndarray]:
        """Column sums of the corrected subject sums' squares, cubes and fourth powers,
        kept once computed (:func:`audit.metrics.skewness.subject_moments`)."""
        return skewness.subject_moments(self)

    def columns(self, index: np.ndarray) -> Influence:
        def pick(pairs: PairInfluence | None) -> PairInfluence | None:
            return None if pairs is None else pairs.columns(index)

        corrections = tuple(Correction(c.reference, c.pick[:, index]) for c in self.corrections)
        return Influence(self.subjects[:, index], pick(self.pairs), self.clusters[index],
                         corrections)

    def combine(self, weights: np.ndarray) -> Influence:
        """Influence of the linear combinations ``rows @ weights`` (rows x combinations).

        Influence is linear in the estimates, corrections included, so a
        contrast's variance, third cumulant and effective clusters are those
        of the combined sums. A combination counts the clusters of its
        largest row (its small-sample factor G / (G - 1)). The pair part
        stays as the rows' counts with the weights beside them
        (:meth:`PairInfluence.combine`).
        """
        dense = np.asarray(weights, dtype=np.float64)
        clusters = np.max(np.where(dense != 0, self.clusters[:, None], 0.0), axis=0)
        corrections = tuple(Correction(c.reference, c.pick @ dense) for c in self.corrections)
        return Influence(sparse.csr_matrix(self.subjects @ sparse.csr_matrix(dense)),
                         None if self.pairs is None else self.pairs.combine(dense),
                         clusters, corrections=corrections)

    def minus(self, other: Influence, source: np.ndarray, slopes: np.ndarray) -> Influence:
        """Influence of ``self[:, k] - slopes[k] * other[:, source[k]]`` for every row *k*.

        ``other`` has no corrections of its own; the pair rows of both are
        matched on their subject-pair keys when the products are taken.
        """
        slopes = np.asarray(slopes, dtype=np.float64)
        used, row = np.unique(np.asarray(source)[slopes != 0], return_inverse=True)
        pick = np.zeros((used.size, slopes.size))
        pick[row, np.flatnonzero(slopes != 0)] = slopes[slopes != 0]
        correction = Correction(other._plain().columns(used), pick)
        return Influence(self.subjects, self.pairs, self.clusters,
                         self.corrections + (correction,))

    def _plain(self) -> Influence:
        """The influence without its corrections."""
        return Influence(self.subjects, self.pairs, self.clusters)

    def calibrated(self) -> np.ndarray:
        """Whether each row carries a calibrated threshold's correction (boolean, one per row)."""
        out = np.zeros(self.clusters.size, dtype=bool)
        out[self._corrected_rows()] = True
        return out

    def _corrected_rows(self) -> np.ndarray:
        if not self.corrections:
            return np.array([], dtype=np.int64)
        return np.flatnonzero(np.any([c.pick.any(axis=0) for c in self.corrections], axis=0))


def _cross(a: Influence, b: Influence) -> np.ndarray:
    """Subject products minus pair products of two uncorrected influences (a rows x b rows)."""
    out = (a.subjects.T @ b.subjects).toarray()
    if a.pairs is not None and b.pairs is not None:
        out -= a.pairs.cross(b.pairs)
    return out


def _own_diagonal(plain: Influence, squares: np.ndarray) -> np.ndarray:
    """The diagonal of ``_cross(plain, plain)``, ``squares`` being its subjects' part."""
    out = squares
    if plain.pairs is not None:
        out = out - np.diag(plain.pairs.cross(plain.pairs))
    return out


def _column_sums(matrix: sparse.spmatrix) -> np.ndarray:
    """``matrix.sum(axis=0)`` as float64, the entries added in the same order; a compressed
    or coordinate matrix without scipy's vector of ones (as long as its rows) or float copy."""
    if sparse.isspmatrix_csr(matrix) or sparse.isspmatrix_coo(matrix):
        columns = matrix.indices if sparse.isspmatrix_csr(matrix) else matrix.col
        # Counts of one (a pair table's trials, mostly): the same sums, unweighted.
        ones = matrix.data.dtype.kind in "iu" and bool(np.all(matrix.data == 1))
        return float_bincount(columns, None if ones else matrix.data, matrix.shape[1])
    return np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel()


def influence(counts: ClusterCounts) -> tuple[np.ndarray, Influence]:
    """Rates of the rows and each cluster's influence on them: ``(e - p n) / N``.

    Rows without trials have rate NaN and zero influence. Counts with ``gather`` are
    turned into influence once per stored column, then their columns gathered: each
    gathered column the same numbers as its own.
    """
    if counts.gather is not None:
        rates, stored = influence(replace(counts, gather=None))
        return rates[counts.gather], stored.columns(counts.gather)
    total_e, total_n = counts.totals()
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(total_n > 0, total_e / total_n, np.nan)
        inverse = np.where(total_n > 0, 1.0 / total_n, 0.0)
    p = np.nan_to_num(rates, nan=0.0)

    clusters = _positive_columns(counts.trials)
    pairs = None
    if counts.dyadic:
        base = counts.pair_base if counts.pair_base is not None else np.arange(rates.size)
        pairs = PairInfluence.from_counts(counts.pair_keys, counts.pair_errors,
                                          counts.pair_trials, base, p, inverse)
    return rates, Influence(_scaled(counts.errors, counts.trials, p, inverse), pairs, clusters)


def _scaled(errors: sparse.csr_matrix, trials: sparse.csr_matrix, rates: np.ndarray,
            inverse: np.ndarray) -> sparse.csr_matrix:
    """``(errors - trials * rates) * inverse`` by column, in canonical form (zeros dropped).

    Each entry is the same product and difference as through scipy's products with
    diagonal matrices, without their passes (a product of two sparse matrices, twice,
    for a cross-group matrix's millions of subject entries) or their unsorted rows."""
    expected = sparse.csr_matrix(trials, dtype=np.float64, copy=True)
    expected.data *= rates[expected.indices]
    out = sparse.csr_matrix(errors, dtype=np.float64) - expected
    out.data *= inverse[out.indices]
    out.eliminate_zeros()
    out.sort_indices()
    return out


def _positive_columns(matrix: sparse.csr_matrix) -> np.ndarray:
    """Rows with a positive entry in each column (float64): ``(matrix > 0).sum(axis=0)``
    of a canonical matrix, counted from its entries."""
    if not (sparse.isspmatrix_csr(matrix) and matrix.has_canonical_format):
        return np.asarray((matrix > 0).sum(axis=0), dtype=np.float64).ravel()
    return float_bincount(matrix.indices[matrix.data > 0], None, matrix.shape[1])


def rate_variance(counts: ClusterCounts) -> tuple[np.ndarray, np.ndarray]:
    """Rates and their cluster-robust variances, one per row.

    Returns
    -------
    rates, variances : ndarray of shape (n_rows,)
        NaN where a row has no trial. A dyadic variance can come out negative
        in small samples; it is returned as is and floored by
        :func:`design_effects`.

    Examples
    --------
    Two subjects with (1 error of 2 trials) and (0 of 2): p = 1/4, influences
    1/2 and -1/2, so V = 2/1 * (1/4 + 1/4) / 16 = 1/16.

    >>> e = sparse.csr_matrix([[1.0], [0.0]]); n = sparse.csr_matrix([[2.0], [2.0]])
    >>> p, v = rate_variance(ClusterCounts(e, n))
    >>> float(p[0]), float(v[0])
    (0.25, 0.0625)
    """
    rates, spread = influence(counts)
    return rates, np.where(np.isnan(rates), np.nan, spread.variance())


def correlation(counts: ClusterCounts) -> np.ndarray:
    """Cluster-robust correlation between the rates of the rows (rows x rows).

    Groups whose trials share no subject are uncorrelated (0); FMR groups
    share reference subjects, condition bands share subjects with images in
    several bands. NaN-free: 0 where a variance is not positive.
    """
    return influence(counts)[1].correlation()


def design_effects(rates: np.ndarray, variances: np.ndarray, trials: np.ndarray) -> np.ndarray:
    r"""Design effect of each rate, floored at 1.

    .. math:: d = \max\left(1, \frac{\widehat V}{\hat p (1 - \hat p) / N}\right)

    1 where it cannot be estimated (no trial, rate 0 or 1, variance not
    positive): the rate is then treated as if its trials were independent.

    Examples
    --------
    >>> design_effects(np.array([0.25, 0.0]), np.array([0.0625, 0.0]), np.array([4, 10])).tolist()
    [1.3333333333333333, 1.0]
    """
    p = np.asarray(rates, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.asarray(variances, dtype=np.float64) / (p * (1 - p) / n)
    return np.where(np.isfinite(ratio), np.maximum(ratio, 1.0), 1.0)

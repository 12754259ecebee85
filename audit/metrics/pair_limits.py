"""Limits of a fixed pair's difference and ratio at any level: MOVER, or Hall's t on the pair.

:func:`audit.metrics.contrasts.contrasts` asks these for every pair of a
block at many levels at once (nested families, :mod:`audit.metrics.inversion`).
Two constructions (see :mod:`audit.metrics.contrasts` for why each):

* MOVER from the two groups' own limits and their correlation
  (:func:`difference_limits`, :func:`ratio_limits`; a ratio whose lower group
  had no error gets MOVER-R's bound, :mod:`audit.metrics.sparse_pairs`);
* for dyadic pairs with at least :data:`MIN_HALL_ERRORS` errors in each group
  (:func:`skewed_pairs`), Hall's skewness-corrected t on the pair's own
  combined influence (:class:`PairSpread`), with no skewness term at a
  calibrated threshold.

:class:`PairLimits` chooses between them pair by pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from audit.metrics import sparse_pairs
from audit.metrics.score_limits import RateVariance, hall_limits, t_quantile
from audit.metrics.variance import Influence

#: Fewest errors each group of a dyadic pair needs for Hall's t on the pair's influence
#: (fewer: MOVER from the groups' limits; see :mod:`audit.metrics.contrasts`).
MIN_HALL_ERRORS = 5


def _both_sides(va: RateVariance, vb: RateVariance, z: object) -> tuple[np.ndarray, ...]:
    """Both groups' rates and limits at ``z``: ``pa, pb, la, ua, lb, ub``, the lower group's
    upper limit that of a zero-error side when it saw no error
    (:func:`audit.metrics.sparse_pairs.zero_side_upper`)."""
    la, ua = va.limits(z)
    lb, ub = vb.limits(z)
    return va.rate, vb.rate, la, ua, lb, sparse_pairs.zero_side_upper(va, vb, la, ub, z)


def difference_limits(
    va: RateVariance, vb: RateVariance, rho: np.ndarray, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """MOVER limits of ``pa - pb`` (Newcombe's method 10 with correlation)."""
    pa, pb, la, ua, lb, ub = _both_sides(va, vb, z)
    d = pa - pb
    below = (pa - la) ** 2 + (ub - pb) ** 2 - 2 * rho * (pa - la) * (ub - pb)
    above = (ua - pa) ** 2 + (pb - lb) ** 2 - 2 * rho * (ua - pa) * (pb - lb)
    return d - np.sqrt(np.clip(below, 0, None)), d + np.sqrt(np.clip(above, 0, None))


def ratio_limits(
    va: RateVariance, vb: RateVariance, rho: np.ndarray, z: object
) -> tuple[np.ndarray, np.ndarray]:
    """Limits of ``pa / pb`` (``pa >= pb``): log-scale MOVER, or MOVER-R's bound when ``pb`` is 0."""
    pa, pb, la, ua, lb, ub = _both_sides(va, vb, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_a, log_b = np.log(pa), np.log(pb)
        down_a, up_a = log_a - np.log(la), np.log(ua) - log_a
        down_b, up_b = log_b - np.log(lb), np.log(ub) - log_b
        below = down_a**2 + up_b**2 - 2 * rho * down_a * up_b
        above = up_a**2 + down_b**2 - 2 * rho * up_a * down_b
        centre = log_a - log_b
        low = np.exp(centre - np.sqrt(np.clip(below, 0, None)))
        high = np.exp(centre + np.sqrt(np.clip(above, 0, None)))
        bound = sparse_pairs.zero_ratio_lower(pa, la, ub)
    both = (pa > 0) & (pb > 0)
    only_a = (pa > 0) & (pb == 0)
    low = np.where(both, low, np.where(only_a, bound, np.nan))
    high = np.where(both, high, np.where(only_a, np.inf, np.nan))
    return low, high


@dataclass(frozen=True)
class PairSpread:
    """Variance, skewness and degrees of freedom of each dyadic pair's difference and log ratio.

    From the two groups' combined influence (``Influence.combine``): the
    difference ``p_a - p_b`` has influence ``u_a - u_b``, the log ratio
    ``u_a / p_a - u_b / p_b`` (delta method). Columns: the pairs' differences,
    then their log ratios.

    A pair read at a calibrated threshold gets no skewness term, as its groups'
    own rows do (:func:`audit.metrics.score_limits.skew_corrected`): the third
    cumulant leaves out the calibration correction's share of the pair cubes,
    while the variance takes the correction in, so their ratio can be far off
    (a user's FMR difference of 1.54 points, 21 of 1,089 against 7 of 1,804,
    read "-1.04 to 2.03" beside a ratio interval of 1.31 to 10.4; the symmetric t
    gives 0.81 to 2.27, a subject bootstrap at the same threshold 0.73 to 2.41).
    """

    variance: np.ndarray
    skewness: np.ndarray
    df: np.ndarray
    #: Per pair (not per column): read at a calibrated threshold, so no skewness term.
    calibrated: np.ndarray

    @classmethod
    def of(cls, rates: np.ndarray, influence: Influence | None, a: np.ndarray, b: np.ndarray
           ) -> PairSpread | None:
        """The spread of pairs ``a[k]`` over ``b[k]`` of groups with ``rates`` and
        ``influence`` (None: one-way groups, no pair influence)."""
        if influence is None:
            return None
        p, k = rates, np.arange(a.size)
        weights = np.zeros((p.size, 2 * a.size))
        weights[a, k], weights[b, k] = 1.0, -1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            weights[a, a.size + k] = np.where(p[b] > 0, 1.0 / p[a], 0.0)
            weights[b, a.size + k] = np.where(p[b] > 0, -1.0 / p[b], 0.0)
            combined = influence.combine(weights)
            variance = combined.variance()
            skewness = combined.third_cumulants() / variance**1.5
        calibrated = influence.calibrated()
        calibrated = calibrated[a] | calibrated[b]
        return cls(variance, np.where(np.tile(calibrated, 2), 0.0, skewness),
                   combined.effective_clusters() - 1.0, calibrated)


def skewed_pairs(errors_a: np.ndarray, errors_b: np.ndarray, spread: PairSpread | None
            ) -> np.ndarray:
    """Pairs tested with Hall's t (:class:`PairLimits`): dyadic, with at least
    :data:`MIN_HALL_ERRORS` errors in each group and positive variances of both the
    difference and the log ratio."""
    if spread is None:
        return np.zeros(np.shape(errors_a), dtype=bool)
    n = np.size(errors_a)
    usable = (errors_a >= MIN_HALL_ERRORS) & (errors_b >= MIN_HALL_ERRORS)
    return usable & (spread.variance[:n] > 0) & (spread.variance[n:] > 0)


@dataclass(frozen=True)
class PairLimits:
    """Each pair's ratio and difference limits at any z.

    Dyadic pairs with at least :data:`MIN_HALL_ERRORS` errors in each group
    and a positive variance: Hall's
    skewness-corrected t (:func:`audit.metrics.score_limits.hall_limits`) on
    the pair's own influence, so that the people the two groups share enter
    once (measured: the MOVER combination of the groups' skewed limits was
    conservative when the rates are equal, testing at 2% instead of 5%).
    Otherwise MOVER from the two groups' limits and their correlation (with
    fewer errors the pair's influence rests on the few people who made them).
    """

    va: RateVariance
    vb: RateVariance
    rho: np.ndarray
    spread: PairSpread | None
    #: Which pairs take Hall's t (:func:`skewed_pairs`), found once for every level asked.
    skewed: np.ndarray

    def repeated(self, times: int) -> PairLimits:
        """The same pairs ``times`` over, one after another (limits at many levels in one call)."""
        n = self.va.rate.size
        index = np.tile(np.arange(n), times)
        s = self.spread
        spread = None if s is None else PairSpread(
            *(np.r_[column[:n][index], column[n:][index]]
              for column in (s.variance, s.skewness, s.df)), s.calibrated[index])
        return PairLimits(self.va.take(index), self.vb.take(index), self.rho[index], spread,
                           self.skewed[index])

    def stacked(self, limits) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``limits`` (ratio or difference) at levels of shape (L, pairs), in one call
        (:data:`audit.metrics.inversion.StackedLimits`)."""
        def at(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            low, high = limits(self.repeated(levels.shape[0]), levels.reshape(-1))
            return low.reshape(levels.shape), high.reshape(levels.shape)

        return at

    def _hall(self, estimate: np.ndarray, columns: slice, z: object) -> tuple:
        s = self.spread
        t = t_quantile(np.broadcast_to(z, estimate.shape), s.df[columns])
        return hall_limits(estimate, s.variance[columns], s.skewness[columns], t)

    def difference(self, z: object) -> tuple[np.ndarray, np.ndarray]:
        low, high = difference_limits(self.va, self.vb, self.rho, z)
        if not self.skewed.any():
            return low, high
        n = self.va.rate.size
        hall_low, hall_high = self._hall(self.va.rate - self.vb.rate, slice(0, n), z)
        return np.where(self.skewed, hall_low, low), np.where(self.skewed, hall_high, high)

    def ratio(self, z: object) -> tuple[np.ndarray, np.ndarray]:
        low, high = ratio_limits(self.va, self.vb, self.rho, z)
        if not self.skewed.any():
            return low, high
        n = self.va.rate.size
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            centre = np.log(self.va.rate / self.vb.rate)
            log_low, log_high = self._hall(centre, slice(n, 2 * n), z)
            return (np.where(self.skewed, np.exp(log_low), low),
                    np.where(self.skewed, np.exp(log_high), high))

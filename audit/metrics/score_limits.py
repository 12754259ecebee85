r"""Limits of a clustered rate from its variance at every candidate rate.

A Wilson interval is the set of rates :math:`x` that a score test would not
reject: :math:`(\hat p - x)^2 \le z^2\, v(x)`, with the variance :math:`v`
taken *at the candidate* :math:`x`, not at the estimate. Every rate interval
and every fixed-pair contrast of the metrics stage is built from such limits,
with

.. math::
   v(x) = \frac{x(1-x)}{N} + k\,e - 2 b\,\delta + c\,\delta^2,
   \qquad \delta = x - \hat p,

the binomial variance at :math:`x` plus the part that clustering adds
(``excess`` :math:`e` at the estimate, and how it moves with :math:`x`).
The inequality is quadratic in :math:`x`, so the limits are closed-form and
vectorised over rows.

* **One-way rates** (FNMR, FPIR, FNIR, FTA) use the Wilson interval at the
  effective sample size :math:`N / d` (Korn & Graubard 1998):
  :math:`v(x) = d\, x(1-x)/N`, which is the form above with
  :math:`e = (d-1)\hat p(1-\hat p)/N`, :math:`b = -(d-1)(1-2\hat p)/2N`,
  :math:`c = -(d-1)/N` and :math:`k = 1` (:func:`from_design_effects`).
* **Dyadic rates** (FMR and its cross-group matrix) use the robust score
  interval (:func:`robust_score`): the dyadic-robust variance of
  :mod:`audit.metrics.variance` with every influence taken at :math:`x`
  (``u - \delta w``, :meth:`audit.metrics.variance.Influence.score_terms`),
  less the comparisons' own part :math:`(\hat p(1-\hat p) + \delta^2)/N`:
  ``excess`` is what the people add beyond independent comparisons at the
  estimate. Its multiplier :math:`k = (t_{\nu} / z)^2` treats that estimated
  excess as known to :math:`\nu` degrees of freedom, :math:`\nu` = effective
  number of people minus 1
  (:meth:`audit.metrics.variance.Influence.effective_clusters`; Korn &
  Graubard 1998, Carter, Schnepel & Steigerwald 2017). The terms in
  :math:`\delta` (how the variance moves away from the estimate) are not
  multiplied: with few effective people that would make the interval
  unbounded (measured: 100% upper limits, ``benchmarks/coverage_candidates.py``).

Why the dyadic rates need both: at false match rates near 1% with person
effects on both sides of a pair, the estimated design effect is noisy and
smallest exactly when the estimate is small (few error-prone people in the
sample), so Wilson at :math:`N/\hat d` left the truth above the interval too
often (89-93% coverage where 95% is due). Taking the variance at the
candidate rate widens the upper side where the estimate is low, and the
degrees of freedom account for the noise of the excess; measured on the same
seeds in ``benchmarks/results_coverage.md``. With one or two people
carrying all errors the score limits can reach 0; the lower limit is then
that of the Wilson interval at the effective size, so that an observed error
never gives a lower limit of 0.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy import stats

from audit.choices import INTERVALS
from audit.metrics.intervals import (
    clustered_wilson_interval,
    wilson_limits,
    z_value,
    zero_error_upper_bound,
)
from audit.metrics.variance import Influence

#: The rate intervals (:data:`audit.choices.INTERVALS`): at the cluster-robust
#: effective size, or assuming independent trials.
CLUSTERED, WILSON = INTERVALS
#: ``ci_method`` of a rate with no error (or only errors).
ONE_SIDED = "one-sided-bound"
BAD_INTERVAL = "interval must be 'wilson-clustered' or 'wilson', got {interval!r}"


@dataclass(frozen=True)
class RateVariance:
    """What the limits of a set of rates need, one entry per rate (see the module)."""

    rate: np.ndarray
    trials: np.ndarray
    excess: np.ndarray
    slope: np.ndarray
    curvature: np.ndarray
    #: Degrees of freedom of the excess; inf where it is treated as known.
    df: np.ndarray
    #: The design effect of each rate: the Wilson fallback of a lower limit at 0.
    design_effect: np.ndarray

    def take(self, index: object) -> RateVariance:
        """The entries at ``index`` (an integer array)."""
        return RateVariance(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def limits(self, z: object) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper limits at normal quantile ``z`` (broadcast over the rates).

        NaN where there is no trial; ends exact at 0 and 1 as
        :func:`audit.metrics.intervals.wilson_limits`.
        """
        p, n = self.rate, self.trials
        z = np.broadcast_to(np.asarray(z, dtype=np.float64), np.shape(p))
        finite = np.isfinite(self.df)
        # t quantile at the same tail probability as z (isf: exact far in the tail).
        t = np.where(finite, stats.t.isf(stats.norm.sf(z), np.where(finite, np.maximum(
            self.df, 1.0), 1.0)), z)
        k = (t / z) ** 2
        z2 = z**2
        with np.errstate(invalid="ignore", divide="ignore"):
            a = 1 + z2 / n - z2 * self.curvature
            b = -z2 * ((1 - 2 * p) / n - 2 * self.slope)
            c = -z2 * (p * (1 - p) / n + k * self.excess)
            root = np.sqrt(np.clip(b**2 - 4 * a * c, 0.0, None))
            # a > 0: the interval between the roots; a <= 0 (one person holds most trials, the
            # variance grows faster than the squared distance): unbounded, clipped to [0, 1].
            lower = np.where(a > 0, (-b - root) / (2 * a), -np.inf)
            upper = np.where(a > 0, (-b + root) / (2 * a), np.inf)
        low = np.clip(p + lower, 0.0, 1.0)
        high = np.clip(p + upper, 0.0, 1.0)
        fallback, _ = wilson_limits(p, n / self.design_effect, z)
        low = np.where((low <= 0) & (p > 0), fallback, low)
        low = np.where(n > 0, np.where(p == 0, 0.0, low), np.nan)
        high = np.where(n > 0, np.where(p == 1, 1.0, high), np.nan)
        return low, high


def from_design_effects(rates: object, trials: object, design_effects: object) -> RateVariance:
    """Wilson at the effective size ``trials / design_effects``, in the form above.

    Examples
    --------
    >>> low, high = from_design_effects([0.1], [100.0], [4.0]).limits(1.959963984540054)
    >>> round(float(low[0]), 3), round(float(high[0]), 3)  # clustered_wilson_interval(10, 100, 4)
    (0.032, 0.275)
    """
    p = np.asarray(rates, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    extra = np.asarray(design_effects, dtype=np.float64) - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return RateVariance(
            rate=p, trials=n, excess=extra * p * (1 - p) / n, slope=-extra * (1 - 2 * p) / (2 * n),
            curvature=-extra / n, df=np.full(p.shape, np.inf), design_effect=extra + 1.0,
        )


def robust_score(
    rates: np.ndarray, trials: np.ndarray, influence: Influence, design_effects: np.ndarray
) -> RateVariance:
    """The dyadic rows' robust score form: excess over binomial at every candidate rate.

    ``influence`` is the rows' :class:`audit.metrics.variance.Influence`
    (with shares). The comparisons' own part of that variance,
    ``(p(1-p) + d**2) / N`` at ``p + d``, is removed (the model's
    ``x(1-x)/N`` takes its place in :meth:`RateVariance.limits`); an excess
    not above 0 (no clustering seen) is taken as 0: Wilson at ``N``.
    """
    p = np.asarray(rates, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    a, b, c = influence.score_terms()
    with np.errstate(invalid="ignore", divide="ignore"):
        # Sum over comparisons of (e - x)^2 / N^2 at x = p + d: (p(1-p) + d^2) / N.
        excess = a - p * (1 - p) / n
        curvature = c - 1.0 / n
    none = ~(excess > 0)
    return RateVariance(
        rate=p, trials=n,
        excess=np.where(none, 0.0, excess),
        slope=np.where(none, 0.0, b),
        curvature=np.where(none, 0.0, curvature),
        df=np.where(none, np.inf, influence.effective_clusters() - 1.0),
        design_effect=np.asarray(design_effects, dtype=np.float64),
    )


def set_intervals(
    rows: pd.DataFrame,
    variance: RateVariance,
    *,
    interval: str,
    confidence: float,
) -> pd.DataFrame:
    """Fill ``ci_low``, ``ci_high`` and ``ci_method`` of rate rows.

    * no trial: NaN interval, no method;
    * no error (or only errors): the exact one-sided bound of
      :func:`audit.metrics.intervals.zero_error_upper_bound` at the same
      confidence over ``n_trials`` (``"one-sided-bound"``): with no error
      there is no variance to estimate a design effect from;
    * otherwise the limits of ``variance``
      (:class:`audit.metrics.score_limits.RateVariance`: Wilson at the
      effective sample size, robust score limits for dyadic rates;
      ``"wilson-clustered"``), or Wilson at ``n_trials`` (``"wilson"``,
      independent trials).
    """
    if interval not in INTERVALS:
        raise ValueError(BAD_INTERVAL.format(interval=interval))
    out = rows.copy()
    e = out["n_errors"].to_numpy(np.float64)
    n = out["n_trials"].to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if interval == CLUSTERED:
            low, high = variance.limits(z_value(confidence))
        else:
            low, high = clustered_wilson_interval(e, n, np.ones_like(n), confidence=confidence)
    method = np.where(n > 0, interval, None).astype(object)
    bound = zero_error_upper_bound(n, confidence=confidence)
    none, every = (n > 0) & (e == 0), (n > 0) & (e == n)
    low = np.where(none, 0.0, np.where(every, 1.0 - bound, low))
    high = np.where(none, bound, np.where(every, 1.0, high))
    method[none | every] = ONE_SIDED
    out["ci_low"], out["ci_high"], out["ci_method"] = low, high, method
    return out

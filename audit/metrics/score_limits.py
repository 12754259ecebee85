r"""Limits of a clustered rate: Wilson at the effective size, or Hall's skewness-corrected t.

Every rate interval and every fixed-pair contrast of the metrics stage is
built from the limits of :class:`RateVariance`, in one of two forms.

A Wilson interval is the set of rates :math:`x` that a score test would not
reject: :math:`(\hat p - x)^2 \le z^2\, v(x)`, with the variance :math:`v`
taken *at the candidate* :math:`x`, not at the estimate:

.. math::
   v(x) = \frac{x(1-x)}{N} + e - 2 b\,\delta + c\,\delta^2,
   \qquad \delta = x - \hat p,

the binomial variance at :math:`x` plus the part that clustering adds
(``excess`` :math:`e` at the estimate, and how it moves with :math:`x`).
The inequality is quadratic in :math:`x`, so the limits are closed-form and
vectorised over rows.

* **One-way rates** (FNMR, FPIR, FNIR, FTA) use the Wilson interval at the
  effective sample size :math:`N / d` (Korn & Graubard 1998):
  :math:`v(x) = d\, x(1-x)/N`, which is the form above with
  :math:`e = (d-1)\hat p(1-\hat p)/N`, :math:`b = -(d-1)(1-2\hat p)/2N`,
  :math:`c = -(d-1)/N` (:func:`from_design_effects`), and with the t
  quantile on :math:`G - 1` degrees of freedom in place of :math:`z`
  (:math:`G` the number of people with a trial in the rate): Korn &
  Graubard's degrees-of-freedom adjustment, the effective size times
  :math:`(z / t_{G-1})^2` (as R's ``survey::svyciprop`` with ``degf``, the
  number of clusters minus one). The design effect is estimated from
  :math:`G` people's contributions, so it is itself uncertain; the normal
  quantile treated it as known (measured: the ratio of two 60-person groups'
  miss rates covered 92.5%, ``benchmarks/results_coverage.md``).
* **Dyadic rates** (FMR and its cross-group matrix) use a skewness-corrected
  t interval (:func:`skew_corrected`; Hall 1992): with :math:`v` the
  dyadic-robust variance at the estimate (not below the binomial one),
  :math:`a = \hat\gamma / 3` and the skewness :math:`\hat\gamma =
  \hat\kappa_3 / v^{3/2}` of the same influence sums
  (:meth:`audit.metrics.variance.Influence.third_cumulants`), the limits are
  :math:`\hat p - \sqrt{v}\, g^{-1}(\pm t_\nu)` with Hall's monotone
  transformation :math:`g(T) = T + aT^2 + a^2T^3/3 + a/2`, whose inverse is
  :math:`g^{-1}(x) = ((1 + 3a(x - a/2))^{1/3} - 1)/a`, and :math:`t_\nu` the t
  quantile at the same tail probability, :math:`\nu` = effective number of
  people minus 1 (:meth:`audit.metrics.variance.Influence.effective_clusters`;
  Carter, Schnepel & Steigerwald 2017).

Why the dyadic rates need both: at false match rates near 1% with person
effects on both sides of a pair, a few error-prone people carry most errors.
An audit that drew few of them has a low estimate *and* a low estimated
variance, so the studentized rate is skewed to the left and a symmetric (or
score) interval leaves the truth above it too often (89-92% coverage of the
lower-FMR group where 95% is due). Hall's transformation removes the
skewness term of the studentized statistic's Edgeworth expansion; the t
quantile accounts for the variance resting on few effective people.
Measured on the same seeds in ``benchmarks/results_coverage.md``. When the
lower limit reaches 0 with errors observed, it is that of the Wilson
interval at the effective size, so that an observed error never gives a
lower limit of 0; when the dyadic variance is not above the binomial one the
interval is Wilson at :math:`N`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy import special

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
#: Relative size below which a calibrated row's variance is rounding error (its sums cancel).
ROUNDING = float(np.sqrt(np.finfo(np.float64).eps))
BAD_INTERVAL = "interval must be 'wilson-clustered' or 'wilson', got {interval!r}"


@dataclass(frozen=True)
class RateVariance:
    """What the limits of a set of rates need, one entry per rate (see the module)."""

    rate: np.ndarray
    trials: np.ndarray
    excess: np.ndarray
    slope: np.ndarray
    curvature: np.ndarray
    #: Degrees of freedom of the t quantile (Hall's t; Korn & Graubard's for one-way rates);
    #: inf where the variance is taken as known.
    df: np.ndarray
    #: The design effect of each rate: the Wilson fallback of a lower limit at 0.
    design_effect: np.ndarray
    #: Skewness of each rate's estimate (Hall's interval); NaN: the quadratic (score) form.
    skewness: np.ndarray | None = None

    def take(self, index: object) -> RateVariance:
        """The entries at ``index`` (an integer array)."""
        return RateVariance(**{f.name: None if getattr(self, f.name) is None
                               else getattr(self, f.name)[index] for f in fields(self)})

    def skew(self) -> np.ndarray:
        return np.full(np.shape(self.rate), np.nan) if self.skewness is None else self.skewness

    def limits(self, z: object) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper limits at normal quantile ``z`` (broadcast over the rates).

        NaN where there is no trial; ends exact at 0 and 1 as
        :func:`audit.metrics.intervals.wilson_limits`.
        """
        p, n = self.rate, self.trials
        z = np.broadcast_to(np.asarray(z, dtype=np.float64), np.shape(p))
        t = t_quantile(z, self.df)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            z2 = t**2  # Wilson form: Korn & Graubard's t, z itself where df is infinite
            skewed_low, skewed_high = hall_limits(p, p * (1 - p) / n + self.excess, self.skew(), t)
            a = 1 + z2 / n - z2 * self.curvature
            b = -z2 * ((1 - 2 * p) / n - 2 * self.slope)
            c = -z2 * (p * (1 - p) / n + self.excess)
            root = np.sqrt(np.clip(b**2 - 4 * a * c, 0.0, None))
            # a > 0 in the Wilson form (curvature -(d-1)/N or 0): between the roots.
            lower, upper = (-b - root) / (2 * a), (-b + root) / (2 * a)
        # A t quantile beyond float range (a p-value search far in the tail): all of [0, 1].
        lower, upper = np.where(np.isinf(t), -p, lower), np.where(np.isinf(t), 1 - p, upper)
        hall = np.isfinite(self.skew())
        low = np.clip(np.where(hall, skewed_low, p + lower), 0.0, 1.0)
        high = np.clip(np.where(hall, skewed_high, p + upper), 0.0, 1.0)
        fallback, _ = wilson_limits(p, n / self.design_effect, z)
        low = np.where((low <= 0) & (p > 0), fallback, low)
        low = np.where(n > 0, np.where(p == 0, 0.0, low), np.nan)
        high = np.where(n > 0, np.where(p == 1, 1.0, high), np.nan)
        return low, high


def from_design_effects(
    rates: object, trials: object, design_effects: object, clusters: object = None
) -> RateVariance:
    """Wilson at the effective size ``trials / design_effects``, in the form above.

    ``clusters`` (people with a trial in each rate) gives Korn & Graubard's
    t quantile on ``clusters - 1`` degrees of freedom (at least 1); None: the
    normal quantile.

    Examples
    --------
    >>> low, high = from_design_effects([0.1], [100.0], [4.0]).limits(1.959963984540054)
    >>> round(float(low[0]), 3), round(float(high[0]), 3)  # clustered_wilson_interval(10, 100, 4)
    (0.032, 0.275)
    """
    p = np.asarray(rates, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    extra = np.asarray(design_effects, dtype=np.float64) - 1.0
    df = np.full(p.shape, np.inf) if clusters is None else np.asarray(
        clusters, dtype=np.float64) - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return RateVariance(
            rate=p, trials=n, excess=extra * p * (1 - p) / n, slope=-extra * (1 - 2 * p) / (2 * n),
            curvature=-extra / n, df=df, design_effect=extra + 1.0,
        )


def skew_corrected(
    rates: np.ndarray, trials: np.ndarray, influence: Influence, design_effects: np.ndarray
) -> RateVariance:
    """The dyadic rows' form: Hall's skewness-corrected t interval (see the module).

    ``influence`` is the rows' :class:`audit.metrics.variance.Influence`. A
    dyadic variance not above the binomial one (no clustering seen) gives
    Wilson at ``N``: no excess, no skewness.

    Rows read at a calibrated threshold are the exception: their rate moves
    with the calibration rate the threshold was set on (overall FMR), and
    that takes out part of their binomial noise as well, so their variance
    (:meth:`audit.metrics.variance.Influence.calibrated`) can rightly be
    below the binomial one. Flooring it there counted the noise the
    calibration removed (measured: 99.5% coverage of a group's FMR at a
    calibrated threshold, ``benchmarks/results_coverage.md``, scenario 6).
    Such a row falls back to Wilson at ``N`` only when its variance is not
    positive beyond rounding: the calibration rate at its own threshold,
    which is the target by construction. Its interval is the symmetric t
    interval (no skewness term): its third cumulant would need the
    correction's share of every pair's cube, which
    :meth:`~audit.metrics.variance.Influence.third_cumulants` leaves out,
    and beside a variance below the binomial one that omission dominates.
    """
    p = np.asarray(rates, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    total = influence.variance()
    with np.errstate(invalid="ignore", divide="ignore"):
        binomial = p * (1 - p) / n
        excess = total - binomial
        skewness = influence.third_cumulants() / total**1.5
    floor = np.where(influence.calibrated(), (ROUNDING - 1.0) * binomial, 0.0)
    none = ~(excess > floor)
    zeros = np.zeros_like(p)
    return RateVariance(
        rate=p, trials=n, excess=np.where(none, 0.0, excess), slope=zeros, curvature=zeros,
        df=np.where(none, np.inf, influence.effective_clusters() - 1.0),
        design_effect=np.asarray(design_effects, dtype=np.float64),
        skewness=np.where(none, np.nan, np.where(influence.calibrated(), 0.0, skewness)),
    )


def t_quantile(z: object, df: object) -> np.ndarray:
    """The t quantile on ``df`` degrees of freedom at the tail probability of ``z``.

    ``z`` where ``df`` is infinite; ``df`` below 1 is taken as 1. The upper
    tail's quantile: exact far in the tail (the p-value searches go to z = 40).
    These are the functions ``scipy.stats.t.isf(stats.norm.sf(z), df)`` calls,
    without its per-call argument handling (the contrasts make about a thousand
    calls a table); a tail probability that underflows to 0 gives +inf, as there.
    """
    df = np.asarray(df, dtype=np.float64)
    z = np.broadcast_to(np.asarray(z, dtype=np.float64), df.shape)
    finite = np.isfinite(df)
    tail = special.ndtr(-z)
    upper = -special.stdtrit(np.where(finite, np.maximum(df, 1.0), 1.0), tail)
    return np.where(finite, np.where(tail == 0.0, np.inf, upper), z)


def hall_limits(
    estimate: np.ndarray, variance: np.ndarray, skewness: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``estimate - sqrt(variance) * g^-1(+-t)`` with Hall's (1992) cubic transformation.

    ``g^-1(x) = ((1 + 3a(x - a/2))^(1/3) - 1) / a`` with ``a = skewness / 3``
    (``x`` itself when ``a`` is 0): monotone in ``x`` for every ``a``, so the
    interval always exists. A right-skewed estimate (``a > 0``) gets a longer
    upper side.
    """
    a = np.where(np.isfinite(skewness), skewness, 0.0) / 3.0

    def inverse(x: np.ndarray) -> np.ndarray:
        small = np.abs(a) < 1e-12
        safe = np.where(small, 1.0, a)
        return np.where(small, x, (np.cbrt(1 + 3 * safe * (x - safe / 2)) - 1) / safe)

    spread = np.sqrt(np.clip(variance, 0.0, None))
    return estimate - spread * inverse(t), estimate - spread * inverse(-t)


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

"""Intervals of error rates: Wilson at the effective sample size, and the zero-error bound.

Comparisons of one subject are correlated (same face, same capture habits), so
a rate's interval is a Wilson interval at the *effective* sample size
:math:`N / d`, where the design effect :math:`d` comes from the
cluster-robust variance of :mod:`audit.metrics.variance` (Korn & Graubard
1998; as R's ``survey::svyciprop``, with Wilson in place of Clopper-Pearson).
Unlike a bootstrap percentile interval it never collapses to a point: with
errors observed its lower limit is above 0. When no error was seen,
:func:`zero_error_upper_bound` gives the exact one-sided bound (about 3/n at
95%, the "rule of three"). Plain :func:`wilson_interval` (design effect 1)
treats trials as independent. Coverage is measured in
``benchmarks/bench_coverage.py``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

BAD_CONFIDENCE = "confidence must be in (0, 1), got {confidence!r}"
BAD_COUNTS = "errors and trials must be non-negative counts of the same shape with errors <= trials"


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(BAD_CONFIDENCE.format(confidence=confidence))
    return float(confidence)


def wilson_interval(
    errors: object, trials: object, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    r"""Wilson score interval of a binomial proportion ``errors / trials``.

    .. math::
       \frac{\hat p + \frac{z^2}{2n}}{1 + \frac{z^2}{n}} \pm
       \frac{z}{1 + \frac{z^2}{n}} \sqrt{\frac{\hat p (1 - \hat p)}{n} + \frac{z^2}{4 n^2}},
       \qquad z = \Phi^{-1}\left(\tfrac{1 + \text{confidence}}{2}\right)

    Parameters
    ----------
    errors, trials : array-like of int, same shape
    confidence : float, default=0.95
        Two-sided confidence level.

    Returns
    -------
    low, high : ndarray (scalars for scalar input)
        NaN where ``trials == 0``. Assumes independent trials: with several
        trials per subject it is too narrow; prefer :func:`clustered_wilson_interval`.

    References
    ----------
    Wilson (1927), JASA 22:209-212; Brown, Cai & DasGupta (2001), Statistical
    Science 16:101-133. Equals ``scipy.stats.binomtest(k, n).proportion_ci(
    method="wilson")``.

    Examples
    --------
    >>> low, high = wilson_interval(1, 4)
    >>> round(float(low), 4), round(float(high), 4)
    (0.0456, 0.6994)
    """
    e, n = _check_counts(errors, trials)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = e / n
    low, high = wilson_limits(p, n, z_value(confidence))
    return low[()], high[()]


def z_value(confidence: float) -> float:
    """Two-sided normal quantile of a confidence level (1.96 at 0.95)."""
    return float(stats.norm.ppf(0.5 + _check_confidence(confidence) / 2))


def wilson_limits(rate: object, trials: object, z: object) -> tuple[np.ndarray, np.ndarray]:
    """Wilson limits of ``rate`` over ``trials`` (any positive size, e.g. effective) at ``z``.

    Broadcasts over all three; NaN where ``trials`` is not positive. Used by
    :func:`wilson_interval` and by the contrasts, which vary ``z`` to invert
    their intervals into p-values.

    Examples
    --------
    >>> low, high = wilson_limits(0.25, 4.0, 1.959963984540054)
    >>> round(float(low), 4), round(float(high), 4)
    (0.0456, 0.6994)
    """
    p = np.asarray(rate, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / scale
        half = z / scale * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    # Exact ends: no error seen gives low 0, errors in every trial high 1.
    low = np.where(p == 0, 0.0, low)
    high = np.where(p == 1, 1.0, high)
    return low, high


def clustered_wilson_interval(
    errors: object, trials: object, design_effect: object, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    r"""Wilson interval at the effective sample size ``trials / design_effect``.

    The estimate stays ``errors / trials``; only the amount of information
    shrinks (Korn & Graubard 1998, section 2). With ``design_effect = 1`` it
    is :func:`wilson_interval`.

    References
    ----------
    Korn & Graubard (1998), "Confidence intervals for proportions with small
    expected number of positive counts estimated from survey data", Survey
    Methodology 24:193-201; Kish (1965), *Survey Sampling* (design effect).

    Examples
    --------
    >>> low, high = clustered_wilson_interval(1, 4, 1.0)
    >>> round(float(low), 4), round(float(high), 4)
    (0.0456, 0.6994)
    >>> low, high = clustered_wilson_interval(10, 100, 4.0)  # as 2.5 errors in 25 trials
    >>> round(float(low), 3), round(float(high), 3)
    (0.032, 0.275)
    """
    e, n = _check_counts(errors, trials)
    d = np.asarray(design_effect, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = e / n
    low, high = wilson_limits(p, n / d, z_value(confidence))
    return low[()], high[()]


def zero_error_upper_bound(trials: object, *, confidence: float = 0.95) -> np.ndarray:
    r"""Exact one-sided upper bound of a rate when no error occurred in ``trials``.

    .. math:: p_{\text{upper}} = 1 - (1 - \text{confidence})^{1/n}

    the rate at which seeing zero errors in *n* independent trials has
    probability :math:`1 - \text{confidence}` (Clopper-Pearson, one-sided);
    about :math:`3/n` at 95% (the "rule of three"). By symmetry,
    ``1 - bound`` is the lower bound when every trial was an error.

    Returns
    -------
    ndarray (scalar for scalar input)
        NaN where ``trials == 0``.

    References
    ----------
    Clopper & Pearson (1934), Biometrika 26:404-413; Jovanovic & Levy (1997),
    "A look at the rule of three", The American Statistician 51:137-139;
    ISO/IEC 19795-1 (rule of 3).

    Examples
    --------
    >>> round(float(zero_error_upper_bound(300)), 5)
    0.00994
    """
    n = np.asarray(trials, dtype=np.float64)
    alpha = 1.0 - _check_confidence(confidence)
    with np.errstate(divide="ignore"):
        bound = np.where(n > 0, 1.0 - alpha ** (1.0 / n), np.nan)
    return bound[()]


def _check_counts(errors: object, trials: object) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(errors, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if e.shape != n.shape or (e < 0).any() or (e > n).any():
        raise ValueError(BAD_COUNTS)
    return e, n

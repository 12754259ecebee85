"""Uncertainty of error rates: Wilson, the zero-error bound, the subject bootstrap.

Comparisons of one subject are correlated (same face, same capture habits), so
the reported interval of a rate resamples *subjects*, not rows:
:func:`bootstrap_rates` draws subjects with replacement and recomputes every
rate from per-subject (errors, trials) counts as one weight matrix product. The
Wilson interval treats trials as independent; it is the quick view and is too
narrow when subjects contribute many trials. When no error was seen, the
percentile interval collapses to [0, 0]; :func:`zero_error_upper_bound` gives
the exact one-sided bound instead (about 3/n at 95%, the "rule of three").
"""

from __future__ import annotations

import numpy as np
from scipy import sparse, stats

#: Largest number of weight-matrix cells (draws x subjects) built at once.
CHUNK_CELLS = 1 << 22

BAD_CONFIDENCE = "confidence must be in (0, 1), got {confidence!r}"
BAD_COUNTS = "errors and trials must be non-negative counts of the same shape with errors <= trials"
BAD_N_BOOT = "n_boot must be a positive integer, got {n_boot!r}"


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
        trials per subject it is too narrow; prefer :func:`bootstrap_rates`.

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
    z = stats.norm.ppf(0.5 + _check_confidence(confidence) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = e / n
        scale = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / scale
        half = z / scale * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
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


def bootstrap_rates(errors: object, trials: object, *, n_boot: int, seed: int) -> np.ndarray:
    r"""Subject-clustered bootstrap replicates of rates from per-subject counts.

    Each replicate draws as many subjects as there are, with replacement, and
    recomputes every rate :math:`k` as

    .. math:: r^{*}_{bk} = \frac{\sum_s w_{bs}\, e_{sk}}{\sum_s w_{bs}\, n_{sk}}

    where :math:`w_{bs}` is how often subject *s* was drawn in replicate *b*
    (a multinomial weight matrix), :math:`e_{sk}` and :math:`n_{sk}` the
    subject's errors and trials for rate *k* (e.g. one group at one
    threshold). No table is rebuilt: the work is two sparse-dense products.

    Parameters
    ----------
    errors, trials : array-like or scipy sparse, shape (n_subjects, n_rates)
        Per-subject counts; a subject with no trial for a rate has 0 there.
    n_boot : int
        Number of replicates.
    seed : int
        Seed of the generator: the same seed and counts give identical output.

    Returns
    -------
    ndarray of shape (n_boot, n_rates)
        Replicate rates; NaN where a replicate drew no trial of that rate.

    References
    ----------
    Davison & Hinkley (1997), *Bootstrap Methods and their Application*,
    section 3.8 (cluster resampling); Field & Welsh (2007), JRSS-B 69:369-390.

    Examples
    --------
    >>> reps = bootstrap_rates([[1], [0], [3]], [[4], [4], [4]], n_boot=2000, seed=0)
    >>> reps.shape, bool(abs(reps.mean() - 4 / 12) < 0.02)
    ((2000, 1), True)
    """
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(BAD_N_BOOT.format(n_boot=n_boot))
    e = sparse.csr_matrix(errors, dtype=np.float64)
    n = sparse.csr_matrix(trials, dtype=np.float64)
    if e.shape != n.shape or (e.data < 0).any() or (n - e).min() < 0:
        raise ValueError(BAD_COUNTS)
    n_subjects, n_rates = e.shape
    out = np.full((n_boot, n_rates), np.nan)
    if n_subjects == 0:
        return out
    e_t, n_t = e.T.tocsr(), n.T.tocsr()
    rng = np.random.default_rng(seed)
    step = max(1, CHUNK_CELLS // n_subjects)
    for start in range(0, n_boot, step):
        weights = _multinomial_weights(rng, min(step, n_boot - start), n_subjects)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + weights.shape[0]] = ((e_t @ weights.T) / (n_t @ weights.T)).T
    return out


def _multinomial_weights(rng: np.random.Generator, n_draws: int, n_subjects: int) -> np.ndarray:
    """(n_draws, n_subjects) counts of each subject among n_subjects draws with replacement."""
    drawn = rng.integers(0, n_subjects, size=(n_draws, n_subjects))
    offsets = np.arange(n_draws, dtype=np.int64)[:, None] * n_subjects
    counts = np.bincount((drawn + offsets).ravel(), minlength=n_draws * n_subjects)
    return counts.reshape(n_draws, n_subjects).astype(np.float64)


def percentile_interval(
    replicates: np.ndarray, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap replicates, column by column.

    The bounds are order statistics (``numpy.quantile`` with
    ``method="inverted_cdf"``), so infinite replicates (a ratio over a zero
    rate) are handled; NaN replicates are ignored and an all-NaN column gives
    NaN.

    Examples
    --------
    >>> low, high = percentile_interval(np.arange(1.0, 101.0)[:, None], confidence=0.9)
    >>> float(low[0]), float(high[0])
    (5.0, 95.0)
    """
    alpha = 1.0 - _check_confidence(confidence)
    values = np.asarray(replicates, dtype=np.float64)
    low = np.full(values.shape[1:], np.nan)
    high = np.full(values.shape[1:], np.nan)
    seen = ~np.isnan(values).all(axis=0)
    if seen.any():
        kept = values[:, seen]
        low[seen] = np.nanquantile(kept, alpha / 2, axis=0, method="inverted_cdf")
        high[seen] = np.nanquantile(kept, 1 - alpha / 2, axis=0, method="inverted_cdf")
    return low, high

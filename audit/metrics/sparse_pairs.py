r"""Fixed pairs where a group saw no error, and the power of the pair test.

**A group with no error.** Its cluster-robust variance is 0 (every person's
influence is 0), so limits built from it treat the group's rate as known
to be 0: a user found "at least 6.7 times" beside counts of 10 errors in
4,567 trials against none in 4,749, where the exact conditional binomial
test, which ignores clustering and so is the more lenient, gives a 95%
lower bound of 2.33 and a two-sided p of 0.0016 (the tool said p = 4e-7). Here the zero-error side instead gets the
Wilson limits at an effective size :math:`n / d` whose design effect
:math:`d` is pooled from the groups of the block that did see errors
(:func:`pooled_design_effects`: their design effects weighted by
:math:`n_g \hat p_g (1 - \hat p_g)`, at least 1), and no correlation with
the other group (none can be estimated from a zero influence; a positive
one, as groups sharing the people compared against have, would narrow the
interval).

With those limits ``(0, u_b)`` the ratio :math:`\theta = p_a / p_b` gets the
Fieller-type MOVER interval (MOVER-R; Zou & Donner 2008, section 3.2;
Newcombe 2016): the set of :math:`\theta` whose MOVER interval of
:math:`p_a - \theta p_b` contains 0. Its upper limit is infinite (the
lower limit of :math:`p_b` is 0) and its lower limit is
:math:`\theta_L = \sqrt{l_a (2\hat p_a - l_a)} / u_b`
(:func:`zero_ratio_lower`). With a handful of errors that combination of
two large-sample limits is more lenient than the exact conditional binomial
test (2 errors in 150 against none in 1,000: 2.4 against 1.25), so the
bound is the smaller of the two (:func:`conditional_lower`, at the same
effective sizes): the zero side's upper limit is raised to the value at
which MOVER-R gives the conditional bound where that is the smaller
(:func:`zero_side_upper`). The pair's difference is Newcombe's MOVER
interval (method 10) from the same two limits, so the ratio's bound excludes
1 exactly when the difference's interval excludes 0, and the p-value that
inverts the bound (:mod:`audit.metrics.inversion`) agrees with both; it is
never below the exact conditional test's p-value at the effective sizes.

**Power.** The detectable ratio is read off the same interval test that
gives the p-value, not a separate formula: the smallest ratio :math:`R`
such that, with the lower group at its observed rate (or, when it saw no
error, at the pair's pooled rate) and the higher at :math:`R` times that,
both at the groups' design effects, the ratio interval at
:math:`z_{1-\alpha/2} + z_{0.8}` has lower limit 1
(:func:`detectable_ratios`). For a test on an asymptotically normal
statistic (here the log ratio) that is the ratio the test at two-sided
level :math:`\alpha` detects with 80% power; it is *unadjusted*: the
Benjamini-Hochberg adjustment over the audit's whole family of tests
raises the bar, which the report says beside the number. With the observed
rates as base, an observed ratio at or above the detectable one has an
unadjusted p-value of at most :math:`2\Phi(-(z_{1-\alpha/2} + z_{0.8}))`
(0.005 at 5%). Two approximations, stated: the alternative's limits are
Wilson at the effective sizes, so for dyadic pairs (tested with Hall's t on
the pair's influence) the power leaves out the skewness correction; and a
pair whose lower group saw no error is powered at the pair's pooled rate,
where the lower group would have errors and the log-scale MOVER test applies.

References
----------
Zou & Donner (2008), Statistics in Medicine 27:1693-1702. Newcombe (1998),
Statistics in Medicine 17:873-890 (method 10). Przyborowski & Wilenski
(1940), Biometrika 31:313-323 (the conditional test of two Poisson rates);
Clopper & Pearson (1934), Biometrika 26:404-413. Newcombe (2016),
"MOVER-R confidence intervals for ratios and products of two independently
estimated quantities", Statistical Methods in Medical Research
25:1774-1778. Korn & Graubard (1998), Survey Methodology 24:193-201
(Wilson at the effective size). Kish (1965), *Survey Sampling* (design
effect).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import numpy as np
from scipy import stats

from audit.metrics.bisection import bisect
from audit.metrics.score_limits import RateVariance, from_design_effects

#: Power of the detectable ratio.
POWER = 0.8
#: ``ci_method`` of a detectable ratio read off the pair's own interval test.
SAME_TEST_POWER = "interval-test-power"

RatioLower = Callable[[RateVariance, RateVariance, np.ndarray, float], np.ndarray]


def pooled_design_effects(errors: np.ndarray, trials: np.ndarray,
                          design_effects: np.ndarray) -> float:
    r"""Design effect for a block's zero-error groups: the others', weighted, at least 1.

    :math:`\sum_g d_g n_g \hat p_g (1 - \hat p_g) / \sum_g n_g \hat p_g (1 - \hat p_g)`
    over the groups with errors, i.e. the design effect of their summed
    error counts. 1 when no group has an error or the design effects are unknown.

    Examples
    --------
    >>> pooled_design_effects(np.array([0., 10., 30.]), np.array([100., 100., 100.]),
    ...                       np.array([1., 3., 1.]))
    1.6
    """
    p = errors / trials
    weight = trials * p * (1 - p)
    usable = (errors > 0) & np.isfinite(design_effects) & (weight > 0)
    if not usable.any():
        return 1.0
    pooled = float(np.sum(design_effects[usable] * weight[usable]) / np.sum(weight[usable]))
    return round(max(pooled, 1.0), 12)


def with_zero_sides(limits: RateVariance, design_effect: float) -> RateVariance:
    """``limits`` with every zero-error entry replaced by Wilson at ``trials / design_effect``.

    The entry keeps its own degrees of freedom (Korn & Graubard's t on its
    people minus 1 for a one-way rate; the normal quantile where infinite).
    """
    zero = limits.rate == 0
    if not zero.any():
        return limits
    wilson = from_design_effects(np.zeros(zero.shape), limits.trials,
                                 np.full(zero.shape, design_effect), limits.df + 1.0)
    merged = {}
    for f in fields(RateVariance):
        kept, fresh = getattr(limits, f.name), getattr(wilson, f.name)
        if kept is None and fresh is None:
            merged[f.name] = None
            continue
        kept = np.full(zero.shape, np.nan) if kept is None else kept
        fresh = np.full(zero.shape, np.nan) if fresh is None else fresh
        merged[f.name] = np.where(zero, fresh, kept)
    return RateVariance(**merged)


def zero_ratio_lower(rate_a: np.ndarray, low_a: np.ndarray, high_b: np.ndarray) -> np.ndarray:
    r"""MOVER-R lower limit of ``p_a / p_b`` when ``p_b`` is 0: :math:`\sqrt{l_a(2p_a - l_a)}/u_b`.

    Examples
    --------
    >>> float(zero_ratio_lower(np.array(0.02), np.array(0.01), np.array(0.01)))
    1.7320508075688772
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.clip(low_a * (2 * rate_a - low_a), 0.0, None)) / high_b


def detectable_ratios(
    base: np.ndarray, trials_a: np.ndarray, trials_b: np.ndarray, design_a: np.ndarray,
    design_b: np.ndarray, rho: np.ndarray, ratio_lower: RatioLower, *, alpha: float,
    power: float = POWER, clusters: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Smallest ratio over ``base`` the pair's interval test detects with ``power`` (see module).

    ``ratio_lower(va, vb, rho, z)`` gives the ratio interval's lower limits
    for rate limits ``va`` (higher group) and ``vb`` (lower); the rates are
    Wilson at the effective sizes ``trials / design``, with the t quantile on
    ``clusters - 1`` degrees of freedom of each side (the groups' own, as
    their printed intervals use; None: the normal quantile). Bisection on the log
    ratio; NaN where the base rate is 0 or not even a rate of 1 in the higher
    group would be detected.
    """
    z = float(stats.norm.isf(alpha / 2) + stats.norm.ppf(power))
    clusters_a, clusters_b = clusters if clusters is not None else (None, None)
    base = np.asarray(base, dtype=np.float64)
    usable = (base > 0) & (base < 1)
    safe = np.where(usable, base, 0.5)

    def excludes_one(log_ratios: np.ndarray) -> np.ndarray:
        """Whether the test detects each ratio: log ratios (K, pairs), the pairs K times over."""
        def tiled(x):
            return None if x is None else np.tile(np.broadcast_to(x, base.shape), len(log_ratios))
        va = from_design_effects(np.minimum(tiled(safe) * np.exp(log_ratios.reshape(-1)), 1.0),
                                 tiled(trials_a), tiled(design_a), tiled(clusters_a))
        vb = from_design_effects(tiled(safe), tiled(trials_b), tiled(design_b),
                                 tiled(clusters_b))
        return (ratio_lower(va, vb, tiled(rho), z) > 1.0).reshape(log_ratios.shape)

    low, high = np.zeros(base.shape), np.log(1.0 / safe)
    reachable = excludes_one(high[None, :])[0]
    # the log ratio to within log(1 / base) / 2**36
    low, high = bisect(lambda points: ~excludes_one(points), low, high, steps=36)
    return np.where(usable & reachable, np.exp(high), np.nan)


def conditional_lower(higher: RateVariance, zero: RateVariance, z: object) -> np.ndarray:
    r"""Exact conditional lower limit of ``p_a / p_b`` when group b saw no error.

    Given the total number of errors, group a's share is binomial with
    probability :math:`n_a R / (n_a R + n_b)` at rate ratio :math:`R` (rare
    errors; for common ones it overstates the variance, so it errs on the
    safe side). With every error in group a the Clopper-Pearson limit of that
    share is :math:`\pi_L = \Phi(-z)^{1/x}`, so
    :math:`R_L = \pi_L / (1 - \pi_L) \cdot n_b / n_a`, here at the effective
    sizes (errors and trials over the design effects). Its two-sided p-value
    is :math:`2 (n_a / (n_a + n_b))^x`: exactly where :math:`R_L = 1`.

    Examples
    --------
    >>> v = from_design_effects(np.array([10 / 4567]), np.array([4567.0]), np.ones(1))
    >>> zero = from_design_effects(np.zeros(1), np.array([4749.0]), np.ones(1))
    >>> round(float(conditional_lower(v, zero, 1.959963984540054)[0]), 3)
    2.331
    """
    errors = higher.rate * higher.trials / higher.design_effect
    share = np.asarray(stats.norm.sf(z), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        low = share ** (1.0 / errors)
        odds = low / (1.0 - low)
        return odds * (zero.trials / zero.design_effect) / (higher.trials / higher.design_effect)


def zero_side_upper(higher: RateVariance, zero: RateVariance, low_a: np.ndarray,
                    high_b: np.ndarray, z: object) -> np.ndarray:
    """The upper limit of a zero-error side used by the pair's ratio and difference (see module).

    Wilson's ``high_b``, raised where needed so that the MOVER-R bound is not
    above the exact conditional one (:func:`conditional_lower`): the ratio
    bound is the smaller of the two, and the difference, combined from the
    same limit, excludes 0 exactly when the ratio bound excludes 1. Rows
    whose lower group saw errors keep ``high_b``.
    """
    zeros = (zero.rate == 0) & (higher.rate > 0)
    if not zeros.any():
        return high_b
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        implied = zero_ratio_lower(higher.rate, low_a, 1.0) / conditional_lower(higher, zero, z)
    return np.where(zeros, np.fmax(high_b, implied), high_b)

"""Fixed-pair contrasts: the ratio and difference of two named groups' rates.

A sentence about two groups ("women were 1.5 times as likely as men to be
wrongly flagged") needs an interval for *that* pair: the same two groups in
every hypothetical repetition, an interval that can include 1 (ratio) or 0
(difference), and a test of equality that agrees with it. Every pair of
sufficient groups of a grouping, at one operating point and stratum, gets:

* ``ratio`` of the higher over the lower rate (ordered by the estimates), with a
  MOVER interval on the log scale (Zou & Donner 2008; Newcombe 2013, ch. 10):
  it combines the two groups' own limits (Wilson at the effective sample size,
  the same limits as the groups' rate intervals) and their cluster-robust
  correlation (:mod:`audit.metrics.variance`). When the lower group has no error the ratio is unbounded: the
  value is ``inf`` and the interval is a lower bound, the MOVER-R (Fieller-type)
  limit with the zero-error side's Wilson limits at a pooled effective size
  (:mod:`audit.metrics.sparse_pairs`: a zero-error group's robust variance is
  0 and cannot stand for its uncertainty), reported as "at least ...". When
  neither group has an error the ratio is undefined (NaN).
* ``difference`` (higher minus lower) with the MOVER interval of Newcombe's
  method 10, corrected for correlation (Zou & Donner 2008).
* **FMR pairs** (dyadic groups, each with at least
  :data:`audit.metrics.pair_limits.MIN_HALL_ERRORS`
  errors) instead get Hall's
  skewness-corrected t (:func:`audit.metrics.score_limits.hall_limits`) for
  the difference and the log ratio, from the pair's own combined influence
  (``hall-t``, ``hall-t-log``): the people both groups were compared against
  enter once, with their covariance and co-skewness. At a calibrated threshold
  the same t interval has no skewness term (``symmetric-t``, ``symmetric-t-log``;
  :class:`audit.metrics.pair_limits.PairSpread` says why). MOVER from the groups'
  skewed limits was measured conservative for equal rates (test size 1.8%
  where 5% is due, ``benchmarks/coverage_candidates.py``). With fewer errors
  in a group, the log ratio's influence ``u_a / p_a - u_b / p_b`` rests on the
  one to four people who carry them: its variance, skewness and degrees of
  freedom (about 1) come from them, and a user's 456 false matches in 98,515
  comparisons against 1 in 98,508 read "456 (0.025 to 27,817), p = 0.30"
  beside a difference interval far from 0. Such pairs get MOVER from the
  groups' own limits, ratio and difference alike (456 (80 to 2,591); the exact
  conditional binomial bound, which ignores clustering, is 81). Measured with
  about 3 expected errors in the lower group (``benchmarks/coverage_few_errors.py``,
  400 audits): ratio coverage 97.0% before and 96.8% after, difference 95.8%
  and 96.2%, power 37.5% and 85.0%, ratio and difference agreeing on
  significance in 38% and 91% of audits; at equal rates the test size is 1.2%
  either way.
* ``p_value`` of equal rates, by inverting the ratio interval: the largest
  confidence level whose interval still excludes 1 (so p < 0.05 exactly when
  the 95% ratio interval excludes 1); 1 when the estimates are equal or both 0.
  Every printed ratio and difference interval is that of a nested family
  (:mod:`audit.metrics.inversion`), so that this holds for every pair.
* ``min_detectable_ratio``: the smallest ratio over the lower group's rate
  (the pair's pooled rate when it saw no error) that the same interval test,
  at the same unadjusted level, detects with 80% power at the groups' design
  effects (:func:`audit.metrics.sparse_pairs.detectable_ratios`).

Multiple comparisons are controlled across the whole table by
:func:`benjamini_hochberg` (``p_adjusted`` rows, added by the engine). Coverage
of the ratio intervals, with known truth, is in ``benchmarks/bench_coverage.py``.

References
----------
Zou & Donner (2008), "Construction of confidence limits about effect measures:
a general approach", Statistics in Medicine 27:1693-1702. Newcombe (1998),
"Interval estimation for the difference between independent proportions",
Statistics in Medicine 17:873-890. Benjamini & Hochberg (1995), JRSS-B
57:289-300. Newcombe (2016), Statistical Methods in Medical Research
25:1774-1778 (MOVER-R).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from audit.metrics import pair_limits, sparse_pairs
from audit.metrics.intervals import z_value
from audit.metrics.inversion import inverted_p_values, nested_limits, on_grid
from audit.metrics.pair_limits import PairLimits, PairSpread, skewed_pairs
from audit.metrics.score_limits import RateVariance, from_design_effects
from audit.metrics.variance import Influence

RATIO = "ratio"
DIFFERENCE = "difference"
P_VALUE = "p_value"
P_ADJUSTED = "p_adjusted"
MIN_DETECTABLE_RATIO = "min_detectable_ratio"
#: ``ci_method`` values of contrast rows.
MOVER = "mover"
MOVER_LOG = "mover-log"
#: ``ci_method`` of a dyadic pair (enough errors in both groups): Hall's t on its influence.
HALL = "hall-t"
HALL_LOG = "hall-t-log"
#: The same t on the pair's influence with no skewness term: a pair at a calibrated threshold.
SYMMETRIC = "symmetric-t"
SYMMETRIC_LOG = "symmetric-t-log"
#: A ratio whose lower group saw no error: MOVER-R lower bound (:mod:`audit.metrics.sparse_pairs`).
BOUND = "mover-r-bound"
INVERTED = "inverted-mover-log"
INVERTED_HALL = "inverted-hall-t-log"
INVERTED_SYMMETRIC = "inverted-symmetric-t-log"
INVERTED_BOUND = "inverted-mover-r-bound"
DETECTABLE = sparse_pairs.SAME_TEST_POWER
BENJAMINI_HOCHBERG = "benjamini-hochberg"


@dataclass(frozen=True)
class GroupRates:
    """The rates of the groups compared in one block, with what their intervals need."""

    labels: list[str]
    errors: np.ndarray
    trials: np.ndarray
    design_effect: np.ndarray
    correlation: np.ndarray
    #: How each group's limits are found; None: Wilson at the effective sample size.
    variance: RateVariance | None = None
    #: The groups' dyadic influence (FMR): each pair's own skewness-corrected intervals.
    influence: Influence | None = None

    def limits(self) -> RateVariance:
        if self.variance is not None:
            return self.variance
        return from_design_effects(self.rates, self.trials, self.design_effect)

    @property
    def rates(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.errors / self.trials

    @property
    def effective_trials(self) -> np.ndarray:
        return self.trials / self.design_effect


@dataclass(frozen=True)
class Contrast:
    """One ordered pair (``higher`` >= ``lower`` by estimate) and its statistics."""

    higher: int
    lower: int
    ratio: float
    ratio_low: float
    ratio_high: float
    ratio_method: str | None
    difference_method: str
    difference: float
    difference_low: float
    difference_high: float
    p_value: float
    min_detectable_ratio: float


def pairs(groups: GroupRates) -> list[tuple[int, int]]:
    """Every pair of groups, ordered so that the first has the higher (or equal) rate."""
    p = groups.rates
    return [(i, j) if p[i] >= p[j] else (j, i) for i, j in combinations(range(len(p)), 2)]


def contrasts(groups: GroupRates, *, confidence: float) -> list[Contrast]:
    """Ratio, difference, p-value and detectable ratio of every pair of ``groups``.

    Examples
    --------
    Two independent groups, 40 errors in 1,000 trials against 20 in 1,000:

    >>> g = GroupRates(["a", "b"], np.array([40.0, 20.0]), np.array([1e3, 1e3]),
    ...                np.ones(2), np.eye(2))
    >>> c = contrasts(g, confidence=0.95)[0]
    >>> round(c.ratio, 2), round(c.ratio_low, 2), round(c.ratio_high, 2), round(c.p_value, 3)
    (2.0, 1.18, 3.38, 0.009)
    """
    ordered = pairs(groups)
    if not ordered:
        return []
    a = np.array([i for i, _ in ordered])
    b = np.array([j for _, j in ordered])
    p = groups.rates
    # An estimated correlation can leave [-1, 1] in small samples; MOVER needs it inside.
    # A zero-error group's influence is 0: no correlation can be estimated, none is used.
    rho = np.where(p[b] > 0, np.clip(groups.correlation[a, b], -1.0, 1.0), 0.0)
    z = z_value(confidence)
    zero_design = sparse_pairs.pooled_design_effects(groups.errors, groups.trials,
                                                     groups.design_effect)
    limits = sparse_pairs.with_zero_sides(groups.limits(), zero_design)
    va, vb = limits.take(a), limits.take(b)
    spread = PairSpread.of(groups.rates, groups.influence, a, b)
    pair = PairLimits(va, vb, rho, spread, skewed_pairs(groups.errors[a], groups.errors[b], spread))
    n = len(ordered)
    ratio_limits = on_grid(pair.stacked(PairLimits.ratio), z, n)  # nested, then inverted
    ratio_low, ratio_high = nested_limits(ratio_limits, z, n)
    diff_low, diff_high = nested_limits(pair.stacked(PairLimits.difference), z, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(p[b] > 0, p[a] / p[b], np.where(p[a] > 0, np.inf, np.nan))
    symmetric = (pair.skewed & spread.calibrated if spread is not None
                 else np.zeros(n, dtype=bool))  # no skewness term: calibrated
    method = np.where(p[b] > 0, np.where(pair.skewed, np.where(symmetric, SYMMETRIC_LOG,
                                                               HALL_LOG), MOVER_LOG),
                      np.where(p[a] > 0, BOUND, None))
    p_values = inverted_p_values(ratio_limits, z,
                                 testable=pair.va.rate > pair.vb.rate)
    pooled = (groups.errors[a] + groups.errors[b]) / (groups.trials[a] + groups.trials[b])
    design = np.where(np.isfinite(groups.design_effect) & (groups.design_effect > 0),
                      groups.design_effect, zero_design)
    detectable = sparse_pairs.detectable_ratios(
        np.where(p[b] > 0, p[b], pooled), groups.trials[a], groups.trials[b], design[a],
        np.where(p[b] > 0, design[b], zero_design), rho,
        lambda va, vb, r, level: pair_limits.ratio_limits(va, vb, r, level)[0],
        alpha=1 - confidence,
        clusters=(va.df + 1.0, vb.df + 1.0))
    return [
        Contrast(
            higher=int(a[k]),
            lower=int(b[k]),
            ratio=float(ratio[k]),
            ratio_low=float(ratio_low[k]),
            ratio_high=float(ratio_high[k]),
            ratio_method=method[k],
            difference_method=(SYMMETRIC if symmetric[k] else HALL) if pair.skewed[k]
            else MOVER,
            difference=float(p[a[k]] - p[b[k]]),
            difference_low=float(diff_low[k]),
            difference_high=float(diff_high[k]),
            p_value=float(p_values[k]),
            min_detectable_ratio=float(detectable[k]),
        )
        for k in range(len(ordered))
    ]


def benjamini_hochberg(p_values: object) -> np.ndarray:
    """Benjamini-Hochberg (1995) adjusted p-values (false discovery rate control).

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted

r"""Is a group over-represented among false alerts, given a crowd whose make-up is uncertain?

If every passer-by had the same chance of a false alert, each false alert
would fall on someone of group G with probability :math:`s`, G's share of the
crowd; ``k`` of ``n`` false alerts in G is then binomial. The
over-representation ratio is G's false-alert rate per person over everyone
else's, :math:`R = \mathrm{odds}(p) / \mathrm{odds}(s)` where :math:`p` is
G's share of false alerts (since :math:`p = sR / (sR + 1 - s)`). So:

* the exact test is ``binomtest(k, n, s, alternative="greater")``: for 7 of
  7 its p-value is :math:`s^7`;
* the interval of :math:`R` maps the Clopper-Pearson interval of :math:`p`
  through :math:`\mathrm{odds}(\cdot)/\mathrm{odds}(s)`; it lies above 1
  exactly when the one-sided p-value is below half of 1 - confidence (0.025
  at 95%), and that happens exactly when the crowd share is below the
  interval's lower end :math:`p_L` (for 7 of 7 at 95%,
  :math:`0.025^{1/7} = 0.590`);
* the smallest detectable ratio is the :math:`R` at which that test, with
  these ``n`` false alerts, would succeed with 80% probability; with few
  alerts and a large share no ratio is detectable at all.

The crowd share is given as a range (lowest to highest plausible), or as an
observed count whose exact interval becomes the range; results are given at
both ends and on a grid between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from audit.deployments.exact import CONFIDENCE, binomial_share

POWER = 0.80
GRID = 9
BAD_SHARE = "crowd share {low}..{high} of {group!r} must satisfy 0 < low <= high < 1"


@dataclass(frozen=True)
class AtShare:
    """Test, ratio interval and detectable ratio at one crowd share."""

    share: float
    expected: float
    p_value: float
    ratio: float
    ratio_low: float
    ratio_high: float
    detectable_ratio: float | None


@dataclass(frozen=True)
class OverRepresentation:
    """``k`` of ``n`` false alerts in ``group``, against crowd shares ``share_low..share_high``.

    ``shown_below``: over-representation is shown (interval above 1) for any
    crowd share below this (the Clopper-Pearson lower end of k/n);
    ``under_above``: under-representation is shown for any share above it.
    """

    deployment_id: str
    group: str
    k: int
    n: int
    share_low: float
    share_high: float
    share_source: str
    low_end: AtShare
    high_end: AtShare
    grid: tuple[AtShare, ...]
    shown_below: float
    under_above: float
    confidence: float

    @property
    def shown_across_range(self) -> bool:
        return self.share_high < self.shown_below

    @property
    def shown_nowhere(self) -> bool:
        return self.share_low >= self.shown_below


def _odds(p: float) -> float:
    return math.inf if p >= 1 else p / (1 - p)


def detectable_ratio(n: int, share: float, *, confidence: float = CONFIDENCE,
                     power: float = POWER) -> float | None:
    """Smallest ratio the one-sided exact test at (1 - confidence)/2 detects with ``power``.

    None when even ``n`` of ``n`` would not be significant (``share**n`` above
    the level). Uses P(X >= k | p) = I_p(k, n - k + 1), the regularised
    incomplete beta function, so the alert share reaching ``power`` is a beta
    quantile, with no search.

    >>> detectable_ratio(7, 0.7) is None, round(detectable_ratio(7, 0.3), 2)
    (True, 17.19)
    """
    level = (1 - confidence) / 2
    ks = np.arange(1, n + 1)
    significant = ks[stats.binom.sf(ks - 1, n, share) <= level]
    if significant.size == 0:
        return None
    critical = int(significant[0])
    p_needed = stats.beta.ppf(power, critical, n - critical + 1)
    return _odds(float(p_needed)) / _odds(share)


def at_share(k: int, n: int, share: float, *, confidence: float = CONFIDENCE) -> AtShare:
    """Exact one-sided p-value, ratio with its interval, and detectable ratio at ``share``."""
    estimate = binomial_share(k, n, confidence=confidence)
    base = _odds(share)
    return AtShare(
        share, share * n,
        float(stats.binomtest(k, n, share, alternative="greater").pvalue),
        _odds(estimate.value) / base, _odds(estimate.low) / base, _odds(estimate.high) / base,
        detectable_ratio(n, share, confidence=confidence),
    )


def over_representation(k: int, n: int, share_low: float, share_high: float, *,
                        group: str = "", deployment_id: str = "", share_source: str = "",
                        confidence: float = CONFIDENCE, grid: int = GRID) -> OverRepresentation:
    """``k`` of ``n`` false alerts in ``group``, across crowd shares ``share_low..share_high``.

    >>> o = over_representation(7, 7, 0.2, 0.7)
    >>> round(o.low_end.p_value, 7), round(o.high_end.p_value, 4), round(o.shown_below, 3)
    (1.28e-05, 0.0824, 0.59)
    """
    if not 0 < share_low <= share_high < 1:
        raise ValueError(BAD_SHARE.format(low=share_low, high=share_high, group=group))
    if not 0 < n or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    estimate = binomial_share(k, n, confidence=confidence)
    shares = np.unique(np.linspace(share_low, share_high, grid if share_high > share_low else 1))
    points = tuple(at_share(k, n, float(s), confidence=confidence) for s in shares)
    return OverRepresentation(deployment_id, group, k, n, share_low, share_high, share_source,
                              points[0], points[-1], points, estimate.low, estimate.high,
                              confidence)


def share_from_count(observed: int, of: int, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """A crowd share range from an observed count: the exact interval of ``observed / of``."""
    estimate = binomial_share(observed, of, confidence=confidence)
    return estimate.low, estimate.high

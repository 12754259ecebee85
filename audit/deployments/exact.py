"""Exact intervals of deployment figures, each kept with the counts it came from.

Counts from deployments are small (7 false alerts, 42 alerts), where normal
approximations fail, so every interval here is exact:

* a share of alerts (how many were false) is a binomial proportion, with the
  Clopper-Pearson interval from :func:`scipy.stats.binomtest`;
* false alerts per face scanned is a Poisson rate, with the exact (Garwood)
  interval from chi-square quantiles: ``chi2.ppf(a/2, 2k)/2`` to
  ``chi2.ppf(1-a/2, 2k+2)/2`` false alerts, divided by the faces.

Both are conservative (coverage at least the nominal level for every true
value; ``benchmarks/bench_deployments_coverage.py`` measures it). Alerts with
no recorded outcome are not guessed: the share of alerts that were false is
given as two bounds, counting them all true, then all false.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from audit.deployments.records import Deployment

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """``count`` events out of ``base`` (alerts, or faces): the estimate and its interval.

    ``value``, ``low`` and ``high`` are NaN when ``base`` is 0 or unknown.
    """

    count: int
    base: float
    value: float
    low: float
    high: float


def binomial_share(count: int, total: int, *, confidence: float = CONFIDENCE) -> Estimate:
    """``count / total`` with its Clopper-Pearson interval (scipy's ``binomtest``, exact).

    >>> e = binomial_share(7, 7)
    >>> round(e.low, 4), e.high
    (0.5904, 1.0)
    """
    if total <= 0:
        return Estimate(count, total, math.nan, math.nan, math.nan)
    ci = stats.binomtest(count, total).proportion_ci(confidence_level=confidence, method="exact")
    return Estimate(count, total, count / total, float(ci.low), float(ci.high))


def poisson_rate(count: int, exposure: float, *, confidence: float = CONFIDENCE) -> Estimate:
    """``count / exposure`` with the exact Poisson (Garwood) interval.

    With no event the lower limit is 0 and the upper about 3.7 / exposure at 95%.

    >>> e = poisson_rate(0, 1000)
    >>> e.low, round(e.high * 1000, 3)
    (0.0, 3.689)
    """
    if exposure <= 0:
        return Estimate(count, exposure, math.nan, math.nan, math.nan)
    alpha = 1.0 - confidence
    low = float(stats.chi2.ppf(alpha / 2, 2 * count)) / 2 if count > 0 else 0.0
    high = float(stats.chi2.ppf(1 - alpha / 2, 2 * count + 2)) / 2
    return Estimate(count, exposure, count / exposure, low / exposure, high / exposure)


@dataclass(frozen=True)
class ShareBounds:
    """Share of alerts that were false, as recorded (``recorded``: unconfirmed
    alerts counted true) and at its upper bound (``all_false``: unconfirmed
    alerts counted false). The two are equal when every alert has an outcome.
    ``resolved`` is the share among alerts whose outcome is known (None when
    the source gives only one of the two outcomes)."""

    recorded: Estimate
    all_false: Estimate
    unconfirmed: int
    resolved: Estimate | None


@dataclass(frozen=True)
class DeploymentFigures:
    """The figures of one record; None where the record lacks the counts they need."""

    record: Deployment
    false_per_face: Estimate | None
    false_per_face_high: Estimate | None
    false_share: ShareBounds | None


def false_share(record: Deployment, *, confidence: float = CONFIDENCE) -> ShareBounds | None:
    """Share of ``record``'s alerts that were false, with bounds for unconfirmed alerts."""
    if record.alerts is None or (record.confirmed_false is None and record.confirmed_true is None):
        return None
    low = record.confirmed_false or 0
    high = record.alerts - (record.confirmed_true or 0)
    resolved = None
    if record.confirmed_false is not None and record.confirmed_true is not None:
        resolved = binomial_share(record.confirmed_false,
                                  record.confirmed_false + record.confirmed_true,
                                  confidence=confidence)
    return ShareBounds(binomial_share(low, record.alerts, confidence=confidence),
                       binomial_share(high, record.alerts, confidence=confidence),
                       high - low, resolved)


def figures(record: Deployment, *, confidence: float = CONFIDENCE) -> DeploymentFigures:
    """Per-face false-alert rate (and its bound with unconfirmed alerts counted
    false) and the share of alerts that were false, for one record."""
    per_face = per_face_high = None
    if record.faces is not None and record.confirmed_false is not None:
        per_face = poisson_rate(record.confirmed_false, record.faces, confidence=confidence)
        extra = record.not_confirmed or 0
        if extra:
            per_face_high = poisson_rate(record.confirmed_false + extra, record.faces,
                                         confidence=confidence)
    return DeploymentFigures(record, per_face, per_face_high,
                             false_share(record, confidence=confidence))

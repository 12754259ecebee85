"""Pooled figures across deployments, with the between-deployment variation they hide.

The plain pooled rate adds counts up (all false alerts over all faces) and
gives the exact interval of :mod:`audit.deployments.exact`, as if every
deployment shared one true rate. Real deployments differ (place, light,
watchlist, threshold), so beside it comes a quasi-likelihood estimate:
statsmodels' GLM (Poisson with the faces as exposure for per-face rates,
binomial for shares of alerts), intercept only: the same point estimate,
its interval widened by the Pearson dispersion
:math:`\\phi = \\max(1, X^2 / (n - 1))` (as ``fit(scale="X2")`` would, but
never below 1: less spread than chance is read as chance) with Student's t on :math:`n - 1`
degrees of freedom. The heterogeneity is reported as Pearson's
:math:`X^2` on :math:`n - 1` degrees of freedom (its p-value tests "one
common rate") and :math:`I^2 = \\max(0, (X^2 - df) / X^2)`, the share of the
variation between deployments beyond chance (Higgins & Thompson 2002).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from audit.deployments.exact import CONFIDENCE, Estimate, binomial_share, poisson_rate
from audit.deployments.records import Deployment


@dataclass(frozen=True)
class Heterogeneity:
    """Quasi-likelihood pooled estimate and the between-deployment variation."""

    estimate: Estimate
    dispersion: float
    pearson_chi2: float
    df: int
    p_value: float
    i_squared: float


@dataclass(frozen=True)
class Pooled:
    """A pooled figure over ``ids``: plain (exact) and, with 2+ deployments, quasi."""

    label: str
    ids: tuple[str, ...]
    plain: Estimate
    quasi: Heterogeneity | None


def _quasi(counts: np.ndarray, bases: np.ndarray, family: str, confidence: float) -> Heterogeneity | None:
    """Intercept-only GLM, its standard error scaled by the Pearson dispersion.

    None with fewer than 2 rows, or no events (or, for shares, no non-events).
    The dispersion is floored at 1 (less spread than chance is read as
    chance, never as extra precision) and the interval uses Student's t on
    the n - 1 degrees of freedom the dispersion is estimated with.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    if len(counts) < 2 or counts.sum() == 0 or (family == "binomial" and counts.sum() == bases.sum()):
        return None
    exog = np.ones((len(counts), 1))
    if family == "poisson":
        model = sm.GLM(counts, exog, family=sm.families.Poisson(), offset=np.log(bases))
        back = np.exp
    else:
        # Proportions with the alerts as var_weights: with a two-column
        # (successes, failures) endog, statsmodels (0.15) reports a Pearson
        # scale that is not X2 / df.
        model = sm.GLM(counts / bases, exog, family=sm.families.Binomial(), var_weights=bases)
        back = special.expit
    with warnings.catch_warnings():
        # Identical rates fit exactly; statsmodels calls that "perfect separation",
        # which for an intercept-only model is harmless.
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        result = model.fit()
    q, df = float(result.pearson_chi2), len(counts) - 1
    dispersion = max(1.0, q / df)
    half = stats.t.ppf((1 + confidence) / 2, df) * float(result.bse[0]) * math.sqrt(dispersion)
    centre = float(result.params[0])
    estimate = Estimate(int(counts.sum()), float(bases.sum()), float(back(centre)),
                        float(back(centre - half)), float(back(centre + half)))
    return Heterogeneity(estimate, dispersion, q, df, float(stats.chi2.sf(q, df)),
                         max(0.0, (q - df) / q) if q > 0 else 0.0)


def pool_per_face(records: Sequence[Deployment], label: str, *, confidence: float = CONFIDENCE,
                  unconfirmed_false: bool = False) -> Pooled | None:
    """False alerts per face over the records that give both counts (None if none do).

    ``unconfirmed_false`` counts alerts without an outcome as false (the upper bound).
    """
    usable = [r for r in records if r.faces and r.confirmed_false is not None]
    if not usable:
        return None
    counts = np.array([r.confirmed_false + (r.not_confirmed or 0) * unconfirmed_false
                       for r in usable], dtype=float)
    bases = np.array([r.faces for r in usable], dtype=float)
    return Pooled(label, tuple(r.deployment_id for r in usable),
                  poisson_rate(int(counts.sum()), float(bases.sum()), confidence=confidence),
                  _quasi(counts, bases, "poisson", confidence))


def pool_false_share(records: Sequence[Deployment], label: str, *, confidence: float = CONFIDENCE,
                     unconfirmed_false: bool = False) -> Pooled | None:
    """Share of alerts that were false, over the records with alerts and an outcome count.

    As recorded (unconfirmed alerts counted true), or with ``unconfirmed_false``
    at the upper bound.
    """
    usable = [r for r in records if r.alerts
              and (r.confirmed_false is not None or r.confirmed_true is not None)]
    if not usable:
        return None
    if unconfirmed_false:
        counts = np.array([r.alerts - (r.confirmed_true or 0) for r in usable], dtype=float)
    else:
        counts = np.array([r.confirmed_false or 0 for r in usable], dtype=float)
    bases = np.array([r.alerts for r in usable], dtype=float)
    return Pooled(label, tuple(r.deployment_id for r in usable),
                  binomial_share(int(counts.sum()), int(bases.sum()), confidence=confidence),
                  _quasi(counts, bases, "binomial", confidence))


@dataclass(frozen=True)
class Breakdown:
    """Pooled figures of one slice (a threshold, a year, or all records)."""

    label: str
    n_records: int
    per_face: Pooled | None
    per_face_high: Pooled | None
    false_share: Pooled | None
    false_share_high: Pooled | None


def breakdown(records: Sequence[Deployment], label: str, *,
              confidence: float = CONFIDENCE) -> Breakdown:
    """Every pooled figure of ``records``, as recorded and at the upper bound."""
    return Breakdown(
        label, len(records),
        pool_per_face(records, label, confidence=confidence),
        pool_per_face(records, label, confidence=confidence, unconfirmed_false=True),
        pool_false_share(records, label, confidence=confidence),
        pool_false_share(records, label, confidence=confidence, unconfirmed_false=True),
    )


def _slices(records: Sequence[Deployment], key: Callable[[Deployment], object],
            missing: str, name: Callable[[object], str],
            confidence: float) -> tuple[Breakdown, ...]:
    values = sorted({key(r) for r in records if key(r) is not None})
    slices = [breakdown([r for r in records if key(r) == v], name(v), confidence=confidence)
              for v in values]
    rest = [r for r in records if key(r) is None]
    if rest:
        slices.append(breakdown(rest, missing, confidence=confidence))
    return tuple(slices)


def by_threshold(records: Sequence[Deployment], *, confidence: float = CONFIDENCE) -> tuple[Breakdown, ...]:
    """Pooled figures at each recorded threshold, then those with none recorded."""
    return _slices(records, lambda r: r.threshold, "threshold not recorded",
                   lambda v: f"{v:g}", confidence)


def by_year(records: Sequence[Deployment], *, confidence: float = CONFIDENCE) -> tuple[Breakdown, ...]:
    """Pooled figures by the year a record starts, then those with no date."""
    return _slices(records, lambda r: r.date.year if r.date else None, "date not recorded",
                   str, confidence)

"""Projection of measured 1:N rates onto a stated deployment.

The metrics stage writes the projection (``projected_*`` rows of
:func:`audit.metrics.projection.project_deployment`); the report uses those
rows when the metrics table has them, and otherwise computes the same
formulas here, for a crowd of ``N`` passers-by of whom a share ``p`` is on
the watchlist:

* expected false alerts :math:`N (1 - p)\\, \\mathrm{FPIR}`; expected
  correct alerts :math:`N p\\, (1 - \\mathrm{FNIR})`; share of alerts that
  are correct: correct / (correct + false); false alerts per face scanned:
  false / N.
* Intervals: the rates' interval ends are carried through the same monotone
  formulas; the share correct takes its bounds from the opposite ends of the
  two rates, so its interval is conservative (wider than a joint one).

Rates are applied as measured, at the audit's watchlist size. FPIR grows with
the watchlist (a passer-by is compared with every entry), so when the
deployment's watchlist ``W`` differs from the audit's ``W_a`` the report adds
a *sensitivity* figure: FPIR carried to ``W`` entries as
:math:`1 - (1 - \\mathrm{FPIR})^{W / W_a}` (each entry an independent chance
of a false alert; close to ``W / W_a`` times FPIR while FPIR is small).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    """A number with an interval; any part may be None (not available)."""

    value: float | None
    low: float | None = None
    high: float | None = None


def _nan_to_none(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def scale_fpir(fpir: float | None, factor: float) -> float | None:
    """FPIR on a watchlist ``factor`` times the audited size (see module notes).

    >>> round(scale_fpir(0.001, 100), 5)
    0.09521
    """
    if fpir is None or math.isnan(fpir):
        return None
    return 1.0 - (1.0 - float(fpir)) ** factor


def _scaled(value: float | None, factor: float, times: float) -> float | None:
    scaled = scale_fpir(value, factor)
    return None if scaled is None else scaled * times


def false_alerts(fpir: Estimate, *, crowd: int, share: float, factor: float) -> Estimate:
    """Expected false alerts among ``crowd`` passers-by (interval from FPIR's)."""
    times = crowd * (1.0 - share)
    return Estimate(
        _scaled(fpir.value, factor, times),
        _scaled(fpir.low, factor, times),
        _scaled(fpir.high, factor, times),
    )


def true_alerts(fnir: Estimate, *, crowd: int, share: float) -> Estimate:
    """Expected correct alerts: watchlisted passers-by who are alerted (interval from FNIR's)."""

    def hits(miss: float | None) -> float | None:
        return None if miss is None else crowd * share * (1.0 - miss)

    # A higher miss rate gives fewer hits: the bounds swap.
    return Estimate(hits(fnir.value), hits(fnir.high), hits(fnir.low))


def add(a: Estimate, b: Estimate) -> Estimate:
    """Sum of two estimates; the bounds add (both quantities rise together)."""

    def plus(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None else x + y

    return Estimate(plus(a.value, b.value), plus(a.low, b.low), plus(a.high, b.high))


def divide(a: Estimate, by: float) -> Estimate:
    """An estimate divided by a positive number."""

    def over(x: float | None) -> float | None:
        return None if x is None else x / by

    return Estimate(over(a.value), over(a.low), over(a.high))


def complement(a: Estimate) -> Estimate:
    """``1 - a`` for a share (the bounds swap)."""

    def one_minus(x: float | None) -> float | None:
        return None if x is None else 1.0 - x

    return Estimate(one_minus(a.value), one_minus(a.high), one_minus(a.low))


def share_correct(true: Estimate, false: Estimate) -> Estimate:
    """Share of alerts that are correct, with conservative bounds.

    >>> share_correct(Estimate(8.0, 6.0, 9.0), Estimate(34.0, 20.0, 50.0)).value
    0.19047619047619047
    """

    def ppv(t: float | None, f: float | None) -> float | None:
        if t is None or f is None or t + f <= 0:
            return None
        return t / (t + f)

    return Estimate(
        ppv(true.value, false.value), ppv(true.low, false.high), ppv(true.high, false.low)
    )

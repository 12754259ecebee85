"""Thresholds calibrated to a target false match (alert) rate.

Calibration needs no threshold grid: the answer is an order statistic of the
non-mated scores, found with one ``np.partition``. It is kept apart from the
counting kernel of :mod:`audit.metrics.sweep`, which compares scores with given
thresholds; :mod:`audit.metrics.points` uses both.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np

from audit.metrics.rates import EMPTY_DENOMINATOR, UndefinedRateWarning, check_scores

BAD_TARGET = "target must be a rate in [0, 1], got {target!r}"


def allowed_errors(target: float, n: int) -> int:
    """Most errors a rate of ``n`` trials may have and stay at most ``target``: floor(target * n).

    Computed in exact rational arithmetic on the target's shortest decimal
    form, so that ``target = 0.29`` with ``n = 100`` allows 29 errors (the
    binary float ``0.29 * 100`` is 28.999999999999996).

    Examples
    --------
    >>> allowed_errors(0.29, 100), allowed_errors(1e-3, 999), allowed_errors(1e-3, 1000)
    (29, 0, 1)
    """
    return math.floor(Fraction(repr(float(target))) * n)


def threshold_for_target(
    nonmated: object, target: float, *, fta_in_denominator: bool = False
) -> float:
    r"""Smallest threshold whose observed false match (alert) rate is at most ``target``.

    "At most" is a count rule: at most :func:`allowed_errors` ``(target, n)``
    scores at or above the threshold.

    The observed rate :math:`r(t) = \#\{s \ge t\} / n` is a non-increasing step
    function that only changes at score values, so the answer is the smallest
    *score value* :math:`t` with :math:`r(t) \le` ``target``; repeated scores
    are stepped over as a block (as ``bob.measure.far_threshold``). When even
    the largest score gives a rate above the target (e.g. ``target=0``), the
    answer is the next float above the largest score, where the rate is 0.

    Parameters
    ----------
    nonmated : array-like of shape (n,)
        Non-mated comparison scores (for FMR) or non-mated searches' best
        watchlist scores (for FPIR); NaN marks FTA.
    target : float
        Target rate in [0, 1], e.g. 1e-3.
    fta_in_denominator : bool, default=False
        False for FMR (FTA comparisons dropped); True for FPIR (a passer-by who
        failed to acquire stays in the denominator and never alerts).

    Returns
    -------
    float
        The threshold. NaN with an
        :class:`audit.metrics.rates.UndefinedRateWarning` when there is no
        non-NaN score to place a threshold on.

    References
    ----------
    ISO/IEC 19795-1:2021 (operating points at a fixed FMR/FPIR); NIST IR 8271
    reports FNIR at thresholds set for a target FPIR.

    Examples
    --------
    >>> threshold_for_target([0.1, 0.2, 0.2, 0.6, 0.9], 0.4)
    0.6
    >>> threshold_for_target([0.1, 0.2, 0.2, 0.6, 0.9], 0.2)
    0.9
    >>> threshold_for_target([0.1, 0.2, 0.2, 0.6, 0.9], 0.0) > 0.9
    True
    """
    (threshold,) = thresholds_for_targets(nonmated, (target,), fta_in_denominator=fta_in_denominator,
                                          stacklevel=3)
    return threshold


def thresholds_for_targets(
    nonmated: object, targets: tuple[float, ...], *, fta_in_denominator: bool = False,
    stacklevel: int = 2,
) -> list[float]:
    """:func:`threshold_for_target` at each of ``targets``, from one ``np.partition``.

    A calibrated point and its two window thresholds (:mod:`audit.metrics.points`) are
    three order statistics of the same ten million scores: one partition places them
    all, and the smallest score above each is found among the few partitioned above it
    (every score above the order statistic is there). The same thresholds as one call
    per target; one warning when there is no score.
    """
    for target in targets:
        if not 0.0 <= float(target) <= 1.0:
            raise ValueError(BAD_TARGET.format(target=target))
    values = check_scores(nonmated, name="nonmated")
    scored = values[~np.isnan(values)]
    if scored.size == 0:
        warnings.warn(
            EMPTY_DENOMINATOR.format(rate="threshold_for_target", trials="non-NaN scores"),
            UndefinedRateWarning,
            stacklevel=stacklevel,
        )
        return [float("nan")] * len(targets)
    n = values.size if fta_in_denominator else scored.size
    allowed = [allowed_errors(target, int(n)) for target in targets]
    # The (allowed + 1)-th largest score v fails (allowed + 1 scores are >= v) and so does
    # every t <= v; at most `allowed` scores are > v, so the answer is the smallest score
    # above v, which the partition puts after v. Linear passes, no sort of all scores.
    ranks = sorted({scored.size - a - 1 for a in allowed if a < scored.size})
    ordered = np.partition(scored, ranks) if ranks else scored
    out = []
    for a in allowed:
        if a >= scored.size:
            out.append(float(scored.min()))
            continue
        v = ordered[scored.size - a - 1]
        after = ordered[scored.size - a:]
        above = after[after > v]
        out.append(float(above.min()) if above.size else float(np.nextafter(v, np.inf)))
    return out

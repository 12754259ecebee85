"""Threshold-free separation of mated and non-mated scores: AUC and equal error rate.

Accuracy at a chosen threshold depends on how the threshold was chosen; the
area under the ROC curve and the equal error rate (EER) summarise the whole
score distribution instead, and are what model cards and papers quote beside
accuracy. AUC is scikit-learn's ``roc_auc_score``; EER is the crossing of its
``det_curve``, found without drawing the curve (:func:`equal_error_rate`);
this module only fixes the conventions:

- a comparison is a match when ``score >= threshold`` (as everywhere here);
- a failure to acquire may be given as ``-inf`` (never accepted): it is
  ranked below every finite score, the same for every threshold;
- EER is where the false match rate equals the false non-match rate on the
  DET curve, linearly interpolated between the two thresholds that bracket
  the crossing (ISO/IEC 19795-1's "equal error rate"); ties in scores are
  steps of the curve, as scikit-learn draws them.
"""

from __future__ import annotations

import numpy as np


def _finite(scores: np.ndarray) -> np.ndarray:
    """``scores`` with -inf (a failure to acquire) replaced by a value below every
    finite score: the same order, which is all a ROC curve reads."""
    scores = np.asarray(scores, dtype=np.float64)
    failed = np.isneginf(scores)
    if not failed.any():
        return scores
    finite = scores[np.isfinite(scores)]
    floor = (finite.min() if finite.size else 0.0) - 1.0
    return np.where(failed, floor, scores)


def auc_and_eer(scores: np.ndarray, mated: np.ndarray) -> tuple[float, float]:
    """(AUC, EER) of similarity ``scores`` for pairs marked ``mated``.

    NaN for both when either class is empty. AUC counts a tie between a mated
    and a non-mated score as half; EER is :func:`equal_error_rate`.

    >>> auc_and_eer(np.array([0.9, 0.6, 0.7, 0.2]), np.array([True, True, False, False]))
    (0.75, 0.5)
    """
    from sklearn.metrics import roc_auc_score

    mated = np.asarray(mated, dtype=bool)
    if mated.all() or not mated.any():
        return float("nan"), float("nan")
    scores = _finite(scores)
    return float(roc_auc_score(mated, scores)), equal_error_rate(scores, mated)


def equal_error_rate(scores: np.ndarray, mated: np.ndarray) -> float:
    """EER of similarity ``scores``: scikit-learn's ``det_curve`` crossing, without the curve.

    The same number as interpolating on ``det_curve(mated, scores)`` (its points,
    its slice from the last zero-false-match point to the first zero-non-match
    one, the point at +inf it adds), but read from the two classes' sorted
    scores: FMR falls and FNMR rises with the threshold, so the first point
    where ``FMR - FNMR <= 0`` is found by bisection with ``searchsorted``
    instead of by counting at every distinct score. Two sorts of the scores, no
    curve of ten million points: faster than ``bob.measure.eer_threshold``
    (``benchmarks/results_score_logs.md``). NaN when either class is empty;
    ``-inf`` (a failure to acquire) ranks below every finite score.

    >>> equal_error_rate(np.array([0.9, 0.6, 0.7, 0.2]), np.array([True, True, False, False]))
    0.5
    """
    mated = np.asarray(mated, dtype=bool)
    scores = _finite(scores)
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN: drop them or give a failure to acquire as -inf")
    curve = _Crossing(np.sort(scores[~mated]), np.sort(scores[mated]))
    if curve.negatives.size == 0 or curve.positives.size == 0:
        return float("nan")
    return curve.eer()


class _Crossing:
    """FMR and FNMR at any threshold from the sorted non-mated and mated scores."""

    def __init__(self, negatives: np.ndarray, positives: np.ndarray) -> None:
        self.negatives, self.positives = negatives, positives

    def rates(self, t: float) -> tuple[float, float]:
        """(FMR, FNMR) at ``t``, divided as ``det_curve`` divides its float64 counts."""
        n, p = self.negatives.size, self.positives.size
        accepted = n - int(np.searchsorted(self.negatives, t, side="left"))
        missed = int(np.searchsorted(self.positives, t, side="left"))
        return float(np.float64(accepted) / n), float(np.float64(missed) / p)

    def gap(self, t: float) -> float:
        fmr, fnmr = self.rates(t)
        return fmr - fnmr

    def eer(self) -> float:
        low = float(self.positives[0])  # det_curve stops where every mated score is accepted
        rest = self.positives[np.searchsorted(self.positives, self.negatives[-1], side="right"):]
        high = float(rest[0]) if rest.size else np.inf  # and starts where FMR is last 0
        found = [self._first(x, low, high) for x in (self.negatives, self.positives)]
        found += [np.inf] if high == np.inf else []
        found = [t for t in found if t is not None]
        if not found:
            return float("nan")
        after = min(found)
        fmr, fnmr = self.rates(after)
        if after == low or fmr - fnmr == 0:
            return float((fmr + fnmr) / 2)
        below = [x[i - 1] for x in (self.negatives, self.positives)
                 if (i := int(np.searchsorted(x, after, side="left"))) > 0]
        fmr_before, fnmr_before = self.rates(float(max(below)))
        gap_before, gap_after = fmr_before - fnmr_before, fmr - fnmr
        share = gap_before / (gap_before - gap_after)
        return float(fmr_before + share * (fmr - fmr_before))

    def _first(self, values: np.ndarray, low: float, high: float) -> float | None:
        """Smallest of ``values`` in ``[low, high]`` with FMR - FNMR <= 0 (bisection)."""
        start = int(np.searchsorted(values, low, side="left"))
        end = stop = int(np.searchsorted(values, high, side="right"))
        while start < stop:
            middle = (start + stop) // 2
            if self.gap(float(values[middle])) <= 0:
                stop = middle
            else:
                start = middle + 1
        return float(values[start]) if start < end else None

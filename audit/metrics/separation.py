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
    one, the point at +inf it adds), but read from the two classes' scores: FMR
    falls and FNMR rises with the threshold, so the first point where
    ``FMR - FNMR <= 0`` is found by bisection instead of by counting at every
    distinct score. Only the mated scores are sorted in full (there are few of
    them); the non-mated ones are counted, and sorted only between the two mated
    scores that bracket the crossing (:class:`_Crossing`). No curve of ten million
    points: faster than ``bob.measure.eer_threshold``
    (``benchmarks/results_score_logs.md``). NaN when either class is empty;
    ``-inf`` (a failure to acquire) ranks below every finite score.

    >>> equal_error_rate(np.array([0.9, 0.6, 0.7, 0.2]), np.array([True, True, False, False]))
    0.5
    """
    mated = np.asarray(mated, dtype=bool)
    scores = _finite(scores)
    if np.isnan(scores).any() or np.isposinf(scores).any():
        raise ValueError("scores contain NaN or +inf: drop them or give a failure to acquire "
                         "as -inf")
    negatives, positives = scores[~mated], np.sort(scores[mated])
    if negatives.size == 0 or positives.size == 0:
        return float("nan")
    return _Crossing.around_crossing(negatives, positives).eer()


class _Crossing:
    """FMR and FNMR at any threshold in a window of scores.

    ``negatives`` holds the sorted non-mated scores from ``floor`` up to ``ceiling``
    (every score tied with the lowest, so a count at any of them is exact);
    ``above`` counts the non-mated scores over ``ceiling``, ``size`` all of them,
    ``highest`` is the highest of them. Thresholds from the lowest kept score to
    ``ceiling`` are counted exactly.
    """

    def __init__(self, negatives: np.ndarray, positives: np.ndarray, *, above: int,
                 size: int, highest: float) -> None:
        self.negatives, self.positives = negatives, positives
        self.above, self.size, self.highest = above, size, highest

    @classmethod
    def around_crossing(cls, negatives: np.ndarray, positives: np.ndarray) -> _Crossing:
        """The window between the mated scores that bracket the crossing (unsorted
        ``negatives``, sorted ``positives``): one count of the non-mated scores per
        bisection step on the mated ones, then one sort of the few in the window."""
        highest = float(negatives.max())

        def gap(t: float) -> float:  # the non-mated scores counted, not sorted
            fmr, fnmr = _fractions(int(np.count_nonzero(negatives >= t)), negatives.size,
                                   positives, t)
            return fmr - fnmr

        low, high = _slice(positives, highest)
        first = _first(positives, low, high, gap)
        at = int(np.searchsorted(positives, low if first is None else first, side="left"))
        floor = float(positives[at - 1]) if first is not None and at > 0 and (
            positives[at - 1] >= low) else low
        ceiling = first if first is not None else high
        lower = negatives[negatives < floor]
        floor = float(lower.max()) if lower.size else floor  # the value "below" may need
        kept = negatives[(negatives >= floor) & (negatives <= ceiling)]
        kept.sort()
        above = int(np.count_nonzero(negatives > ceiling))
        return cls(kept, positives, above=above, size=negatives.size, highest=highest)

    def rates(self, t: float) -> tuple[float, float]:
        """(FMR, FNMR) at ``t``, divided as ``det_curve`` divides its float64 counts."""
        kept = self.negatives.size - int(np.searchsorted(self.negatives, t, side="left"))
        return _fractions(self.above + kept, self.size, self.positives, t)

    def gap(self, t: float) -> float:
        fmr, fnmr = self.rates(t)
        return fmr - fnmr

    def eer(self) -> float:
        low, high = _slice(self.positives, self.highest)
        found = [_first(x, low, high, self.gap) for x in (self.negatives, self.positives)]
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


def _fractions(accepted: int, size: int, positives: np.ndarray, t: float) -> tuple[float, float]:
    """(FMR, FNMR) at ``t`` from the accepted non-mated count and the sorted mated scores."""
    missed = int(np.searchsorted(positives, t, side="left"))
    return float(np.float64(accepted) / size), float(np.float64(missed) / positives.size)


def _slice(positives: np.ndarray, highest: float) -> tuple[float, float]:
    """``det_curve``'s slice: from the lowest mated score (every mated score accepted) to
    the first mated score over the highest non-mated one (where FMR is last 0)."""
    rest = positives[np.searchsorted(positives, highest, side="right"):]
    return float(positives[0]), float(rest[0]) if rest.size else np.inf


def _first(values: np.ndarray, low: float, high: float, gap) -> float | None:
    """Smallest of sorted ``values`` in ``[low, high]`` with ``gap`` (FMR - FNMR) <= 0,
    by bisection: the gap never rises with the threshold."""
    start = int(np.searchsorted(values, low, side="left"))
    end = stop = int(np.searchsorted(values, high, side="right"))
    while start < stop:
        middle = (start + stop) // 2
        if gap(float(values[middle])) <= 0:
            stop = middle
        else:
            start = middle + 1
    return float(values[start]) if start < end else None

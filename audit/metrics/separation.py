"""Threshold-free separation of mated and non-mated scores: AUC and equal error rate.

Accuracy at a chosen threshold depends on how the threshold was chosen; the
area under the ROC curve and the equal error rate (EER) summarise the whole
score distribution instead, and are what model cards and papers quote beside
accuracy. Both come from scikit-learn's curve kernels (``roc_auc_score``,
``det_curve``); this module only fixes the conventions:

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
    finite = scores[np.isfinite(scores)]
    floor = (finite.min() if finite.size else 0.0) - 1.0
    return np.where(np.isneginf(scores), floor, scores)


def auc_and_eer(scores: np.ndarray, mated: np.ndarray) -> tuple[float, float]:
    """(AUC, EER) of similarity ``scores`` for pairs marked ``mated``.

    NaN for both when either class is empty. AUC counts a tie between a mated
    and a non-mated score as half.

    >>> auc_and_eer(np.array([0.9, 0.6, 0.7, 0.2]), np.array([True, True, False, False]))
    (0.75, 0.5)
    """
    from sklearn.metrics import det_curve, roc_auc_score

    mated = np.asarray(mated, dtype=bool)
    if mated.all() or not mated.any():
        return float("nan"), float("nan")
    scores = _finite(scores)
    auc = float(roc_auc_score(mated, scores))
    fmr, fnmr, _ = det_curve(mated, scores)
    # det_curve runs from the lowest threshold (fmr high) to the highest (fmr low)
    gap = fmr - fnmr
    crossed = np.flatnonzero(gap <= 0)
    if crossed.size == 0:  # cannot happen with both classes present; kept explicit
        return auc, float("nan")
    after = int(crossed[0])
    if after == 0 or gap[after] == 0:
        return auc, float((fmr[after] + fnmr[after]) / 2)
    before = after - 1
    share = gap[before] / (gap[before] - gap[after])
    eer = fmr[before] + share * (fmr[after] - fmr[before])
    return auc, float(eer)

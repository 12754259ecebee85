"""AUC and EER against brute-force oracles over every threshold."""

from __future__ import annotations

import numpy as np
import pytest

from audit.metrics.separation import auc_and_eer, equal_error_rate


def _oracle(scores: np.ndarray, mated: np.ndarray) -> tuple[float, float]:
    """AUC by counting pairs (ties half); EER by walking every distinct threshold,
    lowest first, to the first where FMR <= FNMR, interpolating from the one before."""
    genuine, impostor = scores[mated], scores[~mated]
    wins = (genuine[:, None] > impostor[None, :]).sum() + 0.5 * (
        genuine[:, None] == impostor[None, :]).sum()
    auc = wins / (genuine.size * impostor.size)
    points = []
    for t in np.unique(scores):
        points.append(((impostor >= t).mean(), (genuine < t).mean()))
    for i, (fmr, fnmr) in enumerate(points):
        if fmr - fnmr <= 0:
            if i == 0 or fmr == fnmr:
                return auc, (fmr + fnmr) / 2
            before = points[i - 1]
            g0, g1 = before[0] - before[1], fmr - fnmr
            return auc, before[0] + g0 / (g0 - g1) * (fmr - before[0])
    raise AssertionError("no crossing")


@pytest.mark.parametrize("seed", range(6))
def test_auc_and_eer_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    mated = rng.random(300) < 0.4
    scores = np.round(rng.normal(mated * 1.2, 1.0), 1)  # rounded: many ties
    auc, eer = auc_and_eer(scores, mated)
    want_auc, want_eer = _oracle(scores, mated)
    assert auc == pytest.approx(want_auc, abs=1e-12)
    assert eer == pytest.approx(want_eer, abs=1e-12)


def test_failure_to_acquire_ranks_below_every_score():
    scores = np.array([0.9, -np.inf, 0.7, 0.2, -np.inf])
    mated = np.array([True, True, False, False, False])
    auc, eer = auc_and_eer(scores, mated)
    # pairs: 0.9 beats all 3 non-mated; -inf beats none, ties one -inf (half)
    assert auc == pytest.approx((3 + 0.5) / 6)
    assert eer == pytest.approx(_oracle(np.where(np.isinf(scores), -9.0, scores), mated)[1])


def test_perfect_separation_and_one_class():
    assert auc_and_eer(np.array([0.9, 0.8, 0.1]), np.array([True, True, False])) == (1.0, 0.0)
    auc, eer = auc_and_eer(np.array([0.9, 0.8]), np.array([True, True]))
    assert np.isnan(auc) and np.isnan(eer)


def _det_curve_eer(scores: np.ndarray, mated: np.ndarray) -> float:
    """EER interpolated on scikit-learn's whole DET curve (the computation equal_error_rate
    replaces): first point, lowest threshold first, where FMR - FNMR <= 0."""
    from sklearn.metrics import det_curve

    fmr, fnmr, _ = det_curve(mated, scores)
    gap = fmr - fnmr
    crossed = np.flatnonzero(gap <= 0)
    if crossed.size == 0:
        return float("nan")
    after = int(crossed[0])
    if after == 0 or gap[after] == 0:
        return float((fmr[after] + fnmr[after]) / 2)
    share = gap[after - 1] / (gap[after - 1] - gap[after])
    return float(fmr[after - 1] + share * (fmr[after] - fmr[after - 1]))


@pytest.mark.parametrize("seed", range(40))
def test_equal_error_rate_is_the_det_curve_crossing(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    mated = rng.random(n) < rng.uniform(0.05, 0.95)
    mated[:2] = [True, False]
    shift, decimals = rng.uniform(-1.0, 4.0), int(rng.integers(0, 3))
    scores = np.round(rng.normal(mated * shift, 1.0), decimals)  # ties, overlap or separation
    assert equal_error_rate(scores, mated) == _det_curve_eer(scores, mated)


@pytest.mark.parametrize("seed", range(6))
def test_equal_error_rate_sorts_a_window_of_many_non_mated_scores_exactly(seed):
    """Few mated scores among many non-mated ones, as in a score log: the window
    between the bracketing mated scores is all that is sorted, and the EER is the
    same number as the whole DET curve's."""
    rng = np.random.default_rng(100 + seed)
    n = 20_000
    mated = rng.random(n) < 0.01
    mated[:2] = [True, False]
    scores = np.round(rng.normal(mated * rng.uniform(0.5, 3.0), 1.0), int(rng.integers(1, 4)))
    assert equal_error_rate(scores, mated) == _det_curve_eer(scores, mated)


@pytest.mark.parametrize(("scores", "mated"), [
    ([0.9, 0.8, 0.1], [True, True, False]),  # separated: EER 0
    ([0.1, 0.2, 0.9], [True, True, False]),  # reversed: the crossing is the point at +inf
    ([0.5, 0.5, 0.5, 0.5], [True, False, True, False]),  # one distinct score
    ([0.9, 0.9, 0.3, 0.9], [True, False, False, True]),  # the top score is shared
    ([0.7, -np.inf, 0.2, -np.inf, 0.4], [True, True, False, False, False]),  # FTA as -inf
])
def test_equal_error_rate_edge_cases_match_det_curve(scores, mated):
    scores, mated = np.array(scores), np.array(mated)
    finite = np.where(np.isinf(scores), -9.0, scores)
    assert equal_error_rate(scores, mated) == _det_curve_eer(finite, mated)


def test_equal_error_rate_refuses_nan_and_needs_both_classes():
    with pytest.raises(ValueError, match="NaN"):
        equal_error_rate(np.array([0.2, np.nan]), np.array([True, False]))
    with pytest.raises(ValueError, match=r"\+inf"):  # no meaning: only -inf (an FTA) has one
        equal_error_rate(np.array([np.inf, 0.5, 0.2, np.inf]),
                         np.array([True, True, False, False]))
    assert np.isnan(equal_error_rate(np.array([0.2, 0.3]), np.array([True, True])))

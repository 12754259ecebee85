"""Rates at one threshold: hand-worked tables with ties at t, FTA, empty input."""

from __future__ import annotations

import re

import numpy as np
import pytest

from audit.metrics.rates import (
    EMPTY_DENOMINATOR,
    INFINITE_SCORE,
    LENGTH_MISMATCH,
    NAN_THRESHOLD,
    UndefinedRateWarning,
    failure_to_acquire_rate,
    false_match_rate,
    false_negative_identification_rate,
    false_non_match_rate,
    false_positive_identification_rate,
    true_positive_identification_rate,
)

NAN = float("nan")


@pytest.mark.parametrize(
    ("scores", "t", "expected"),
    [
        ([0.1, 0.4, 0.5, 0.9], 0.5, 2 / 4),  # 0.5 == t is a false match
        ([0.1, 0.4, 0.5, 0.9], 0.50001, 1 / 4),
        ([0.1, 0.4, 0.5, 0.9], -np.inf, 1.0),
        ([0.1, 0.4, 0.5, 0.9], np.inf, 0.0),
        ([0.5, NAN, NAN, 0.2], 0.5, 1 / 2),  # FTA dropped from the denominator
    ],
)
def test_false_match_rate_hand_worked(scores, t, expected):
    assert false_match_rate(scores, t) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("scores", "t", "include_fta", "expected"),
    [
        ([0.3, 0.5, 0.8], 0.5, False, 1 / 3),  # 0.5 == t is a match, not an error
        ([0.3, 0.5, 0.8, NAN], 0.5, False, 1 / 3),
        ([0.3, 0.5, 0.8, NAN], 0.5, True, 2 / 4),
        ([NAN, NAN], 0.5, True, 1.0),
        ([0.3, 0.5, 0.8], 0.80001, False, 1.0),
    ],
)
def test_false_non_match_rate_hand_worked(scores, t, include_fta, expected):
    assert false_non_match_rate(scores, t, include_fta=include_fta) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("scores", "t", "expected"),
    [
        ([0.2, 0.6, 0.7, 0.1], 0.6, 2 / 4),  # 0.6 == t alerts
        ([0.2, 0.6, NAN, 0.7], 0.6, 2 / 4),  # FTA stays in the denominator, never alerts
        ([NAN, NAN], 0.0, 0.0),
    ],
)
def test_false_positive_identification_rate_hand_worked(scores, t, expected):
    assert false_positive_identification_rate(scores, t) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("scores", "correct", "t", "fnir"),
    [
        ([0.9, 0.6, 0.5], [True, True, True], 0.6, 1 / 3),  # 0.6 == t is a hit
        ([0.9, 0.9], [True, False], 0.6, 1 / 2),  # alert on the wrong entry is a miss
        ([0.9, NAN], [True, True], 0.6, 1 / 2),  # FTA is a miss, in the denominator
        ([0.1, 0.2], [False, False], 0.0, 1.0),
    ],
)
def test_identification_miss_and_hit_rates(scores, correct, t, fnir):
    assert false_negative_identification_rate(scores, correct, t) == pytest.approx(fnir)
    assert true_positive_identification_rate(scores, correct, t) == pytest.approx(1 - fnir)


def test_failure_to_acquire_rate():
    assert failure_to_acquire_rate([True, False, False, True, False]) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("call", "rate"),
    [
        (lambda: false_match_rate([], 0.5), "FMR"),
        (lambda: false_match_rate([NAN, NAN], 0.5), "FMR"),
        (lambda: false_non_match_rate([], 0.5), "FNMR"),
        (lambda: false_non_match_rate([NAN], 0.5), "FNMR"),
        (lambda: false_non_match_rate([], 0.5, include_fta=True), "FNMR"),
        (lambda: false_positive_identification_rate([], 0.5), "FPIR"),
        (lambda: false_negative_identification_rate([], [], 0.5), "FNIR"),
        (lambda: true_positive_identification_rate([], [], 0.5), "TPIR"),
        (lambda: failure_to_acquire_rate([]), "FTA"),
    ],
)
def test_empty_input_is_nan_with_named_warning(call, rate):
    with pytest.warns(UndefinedRateWarning, match=f"^{rate}: no .*undefined"):
        value = call()
    assert np.isnan(value)


def test_one_class_input_gives_nan_not_zero():
    # Only mated scores: FMR has nothing to count.
    with pytest.warns(UndefinedRateWarning, match="non-mated"):
        assert np.isnan(false_match_rate(np.array([]), 0.5))
    assert EMPTY_DENOMINATOR.startswith("{rate}")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: false_match_rate([0.1, np.inf], 0.5), INFINITE_SCORE.format(name="nonmated")),
        (lambda: false_match_rate([0.1], NAN), NAN_THRESHOLD),
        (lambda: false_match_rate([[0.1]], 0.5), "1-D"),
        (
            lambda: false_negative_identification_rate([0.1, 0.2], [True], 0.5),
            LENGTH_MISMATCH.format(a="mated_best", b="best_is_true_entry", n_a=2, n_b=1),
        ),
    ],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_rates_match_a_brute_force_loop():
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=200), 1)  # many ties
    scores[rng.random(200) < 0.1] = np.nan
    correct = rng.random(200) < 0.8
    for t in np.unique(scores[~np.isnan(scores)]):
        done = [s for s in scores if s == s]
        assert false_match_rate(scores, t) == sum(s >= t for s in done) / len(done)
        assert false_non_match_rate(scores, t) == sum(s < t for s in done) / len(done)
        misses = sum(not (c and s == s and s >= t) for s, c in zip(scores, correct))
        assert false_negative_identification_rate(scores, correct, t) == misses / len(scores)
        alerts = sum(s == s and s >= t for s in scores)
        assert false_positive_identification_rate(scores, t) == alerts / len(scores)

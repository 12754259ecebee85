"""Bisection several halvings per call gives the step-by-step bisection's ends, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from audit.metrics.bisection import bisect


def _one_step_at_a_time(move_low, low, high, steps):
    for _ in range(steps):
        middle = (low + high) / 2
        up = move_low(middle[None, :])[0]
        low, high = np.where(up, middle, low), np.where(up, high, middle)
    return low, high


@pytest.mark.parametrize("steps, depth", [(40, 4), (36, 4), (7, 3), (1, 4), (5, 1), (0, 4)])
def test_the_same_ends_as_one_halving_at_a_time(steps, depth):
    rng = np.random.default_rng(steps * 10 + depth)
    roots = rng.uniform(-3, 3, size=50)
    low, high = rng.uniform(-5, -3, size=50), rng.uniform(3, 5, size=50)
    calls = []

    def below_root(points):
        calls.append(points.shape[0])
        return points < roots

    got = bisect(below_root, low, high, steps, depth=depth)
    asked = list(calls)
    want = _one_step_at_a_time(lambda p: p < roots, low, high, steps)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert len(asked) == -(-steps // depth)  # one call per `depth` halvings
    assert np.all((got[0] <= roots) & (roots <= got[1]))

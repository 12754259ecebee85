"""Nested interval families and the p-values that invert them.

A contrast's p-value is read off its own interval family: the largest
confidence level whose ratio interval still excludes 1. That is a test only
if the intervals are *nested*, a higher level never giving a narrower
interval. Some limits the metrics stage combines are not nested on their
own: a correlation estimated close to 1 shrinks a MOVER interval as its
parts widen, and a rate's lower limit that reaches 0 switches to a fallback
above it. Measured on simulated FMR audits with a few error-prone people, a
ratio interval of 0.64 to 2.4 was printed beside p = 4e-83.

The family used here is nested by construction: at level ``z`` the limits
are the widest of the raw limits at ``z`` and at every level of a fixed grid
below it (:func:`nested_limits`). The printed interval's own ``z`` is a grid
level, so its p-value (:func:`inverted_p_values`) is below ``1 - confidence``
exactly when the printed interval excludes 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

#: Largest z searched when inverting an interval (p below 1e-300 is reported as 0).
Z_MAX = 40.0

Limits = Callable[[float], tuple[np.ndarray, np.ndarray]]


def z_grid(z: float) -> np.ndarray:
    """The levels the family is nested over: 0 to 6 by 0.1, then to Z_MAX, and ``z`` itself."""
    return np.unique(np.r_[np.linspace(0.0, 6.0, 61), np.geomspace(6.0, Z_MAX, 21), z])


def nested_limits(limits: Limits, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Limits at ``z``, widened to contain the limits at every grid level below ``z``.

    >>> shrinking = lambda z: (np.array([1.0 - min(z, 1.0)]), np.array([2.0]))
    >>> nested_limits(shrinking, 1.96)[0]  # the raw lower limit at 1.96 is 0.0
    array([0.])
    >>> wobbling = lambda z: (np.array([0.5 if 0.9 < z < 1.1 else 0.8]), np.array([2.0]))
    >>> nested_limits(wobbling, 1.96)[0]  # 0.5 at z = 1.0 stays in the 95% interval
    array([0.5])
    """
    low, high = limits(z)
    grid = z_grid(z)
    for level in grid[grid < z]:
        level_low, level_high = limits(float(level))
        low, high = np.fmin(low, level_low), np.fmax(high, level_high)
    return low, high


def inverted_p_values(lower_limit: Callable[[float | np.ndarray], np.ndarray], z: float,
                      testable: np.ndarray) -> np.ndarray:
    """Two-sided p-values ``2 * sf(z*)``, z* the largest level whose nested lower limit exceeds 1.

    ``lower_limit`` gives the raw lower limits of the ratios at a level (a
    scalar, or one level per ratio). The nested lower limit falls on the grid
    of :func:`z_grid`; z* is found on the grid, then by bisection inside the
    first grid step where it reaches 1. ``z`` (the printed interval's level)
    is on the grid, so ``p < 2 * sf(z)`` exactly when the printed interval
    excludes 1. Ratios not ``testable`` (equal estimates, no error) get 1.
    """
    grid = z_grid(z)
    raw = np.array([lower_limit(float(level)) for level in grid])
    nested = np.fmin.accumulate(np.where(np.isnan(raw), -np.inf, raw), axis=0)
    fails = nested <= 1.0
    first = np.where(fails.any(axis=0), fails.argmax(axis=0), grid.size)
    columns = np.arange(raw.shape[1])
    below = np.where(first > 0, grid[np.maximum(first - 1, 0)], 0.0)
    above = np.where(first < grid.size, grid[np.minimum(first, grid.size - 1)], Z_MAX)
    floor = np.where(first > 0, nested[np.maximum(first - 1, 0), columns], np.inf)
    low_z, high_z = below, above
    for _ in range(40):
        middle = (low_z + high_z) / 2
        excludes = np.fmin(floor, lower_limit(middle)) > 1.0
        low_z = np.where(excludes, middle, low_z)
        high_z = np.where(excludes, high_z, middle)
    z_star = np.where(first == 0, 0.0, np.where(first >= grid.size, Z_MAX, (low_z + high_z) / 2))
    return np.where(testable, 2 * stats.norm.sf(z_star), 1.0)

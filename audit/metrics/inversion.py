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

from audit.metrics.bisection import bisect

#: Largest z searched when inverting an interval (p below 1e-300 is reported as 0).
Z_MAX = 40.0

#: Limits at many levels at once: ``levels`` of shape (L, n), one level per row and
#: quantity, give lower and upper limits of that shape (each row computed as at one level:
#: a level's limits are the same whatever other levels are asked with it).
StackedLimits = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def z_grid(z: float) -> np.ndarray:
    """The levels the family is nested over: 0 to 6 by 0.1, then to Z_MAX, and ``z`` itself."""
    return np.unique(np.r_[np.linspace(0.0, 6.0, 61), np.geomspace(6.0, Z_MAX, 21), z])


def at_levels(levels: np.ndarray, n: int) -> np.ndarray:
    """``levels`` (L) as the (L, n) array a :data:`StackedLimits` takes: each level for all n."""
    return np.broadcast_to(np.asarray(levels, dtype=np.float64)[:, None], (len(levels), n))


def nested_limits(limits: StackedLimits, z: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Limits at ``z`` of ``n`` quantities, widened to contain the limits at every grid level
    below ``z`` (all levels asked in one call).

    >>> def shrinking(levels):  # the lower limit falls to 0 as the level rises to 1
    ...     return 1.0 - np.minimum(levels, 1.0), np.full(levels.shape, 2.0)
    >>> nested_limits(shrinking, 1.96, 1)[0]  # the raw lower limit at 1.96 is 0.0
    array([0.])
    >>> def wobbling(levels):  # 0.5 near z = 1, 0.8 elsewhere
    ...     return np.where((0.9 < levels) & (levels < 1.1), 0.5, 0.8), np.full(levels.shape, 2.0)
    >>> nested_limits(wobbling, 1.96, 1)[0]  # 0.5 at z = 1.0 stays in the 95% interval
    array([0.5])
    """
    grid = z_grid(z)
    low, high = limits(at_levels(np.r_[z, grid[grid < z]], n))
    return np.fmin.reduce(low, axis=0), np.fmax.reduce(high, axis=0)


def on_grid(limits: StackedLimits, z: float, n: int) -> StackedLimits:
    """``limits`` asked once at every level of :func:`z_grid` and read from there after:
    :func:`nested_limits` and :func:`inverted_p_values` of the same ratios ask for the
    levels below ``z`` both (each level's limits the same whatever is asked with it).
    Levels off the grid (the bisection's) are asked of ``limits`` itself."""
    grid = z_grid(z)
    low, high = limits(at_levels(grid, n))

    def read(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        level = levels[:, 0]
        rows = np.minimum(np.searchsorted(grid, level), grid.size - 1)
        if (levels.shape[1] == n and np.array_equal(grid[rows], level)
                and bool(np.all(levels == level[:, None]))):
            return low[rows], high[rows]
        return limits(levels)

    return read


def inverted_p_values(limits: StackedLimits, z: float, testable: np.ndarray) -> np.ndarray:
    """Two-sided p-values ``2 * sf(z*)``, z* the largest level whose nested lower limit exceeds 1.

    ``limits`` gives the raw limits of the ratios (the lower ones are used)
    at levels per row and ratio. The nested lower limit falls on the grid
    of :func:`z_grid`; z* is found on the grid, then by bisection inside the
    first grid step where it reaches 1. ``z`` (the printed interval's level)
    is on the grid, so ``p < 2 * sf(z)`` exactly when the printed interval
    excludes 1. Ratios not ``testable`` (equal estimates, no error) get 1.
    """
    grid = z_grid(z)
    n = np.shape(testable)[0]
    raw = limits(at_levels(grid, n))[0]
    nested = np.fmin.accumulate(np.where(np.isnan(raw), -np.inf, raw), axis=0)
    fails = nested <= 1.0
    first = np.where(fails.any(axis=0), fails.argmax(axis=0), grid.size)
    columns = np.arange(raw.shape[1])
    below = np.where(first > 0, grid[np.maximum(first - 1, 0)], 0.0)
    above = np.where(first < grid.size, grid[np.minimum(first, grid.size - 1)], Z_MAX)
    floor = np.where(first > 0, nested[np.maximum(first - 1, 0), columns], np.inf)
    low_z, high_z = bisect(lambda levels: np.fmin(floor, limits(levels)[0]) > 1.0,
                           below, above, steps=40)
    z_star = np.where(first == 0, 0.0, np.where(first >= grid.size, Z_MAX, (low_z + high_z) / 2))
    return np.where(testable, 2 * stats.norm.sf(z_star), 1.0)

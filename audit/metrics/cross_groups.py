"""The cross-group FMR matrix: every trial counted once, both orientations read from it.

A non-mated 1:1 comparison between a person of group A and one of group B is
a trial of cell (A, B) *and* of cell (B, A): the score does not depend on which
image was called the probe (:func:`audit.metrics.cross_trials.cross_trial_set`). The
two cells hold the same trials, so they have the same errors, rate and
cluster-robust variance; only their ``n_subjects`` (the people on the cell's
first side) differ. Copying every A-B trial into both cells would double ten
million trials into eighteen million rows. Instead the trials are counted once
per *unordered* cell {A, B} (one MetricFrame over those cells, one set of
cluster counts), and each ordered row then reads its unordered row: the
counts' columns are gathered, not recomputed, and (B, A) takes B's side's
people as its ``n_subjects``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from audit.metrics import table, trials, unit_counts
from audit.metrics.groups import Breakdown, breakdowns, rate_tables, side_subjects
from audit.metrics.rates import warn_empty_groups
from audit.metrics.variance import ClusterCounts


def cross_breakdown(
    trial_set: trials.TrialSet,
    sensitive: tuple[str, ...],
    thresholds: np.ndarray,
    operating_points: tuple[str, ...],
    *,
    n_subjects_total: int,
    min_subjects: int,
    min_trials: int,
    counted_only: tuple[str, ...] = (),
) -> Breakdown:
    """FMR of every ordered cell (probe group, reference group) at every threshold.

    ``trial_set`` is :func:`audit.metrics.cross_trials.cross_trial_set` (unordered
    cells). Rows come in canonical order (threshold-major, then probe group,
    then reference group) with ``group`` the probe side and ``group_b`` the
    reference side, as every other breakdown's rows. ``counted_only`` as in
    :func:`audit.metrics.groups.breakdowns`.
    """
    units = unit_counts.unit_counts(trial_set, thresholds, operating_points)
    tables = rate_tables(units, n_subjects_total)
    grouping = trials.Grouping(sensitive, cross=True)
    (part,) = breakdowns([units], grouping, n_subjects_total=n_subjects_total,
                         min_subjects=min_subjects, min_trials=min_trials, warn_empty=False,
                         counted_only=counted_only, tables=[tables])
    group_of_cell, _ = grouping.groups(units.cell_table)  # the unordered row of each cell
    n_unordered, n_thresholds = len(group_of_cell), units.thresholds.size
    # The cell table is every unordered pair (i <= j) of n groups: n (n + 1) / 2 rows.
    n = (math.isqrt(8 * n_unordered + 1) - 1) // 2
    first, second = np.triu_indices(n)
    row_of = np.empty((n, n), dtype=np.int64)
    row_of[first, second] = group_of_cell
    row_of[second, first] = group_of_cell
    source = (np.arange(n_thresholds)[:, None] * n_unordered + row_of.ravel()[None, :]).ravel()
    turned = np.tile(np.tril(np.ones((n, n), dtype=bool), k=-1).ravel(), n_thresholds)
    other_side = side_subjects(units, tables.side_trials(group_of_cell, n_unordered),
                               group_of_cell, n_unordered, side=1)
    rows = part.rows.iloc[source].reset_index(drop=True)
    probe_side, reference_side = rows["group"].to_numpy(), rows[table.GROUP_B].to_numpy()
    rows["group"] = np.where(turned, reference_side, probe_side)
    rows[table.GROUP_B] = np.where(turned, probe_side, reference_side)
    rows["n_subjects"] = np.where(turned, np.tile(other_side, n_thresholds)[source],
                                  rows["n_subjects"].to_numpy())
    empty = rows.iloc[: n * n].loc[rows["n_trials"].iloc[: n * n] == 0]
    warn_empty_groups(trials.FMR_CROSS, grouping.name,
                      [a + trials.CROSS + b for a, b in zip(empty["group"], empty[table.GROUP_B],
                                                             strict=True)])
    return Breakdown(part.rate, grouping, rows, _gathered(part.clusters, source))


def _gathered(counts: ClusterCounts, source: np.ndarray) -> ClusterCounts:
    """The cluster counts of rows ``source`` of ``counts``: read, not copied (each unordered
    cell's counts and influence serve both of its ordered rows)."""
    return replace(counts, gather=source)

"""A rate's trials per subject and per subject pair, by cell: counted once, read by every grouping.

The cluster-robust intervals of a breakdown need each subject's trials in
each group (on both sides of a non-mated pair) and each subject pair's
trials in each group (:mod:`audit.metrics.groups`). None of these depend on
the threshold, and a grouping's groups are unions of cells, so they are
counted once per rate by cell (:func:`trial_tables`: passes over every trial,
ten million of them for a large log) and each grouping sums their columns
into its groups (:meth:`TrialTables.side_trials`, :meth:`TrialTables.pair_trials`):
a pass over cells, not over trials.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from audit.metrics.subject_pairs import canonical_rows, owner_keys
from audit.metrics.unit_counts import UnitCounts


@dataclass(frozen=True)
class TrialTables:
    """Trials of one rate's units by cell.

    ``sides`` holds a subjects x cells table (int32) per side of a unit (the
    unit's subject; a dyadic unit's reference subject too), or is None when
    such a table would be too large to hold dense; ``pairs`` (dyadic units
    only) is the subject pairs x cells table in canonical form (int32 counts).
    """

    sides: tuple[np.ndarray, ...] | None
    pairs: sparse.csr_matrix | None

    def side_trials(self, group_of_cell: np.ndarray, n_groups: int
                    ) -> tuple[np.ndarray, ...] | None:
        """Trials of every subject in every group, one table per side (None: not dense)."""
        if self.sides is None or _same(group_of_cell, n_groups):
            return self.sides
        out = []
        for by_cell in self.sides:
            by_group = np.zeros((by_cell.shape[0], n_groups), dtype=np.int32)
            for cell, group in enumerate(group_of_cell):
                by_group[:, group] += by_cell[:, cell]
            out.append(by_group)
        return tuple(out)

    def pair_trials(self, group_of_cell: np.ndarray, n_groups: int) -> sparse.csr_matrix:
        """Trials of every subject pair in every group (pairs x groups, canonical, int32):
        the cells' columns mapped to their groups, a pair's entries in one group summed."""
        table = self.pairs
        if _same(group_of_cell, n_groups):
            return table
        columns = (np.take(group_of_cell, table.indices).astype(np.int32, copy=False)
                   if n_groups > 1 else np.zeros(table.indices.size, dtype=np.int32))
        return canonical_rows(table.data.copy(), columns, table.indptr,
                              (table.shape[0], n_groups))


def _same(group_of_cell: np.ndarray, n_groups: int) -> bool:
    """Whether every cell is its own group (the grouping reads every cell column)."""
    return n_groups == group_of_cell.size and np.array_equal(group_of_cell, np.arange(n_groups))


def trial_tables(units: UnitCounts, n_owners: int, *, dense_limit: int) -> TrialTables:
    """Count ``units``' trials per subject (``n_owners`` subject codes) and cell, dense when
    the subjects x cells table has at most ``dense_limit`` entries, and per subject pair."""
    n_cells = len(units.cell_table)
    sides = None
    if n_owners * n_cells <= dense_limit:
        sides = owner_tables(units, n_owners, units.cells, n_cells)
    pairs = None if units.pairs is None else units.pairs.trials(units.cells, n_cells)
    return TrialTables(sides, pairs)


def owner_tables(units: UnitCounts, n_owners: int, columns: np.ndarray, n_columns: int
                 ) -> tuple[np.ndarray, ...]:
    """Trials of every subject (``n_owners`` codes) in every column, ``columns`` being each
    unit's (a cell, or a group), one owners x columns int32 table per side of a unit (its
    subject; a dyadic unit's reference subject too), each counted by one ``bincount``."""
    owners = (units.subjects,) if units.reference_subjects is None else (
        units.subjects, units.reference_subjects)
    # A dyadic unit is one trial: unweighted counts, the faster bincount.
    weights = None if units.reference_subjects is not None else units.trials
    return tuple(
        np.bincount(owner_keys(o, n_columns, columns), weights=weights,
                    minlength=n_owners * n_columns).astype(np.int32).reshape(n_owners, n_columns)
        for o in owners)


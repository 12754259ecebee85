"""Group breakdowns at operating points, through Fairlearn's MetricFrame.

The path from trials to METRICS rows:

1. :func:`audit.metrics.unit_counts.unit_counts` runs the counting kernel once over the rate's trials
   with one code per *unit* = (subject, cell), giving each unit's trials and
   errors at every operating threshold. Everything after works on these
   counts, never on rows of comparisons.
2. :func:`breakdowns` sums units into the groups of one grouping and collapses
   them to one row per (rate, threshold, group, decision) with its count.
   MetricFrame gets ``y_true`` = mated, ``y_pred`` = decision (match / alert)
   and the count as ``sample_weight`` through ``sample_params``; the rate, the
   operating threshold and any condition columns are ``control_features``, the
   demographic columns ``sensitive_features``. It is also where the
   per-subject (and, for non-mated pairs, per-pair-of-subjects) count
   matrices of the cluster-robust variance are built
   (:class:`audit.metrics.variance.ClusterCounts`).
3. :func:`audit.metrics.fairlearn_frame.metric_frame_rows` is the one adapter
   from MetricFrame's wide ``by_group`` result to long rows.

Counts always travel with the value: ``n_trials``, ``n_subjects`` (distinct
subjects with a trial in the group) and ``n_errors``. A group is ``sufficient``
when it has at least ``min_subjects`` subjects and ``min_trials`` trials and no
``unknown`` label; a cell of a cross-group matrix needs ``min_subjects`` on
*both* sides (probe and reference) (:func:`audit.metrics.trials.has_unknown_label`); a
group of the images table with no trial for a rate gets value NaN (never 0),
zero counts and ``sufficient=False``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from audit.metrics import table, trials
from audit.metrics.fairlearn_frame import (
    DECISION,
    MATED,
    RATE,
    THRESHOLD_INDEX,
    WEIGHT,
    metric_frame,
    metric_frame_rows,
    no_measured_rows,
)
from audit.metrics.rates import warn_empty_groups
from audit.metrics.sweep import distinct_subjects
from audit.metrics.trial_tables import TrialTables, owner_tables, trial_tables
from audit.metrics.unit_counts import UnitCounts
from audit.metrics.variance import ClusterCounts


#: Largest owners x cells trial table built dense (by ``bincount``), in entries.
DENSE_TRIALS = 20_000_000
@dataclass(frozen=True)
class Breakdown:
    """One rate by one grouping at every operating point.

    ``rows`` is in canonical order (threshold-major, then group) with the
    METRICS columns (intervals not yet set) plus ``stratum`` (control level
    within which groups are compared); column *k* of ``clusters`` holds each
    subject's (and subject pair's) counts for row *k*, the input of
    :mod:`audit.metrics.variance`.
    """

    rate: str
    grouping: trials.Grouping
    rows: pd.DataFrame
    clusters: ClusterCounts


def breakdowns(
    rates: list[UnitCounts],
    grouping: trials.Grouping,
    *,
    n_subjects_total: int,
    min_subjects: int,
    min_trials: int,
    warn_empty: bool = True,
    counted_only: tuple[str, ...] = (),
    tables: list[TrialTables] | None = None,
) -> list[Breakdown]:
    """Every group of ``grouping`` at every operating point, for several rates at once.

    The rates must share one cell table. One MetricFrame serves them all: the
    rate is a control feature beside the threshold. ``warn_empty=False`` leaves
    the warning about groups without trials to the caller (who relabels them).
    Rows of the operating points labelled in ``counted_only`` get their counts
    but no MetricFrame value (NaN): the engine's calibration windows, whose
    rates are read from the cluster counts and never published, would
    otherwise cost MetricFrame two of every three groups it evaluates. ``tables``, each
    rate's :func:`rate_tables`, are counted here when not given (a caller with several
    groupings counts them once).
    """
    if not rates:
        return []
    if tables is None:
        tables = [rate_tables(u, n_subjects_total) for u in rates]
    group_of_cell, group_table = grouping.groups(rates[0].cell_table)
    n_groups = len(group_table)
    sides = [t.side_trials(group_of_cell, n_groups) for t in tables]
    unit_groups = [_unit_groups(u, group_of_cell, s) for u, s in zip(rates, sides, strict=True)]
    sums = [_group_sums(u, group_of_cell, n_groups, s)
            for u, s in zip(rates, sides, strict=True)]
    collapsed = pd.concat(
        [
            _read(_collapsed(errors, n, group_table, mated=u.mated), u, counted_only).assign(
                **{RATE: u.rate})
            for u, (errors, n) in zip(rates, sums, strict=True)
        ],
        ignore_index=True,
    )
    measured = (
        metric_frame_rows(metric_frame(collapsed, grouping), grouping)
        if len(collapsed)
        else no_measured_rows()
    )
    limits = {"min_subjects": min_subjects, "min_trials": min_trials, "warn_empty": warn_empty}
    return [
        _breakdown(
            u,
            grouping,
            group_table,
            g,
            group_of_cell,
            measured[measured[RATE] == u.rate],
            counts,
            n_subjects_total,
            tables=(t, s),
            **limits,
        )
        for u, g, counts, t, s in zip(rates, unit_groups, sums, tables, sides, strict=True)
    ]


def rate_tables(units: UnitCounts, n_subjects_total: int) -> TrialTables:
    """A rate's trials per subject and pair by cell (:mod:`audit.metrics.trial_tables`),
    the subjects x cells tables dense up to :data:`DENSE_TRIALS` entries."""
    return trial_tables(units, n_subjects_total, dense_limit=DENSE_TRIALS)


def _unit_groups(units: UnitCounts, group_of_cell: np.ndarray,
                 sides: tuple[np.ndarray, ...] | None) -> np.ndarray | None:
    """Group of every unit, or None for dyadic units whose trials by group the tables hold:
    their per-trial groups are needed only for the few that err."""
    if units.reference_subjects is not None and sides is not None:
        return None
    return group_of_cell[units.cells]


def _group_sums(
    units: UnitCounts, group_of_cell: np.ndarray, n_groups: int,
    sides: tuple[np.ndarray, ...] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Errors per (threshold, group) and trials per group (a dyadic rate's from its
    subjects x groups table: each trial once, on its unit's side)."""
    n_thresholds = units.thresholds.size
    entries = units.errors.tocoo()
    errors = np.bincount(entries.col * n_groups + group_of_cell[units.cells[entries.row]],
                         weights=entries.data, minlength=n_thresholds * n_groups)
    dyadic = units.reference_subjects is not None  # a unit is one trial: unweighted counts
    if dyadic and sides is not None:
        n_trials = sides[0].sum(axis=0, dtype=np.int64)
    else:
        n_trials = np.bincount(group_of_cell[units.cells], weights=None if dyadic else
                               units.trials, minlength=n_groups)
    return errors.reshape(n_thresholds, n_groups).astype(np.int64), n_trials.astype(np.int64)


def _breakdown(
    units: UnitCounts,
    grouping: trials.Grouping,
    group_table: pd.DataFrame,
    unit_group: np.ndarray,
    group_of_cell: np.ndarray,
    measured: pd.DataFrame,
    counts: tuple[np.ndarray, np.ndarray],
    n_subjects_total: int,
    *,
    tables: tuple[TrialTables, tuple[np.ndarray, ...] | None],
    min_subjects: int,
    min_trials: int,
    warn_empty: bool,
) -> Breakdown:
    labels = grouping.labels(group_table)
    n_groups, n_thresholds = len(labels), units.thresholds.size
    errors, n_trials = counts
    _, sides = tables
    n_subjects = side_subjects(units, sides, group_of_cell, n_groups, side=0)
    if warn_empty:
        warn_empty_groups(
            units.rate, grouping.name, [g for g, n in zip(labels, n_trials, strict=True) if n == 0]
        )
    canonical = pd.DataFrame(
        {
            THRESHOLD_INDEX: np.repeat(np.arange(n_thresholds), n_groups),
            "group": np.tile(labels, n_thresholds),
            "stratum": np.tile(grouping.strata(group_table), n_thresholds),
            "n_subjects": np.tile(n_subjects, n_thresholds),
        }
    )
    rows = canonical.merge(measured.drop(columns=RATE), on=[THRESHOLD_INDEX, "group"], how="left")
    rows["n_trials"] = np.tile(n_trials, n_thresholds)  # the counts MetricFrame weighed
    rows["n_errors"] = errors.ravel()
    rows["metric"] = units.rate
    rows["grouping"] = grouping.name
    position = rows[THRESHOLD_INDEX].to_numpy()
    rows["threshold"] = units.thresholds[position]
    rows[table.OPERATING_POINT] = np.asarray(units.operating_points, dtype=object)[position]
    enough = (rows["n_subjects"] >= min_subjects) & (rows["n_trials"] >= min_trials)
    if grouping.cross:
        # A cell compares two groups: each side needs enough people of its own.
        references = side_subjects(units, sides, group_of_cell, n_groups, side=1)
        enough &= np.tile(references, n_thresholds) >= min_subjects
    rows["sufficient"] = enough & (rows["n_trials"] > 0) & ~trials.has_unknown_label(rows["group"])
    rows[table.STATISTIC] = table.RATE
    rows[table.GROUP_B] = None
    if grouping.cross:
        # The cell's two groups, each in its own column (the label "a -> b" is for display).
        probe_side, reference_side = grouping.sides(group_table)
        rows["group"] = np.tile(np.asarray(probe_side, dtype=object), n_thresholds)
        rows[table.GROUP_B] = np.tile(np.asarray(reference_side, dtype=object), n_thresholds)
    clusters = _cluster_counts(units, unit_group, n_groups, n_subjects_total,
                               group_of_cell=group_of_cell, tables=tables)
    return Breakdown(units.rate, grouping, rows, clusters)


def _collapsed(
    errors: np.ndarray, n_trials: np.ndarray, group_table: pd.DataFrame, *, mated: bool
) -> pd.DataFrame:
    """One row per (threshold, group, decision) with a positive count.

    For a non-mated rate the errors are decisions (false match / alert); for a
    mated rate they are non-decisions (non-match / miss).
    """
    decided = n_trials[None, :] - errors if mated else errors
    counts = np.stack([decided, n_trials[None, :] - decided], axis=-1)  # decision True, False
    threshold_index, group, decision = np.indices(counts.shape).reshape(3, -1)
    frame = group_table.iloc[group].reset_index(drop=True)
    frame[THRESHOLD_INDEX] = threshold_index
    frame[MATED] = mated
    frame[DECISION] = decision == 0
    frame[WEIGHT] = counts.ravel()
    return frame[frame[WEIGHT] > 0].reset_index(drop=True)


def _read(collapsed: pd.DataFrame, units: UnitCounts, counted_only: tuple[str, ...]
          ) -> pd.DataFrame:
    """The collapsed rows of the operating points MetricFrame evaluates."""
    skipped = np.flatnonzero(np.isin(np.asarray(units.operating_points, dtype=object),
                                     list(counted_only)))
    return collapsed[~np.isin(collapsed[THRESHOLD_INDEX].to_numpy(), skipped)]


def side_subjects(units: UnitCounts, sides: tuple[np.ndarray, ...] | None,
                  group_of_cell: np.ndarray, n_groups: int, *, side: int) -> np.ndarray:
    """Distinct subjects with a trial in each group, on one side (0: the unit's subject,
    1: a dyadic unit's reference subject), from the subjects x groups tables ``sides``
    (:meth:`audit.metrics.trial_tables.TrialTables.side_trials`) when they are dense."""
    if sides is not None:
        return (sides[side] > 0).sum(axis=0).astype(np.int64)
    return distinct_subjects(units.reference_subjects if side else units.subjects,
                             group_of_cell[units.cells], n_groups)


def dense_csr(dense: np.ndarray) -> sparse.csr_matrix:
    """``csr_matrix(dense)`` of a 2-d table, the same arrays, built by numpy masks (scipy
    goes through coordinates and fancy indexing: tens of milliseconds for a hundred
    thousand people's trials by group)."""
    nonzero = dense != 0
    indptr = np.zeros(dense.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.count_nonzero(nonzero, axis=1), out=indptr[1:])
    indices = np.broadcast_to(np.arange(dense.shape[1]), dense.shape)[nonzero]
    return sparse.csr_matrix((dense[nonzero], indices, indptr), shape=dense.shape)


def _cluster_counts(
    units: UnitCounts, unit_group: np.ndarray | None, n_groups: int, n_subjects_total: int, *,
    group_of_cell: np.ndarray, tables: tuple[TrialTables, tuple[np.ndarray, ...] | None],
) -> ClusterCounts:
    """Per-subject (and per subject pair) errors and trials, one column per canonical row.

    A dyadic unit counts for both of its subjects, and once for its
    unordered pair of subjects (:mod:`audit.metrics.variance`). Trials do not
    depend on the threshold: they are summed per group once and spread over
    the thresholds' columns (subjects), or kept per group (pairs). ``unit_group`` (each
    unit's group) may be None when ``tables`` (the rate's tables and their subjects x
    groups sums) hold the trials.
    """
    n_rows = units.thresholds.size * n_groups
    base = np.tile(np.arange(n_groups), units.thresholds.size)  # group of each row
    entries = units.errors.tocoo()
    error_rows = entries.col * n_groups + group_of_cell[units.cells[entries.row]]

    def errors_of(owners: tuple[np.ndarray, ...], n_owners: int) -> sparse.csr_matrix:
        """Errors (owners x rows), each unit once per owner."""
        k = len(owners)
        return sparse.csr_matrix(
            (np.tile(entries.data, k), (np.concatenate([o[entries.row] for o in owners]),
                                        np.tile(error_rows, k))), shape=(n_owners, n_rows))

    def trials_of(owners: tuple[np.ndarray, ...], n_owners: int) -> sparse.csr_matrix:
        """Trials (owners x groups), each unit once per owner."""
        sides = tables[1]
        if sides is None and n_owners * n_groups <= DENSE_TRIALS:
            sides = owner_tables(units, n_owners, unit_group, n_groups)  # too many cells to share
        if sides is not None:
            return dense_csr(sum(sides) if len(sides) > 1 else sides[0])
        weights = units.trials.astype(np.int32)  # counts: exact in any product, half the size
        if len(owners) == 1:  # no copies of ten-million-entry arrays
            return sparse.csr_matrix((weights, (owners[0], unit_group)), shape=(n_owners, n_groups))
        return sparse.csr_matrix((np.tile(weights, len(owners)), (
            np.concatenate(owners), np.tile(unit_group, len(owners)))), shape=(n_owners, n_groups))

    owners = (units.subjects,) if units.reference_subjects is None else (
        units.subjects, units.reference_subjects)
    errors = errors_of(owners, n_subjects_total)
    n = trials_of(owners, n_subjects_total)
    n = n if units.thresholds.size == 1 else n[:, base]  # one threshold: base is every column
    if units.reference_subjects is None:
        return ClusterCounts(errors, n)
    # The pairs' errors stay coordinates (no row pointers for ten million pairs without an
    # error); their trials come from the pairs' shared sort order.
    pairs = units.pairs
    pair_errors = sparse.coo_matrix((entries.data, (pairs.positions(entries.row), error_rows)),
                                    shape=(pairs.keys.size, n_rows))
    return ClusterCounts(errors, n, pair_errors, tables[0].pair_trials(group_of_cell, n_groups),
                         pairs.keys, base)

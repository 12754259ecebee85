"""Trials of the cross-group FMR matrix: each non-mated comparison in its unordered pair of groups.

Split from :mod:`audit.metrics.trials` (which holds the rates' trial sets and
the groupings): the matrix's trial set turns each comparison so that the
matrix is symmetric, and reuses what the FMR trial set already found.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.metrics.arrow_lookup import mapped_in
from audit.metrics.subject_pairs import SubjectPairs, owner_keys
from audit.metrics.trial_rows import TrialRows
from audit.metrics.trials import (
    FMR, FMR_CROSS, PROBE_PREFIX, REFERENCE_PREFIX, Grouping, ImageTable, TrialSet,
)


def cross_trial_set(
    scores: pa.Table, images: ImageTable, grouping: Grouping, *, subjects: pd.Index,
    fmr_pairs: SubjectPairs | None = None,
    fmr_subjects: tuple[np.ndarray, np.ndarray] | None = None,
    fmr_cells: tuple[np.ndarray, pd.DataFrame] | None = None,
    fmr_rows: tuple[np.ndarray, np.ndarray] | None = None,
) -> TrialSet:
    """Non-mated verification trials, cells = *unordered* pairs of groups {A, B}.

    A 1:1 score does not depend on which image is called the probe, so a
    comparison between groups A and B belongs to both cells (A, B) and (B, A)
    of the cross-group matrix: the matrix is symmetric whatever orientation the
    pairs were drawn in. Each trial is kept once, in the cell of its unordered
    pair (A <= B in :func:`audit.metrics.trials.natural_order`), turned so that ``subjects`` holds
    the person on A's side (the probe's when both are of one group) and
    ``reference_subjects`` the person on B's side;
    :func:`audit.metrics.cross_groups.cross_breakdown` reads both orientations
    from it without copying the trials. The cell table lists every unordered
    pair of the grouping's observed groups, row-major (``np.triu_indices``),
    so pairs with no comparison appear (and are reported as NaN, never 0).
    ``fmr_pairs``, the subject pairs of the FMR trials
    (:attr:`audit.metrics.unit_counts.UnitCounts.pairs`, same rows), spares
    sorting the pairs again; ``fmr_subjects``, their probe and reference subject codes
    (:attr:`audit.metrics.unit_counts.UnitCounts.subjects` and ``reference_subjects``),
    looking them up again; ``fmr_cells``, their probe cells and cell table
    (:attr:`audit.metrics.unit_counts.UnitCounts.cells`, ``cell_table``), the probe's group
    when the cell table has the grouping's columns; ``fmr_rows``, which rows of
    ``scores`` are FMR trials (:meth:`audit.metrics.trial_rows.TrialRows.kept`) and their
    scores, finding and reading them again.
    """
    if fmr_cells is not None and not set(grouping.sensitive) <= set(fmr_cells[1].columns):
        fmr_cells = None
    rows = TrialRows(scores, images, subjects)  # each look-up made only when read
    keep, kept_scores = fmr_rows or (rows.kept(FMR), None)
    image_cells, groups = images.cells(grouping.sensitive)
    if fmr_cells is None:
        probe = image_cells[rows.probe[keep]]
    else:
        probe = _group_of_cells(fmr_cells[1], groups, grouping.sensitive)[fmr_cells[0]]
    reference = _reference_cells(scores["reference_id"], keep, images, image_cells)
    first, second = np.triu_indices(len(groups))
    cell_of = np.full((len(groups), len(groups)), -1, dtype=np.int32)
    cell_of[first, second] = cell_of[second, first] = np.arange(first.size)  # either orientation
    cell_table = pd.concat(
        [groups.add_prefix(PROBE_PREFIX).iloc[first].reset_index(drop=True),
         groups.add_prefix(REFERENCE_PREFIX).iloc[second].reset_index(drop=True)], axis=1)
    turned = probe > reference
    probe_subject, reference_subject = fmr_subjects or (
        rows.probe_subject[keep], rows.reference_subject[keep])
    pair = owner_keys(probe, len(groups), reference)  # the trial's ordered pair of groups
    return TrialSet(
        rate=FMR_CROSS,
        mated=False,
        scores=rows.scores[keep] if kept_scores is None else kept_scores,
        subjects=np.where(turned, reference_subject, probe_subject),
        cells=np.take(cell_of.ravel(), pair),
        cell_table=cell_table,
        reference_subjects=np.where(turned, probe_subject, reference_subject),
        pairs=fmr_pairs,
    )


def _reference_cells(ids: pa.ChunkedArray, keep: np.ndarray, images: ImageTable,
                     image_cells: np.ndarray) -> np.ndarray:
    """Cell of the reference image of each row in ``keep``, looked up once per distinct id
    (no filtered copy of the column, no positions of every row); unknown ids raise."""
    cells = mapped_in(ids, images.id_values, image_cells.astype(np.int32, copy=False),
                      np.int32(-1))[keep]
    if cells.size and cells.min() < 0:
        images.positions(ids.filter(pa.array(keep)), table="scores reference_id")  # raises
    return cells


def _group_of_cells(cell_table: pd.DataFrame, groups: pd.DataFrame, columns: tuple[str, ...]
                    ) -> np.ndarray:
    """Code in ``groups`` (:meth:`ImageTable.cells` of ``columns``) of each cell-table row."""
    coded = groups.loc[:, list(columns)].assign(_code=np.arange(len(groups), dtype=np.int32))
    return cell_table.loc[:, list(columns)].merge(coded, on=list(columns), how="left")[
        "_code"].to_numpy(np.int32)

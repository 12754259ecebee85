"""The metrics stage: scores (+ images, FTA) in, METRICS rows out.

:func:`compute_metrics` is the stage function the CLI calls;
:func:`audit.metrics.summary.summarize_metrics` turns its table into a
JSON-able digest for scripts and run folders.

Operating points are the deployment thresholds of the audit spec and the
thresholds calibrated so that the *overall* observed FMR (from non-mated
verification scores) or FPIR (from non-mated searches, FTA in the
denominator) is at most each target. Every rate of every group is then read at
that single global threshold; the ``operating_point`` column
(:mod:`audit.metrics.table`) records where each threshold came from.

A trial kind absent from the scores table (e.g. no identification searches)
gives no rows for its rates. A rate whose trials are absent within a present
kind (e.g. no mated pairs: a dataset without identities) gives rows with value
NaN and zero counts ("not available"), with an
:class:`audit.metrics.rates.UndefinedRateWarning`, never 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.metrics import (checked, comparison_rows, cross_groups, cross_trials, groups,
                           score_limits, table, trials, unit_counts, variance)
from audit.metrics.comparison_rows import Measured
from audit.metrics.inputs import CheckedInputs, check_inputs, check_options
from audit.metrics.trial_rows import TrialRows
from audit.metrics.points import (
    WINDOW,
    OperatingPoints,
    Reference,
    calibrated,
    operating_points,
    point_columns,
)

NO_THRESHOLD = "no operating point: give deployment thresholds or targets with scores to calibrate"


def compute_metrics(
    scores: pd.DataFrame | pa.Table,
    images: pd.DataFrame | pa.Table,
    fta: pd.DataFrame | pa.Table | None = None,
    *,
    thresholds: tuple[float, ...] = (),
    labelled_thresholds: tuple[tuple[str, float], ...] = (),
    target_fmr: tuple[float, ...] = (),
    target_fpir: tuple[float, ...] = (),
    sweep: tuple[float, ...] = (),
    groupings: tuple[str, ...] = (),
    cross_groupings: tuple[str, ...] | None = None,
    min_subjects: int = 30,
    min_trials: int = 100,
    confidence: float = 0.95,
    interval: str = score_limits.CLUSTERED,
    fairness_alpha: float = 0.5,
) -> pa.Table:
    """Error rates, intervals and disparities at every operating point, by group.

    Parameters
    ----------
    scores : DataFrame or Table with :data:`audit.schema.SCORES` columns
    images : DataFrame or Table
        One row per image: ``image_id``, ``subject_id`` and the label columns
        the groupings name (missing labels become ``"unknown"``).
    fta : DataFrame or Table, default=None
        Per-image ``image_id``, ``fta`` (bool); gives ``fta`` rows when given.
    thresholds : tuple of float
        Deployment thresholds (``operating_point="deployment"``).
    labelled_thresholds : tuple of (label, threshold)
        Other fixed thresholds under their own ``operating_point`` label, e.g.
        ``("deepface-default", 0.93)``: audited, but not the deployment's.
    target_fmr, target_fpir : tuple of float
        Targets for overall FMR / FPIR; each gives one calibrated threshold
        (``operating_point="target_fmr=0.001"``), see
        :func:`audit.metrics.calibration.threshold_for_target`.
    sweep : tuple of float
        A threshold grid (``point_kind="sweep"``): rates and fixed-pair
        contrasts at each, for disparity-by-threshold figures. Their intervals
        and p-values are pointwise: sweep tests are not in the multiple-testing
        family, and sweep points get no descriptive summaries.
    groupings : tuple of str
        Breakdowns such as ``"gender"``, ``"gender x ethnicity"`` or
        ``"age_band | lighting"`` (:class:`audit.metrics.trials.Grouping`);
        ``"overall"`` is always included.
    cross_groupings : tuple of str, default=None
        Groupings that also get a cross-group FMR matrix (``fmr_cross``, group
        ``"<probe group> -> <reference group>"``). None: every grouping with one
        column and no control.
    min_subjects, min_trials : int, default=30, 100
        A group with fewer subjects or trials is ``sufficient=False`` and
        never enters disparity figures (a cross-group cell needs
        ``min_subjects`` on both sides).
    confidence : float, default=0.95
    interval : {"wilson-clustered", "wilson"}, default="wilson-clustered"
        Rates' intervals: Wilson at the cluster-robust effective sample size
        (:mod:`audit.metrics.variance`), or assuming independent trials
        (zero-error rates always get the one-sided bound). Contrasts always
        use the cluster-robust design effects. The computation is
        deterministic: the same inputs give the same table.
    fairness_alpha : float, default=0.5
        Weight of the non-mated rate in GARBE and FDR.

    Returns
    -------
    pyarrow.Table
        :data:`audit.metrics.table.SCHEMA` (METRICS plus structure columns):
        rate rows (``statistic="rate"``; metrics ``fmr``, ``fnmr``,
        ``fnmr_incl_fta``, ``fpir``, ``fnir``, ``fmr_cross``, ``fta``), then
        fixed-pair rows (:mod:`audit.metrics.contrasts`: ratio, difference,
        p-value, Benjamini-Hochberg adjusted p-value over every pair test of
        the table, detectable ratio), then descriptive summaries
        (:mod:`audit.metrics.disparity`).
    """
    check_options(
        min_subjects=min_subjects,
        min_trials=min_trials,
        confidence=confidence,
        interval=interval,
        fairness_alpha=fairness_alpha,
    )
    given = check_inputs(scores, images, fta, groupings, cross_groupings)
    # Arrow's allocator keeps the pages its temporaries freed (reading, checking: hundreds
    # of MiB at ten million trials); numpy cannot reuse them, so they go back first.
    pa.default_memory_pool().release_unused()
    points = operating_points(
        given.scores, thresholds=thresholds, labelled=labelled_thresholds,
        target_fmr=target_fmr, target_fpir=target_fpir, sweep=sweep,
    )
    if not points.published:
        raise ValueError(NO_THRESHOLD)
    parts = _breakdowns(given, points, min_subjects=min_subjects, min_trials=min_trials)
    influences = [variance.influence(part.clusters) for part in parts]
    references = _references(parts, influences)
    measured = [
        _measured(part, influence, points, references, interval=interval, confidence=confidence)
        for part, influence in zip(parts, influences, strict=True)
    ]
    return table.to_table(comparison_rows.table_rows(measured, confidence=confidence,
                                                    alpha=fairness_alpha))


def _breakdowns(
    given: CheckedInputs, points: OperatingPoints, *, min_subjects: int, min_trials: int
) -> list[groups.Breakdown]:
    """Every rate (and FTA) by every grouping, then the cross-group FMR matrices.

    Each breakdown is counted once here and measured later, because calibrated
    points need the overall breakdowns' influences before any group's interval.
    """
    limits = {"min_subjects": min_subjects, "min_trials": min_trials, "counted_only": (WINDOW,)}
    units, fmr_rows = _rate_units(given.scores, given.images, points, subjects=given.subjects,
                                  columns=given.columns)
    if given.fta is not None:
        units.append(unit_counts.fta_unit_counts(given.fta, given.images, subjects=given.subjects,
                                            columns=given.columns))
    n_total = len(given.subjects)
    tables = [groups.rate_tables(u, n_total) for u in units]  # shared by every grouping
    parts = [
        part
        for grouping in given.parsed
        for part in groups.breakdowns(units, grouping, n_subjects_total=n_total, tables=tables,
                                      **limits)
    ]
    # The FMR trials' rows, scores, pairs, subject codes and cells serve the matrix; the rest
    # of them can go.
    shared = [{"fmr_pairs": u.pairs, "fmr_subjects": (u.subjects, u.reference_subjects),
               "fmr_cells": (u.cells, u.cell_table), "fmr_rows": fmr_rows}
              for u in units if u.rate == trials.FMR.name]
    del units, tables  # the breakdowns hold what they need; the trials' can go before the matrix
    for grouping in given.crossed if shared else ():  # none: no 1:1 trials
        trial_set = cross_trials.cross_trial_set(given.scores, given.images, grouping,
                                           subjects=given.subjects, **shared[0])
        _share_pair_arrays(parts)
        parts.append(cross_groups.cross_breakdown(
            trial_set, grouping.sensitive, points.thresholds, points.labels,
            n_subjects_total=n_total, **limits))
        del trial_set  # as many trials as FMR's: not kept through the variances
    _share_pair_arrays(parts)
    return parts


def _share_pair_arrays(parts: list[groups.Breakdown]) -> None:
    """Let the breakdowns' pair-trial tables share their equal arrays (in place).

    Every FMR breakdown holds a table of ten million subject pairs: its row pointers
    and counts are often the same array (most pairs meet once, all in one cell of the
    cross-group matrix as overall), so one copy is kept. The tables are only read.
    """
    kept: list[np.ndarray] = []
    for part in parts:
        table = part.clusters.pair_trials
        for name in ("indptr", "indices", "data") if table is not None else ():
            mine = getattr(table, name)
            same = next((a for a in kept if a is mine or (
                a.dtype == mine.dtype and a.shape == mine.shape and np.array_equal(a, mine))),
                None)
            if same is None:
                kept.append(mine)
            else:
                setattr(table, name, same)


def _references(
    parts: list[groups.Breakdown], influences: list[tuple[np.ndarray, variance.Influence]]
) -> dict[str, Reference]:
    """Overall FMR and FPIR at every point index: what calibrated points are calibrated on."""
    return {
        part.rate: Reference(rates, spread)
        for part, (rates, spread) in zip(parts, influences, strict=True)
        if not part.grouping.sensitive and part.rate in (trials.FMR.name, trials.FPIR.name)
    }


def _measured(
    part: groups.Breakdown,
    influence: tuple[np.ndarray, variance.Influence],
    points: OperatingPoints,
    references: dict[str, Reference],
    *,
    interval: str,
    confidence: float,
) -> Measured:
    """Rate rows with their intervals and structure columns; window rows dropped.

    ``influence`` is :func:`audit.metrics.variance.influence` of the part's clusters.
    """
    rates, spread = influence
    rows = point_columns(part.rows, points, part.rate)
    if part.rate != trials.FTA:
        spread = calibrated(part.rows, rates, spread, points, references)
    keep = np.flatnonzero((rows[table.POINT_KIND] != WINDOW).to_numpy())
    rows, spread = rows.iloc[keep].reset_index(drop=True), spread.columns(keep)
    variances = np.where(np.isnan(rates[keep]), np.nan, spread.variance())
    n = rows["n_trials"].to_numpy(np.float64)
    deff = variance.design_effects(rates[keep], variances, n)
    if part.clusters.dyadic:
        limits = score_limits.skew_corrected(rates[keep], n, spread, deff)
    else:
        limits = score_limits.from_design_effects(rates[keep], n, deff, spread.clusters)
    rows = score_limits.set_intervals(rows, limits, interval=interval, confidence=confidence)
    return Measured(part, rows, deff, spread, limits)


def _rate_units(
    scores: pa.Table,
    images: trials.ImageTable,
    points: OperatingPoints,
    *,
    subjects: pd.Index,
    columns: tuple[str, ...],
) -> tuple[list[unit_counts.UnitCounts], tuple[np.ndarray, np.ndarray] | None]:
    """Unit counts of every rate whose trial kind occurs in the scores table, and which
    rows are FMR trials with their scores (None without FMR trials): the cross-group
    matrix reads the same trials."""
    kinds = checked.present_kinds(scores)
    rows = TrialRows(scores, images, subjects)  # each row looked up once for every rate
    units, fmr_rows = [], None
    for spec in trials.RATES.values():
        if spec.kind not in kinds:
            continue
        trial_set = trials.trial_set(scores, images, spec, subjects=subjects, columns=columns,
                                     rows=rows)
        if spec is trials.FMR:
            fmr_rows = (rows.kept(spec), trial_set.scores)
        units.append(unit_counts.unit_counts(trial_set, points.thresholds, points.labels))
    return units, fmr_rows



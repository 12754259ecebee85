"""Threshold sweeps, DET curves and calibrated thresholds from one counting kernel.

:func:`count_at_thresholds` is the only place that compares scores with
thresholds. Like scikit-learn's ``confusion_matrix_at_thresholds`` it returns
integer cumulative counts per threshold, here per group code as well: the
thresholds are sorted once, every score is placed in its threshold bin with one
``searchsorted``, one ``bincount`` counts (code, bin) pairs and a reverse
cumulative sum turns bins into "scores >= t" counts. No Python loop touches the
scores, and every rate (FMR, FNMR, FPIR, FNIR) is divided out of these counts
last. :func:`det_curve`, :func:`threshold_sweep` and the group breakdowns of
:mod:`audit.metrics.groups` all call it. Thresholds calibrated to a target rate
need no counting at all and live in :mod:`audit.metrics.calibration`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.metrics import checked, table, trials
from audit.metrics.rates import (
    EMPTY_DENOMINATOR,
    UndefinedRateWarning,
    check_scores,
    warn_empty_groups,
)

BAD_CODES = "codes must be integers in [0, n_codes), one per score"
NAN_THRESHOLDS = "thresholds must be numbers, not NaN"


@dataclass(frozen=True)
class ThresholdCounts:
    """Integer counts per (code, threshold) from :func:`count_at_thresholds`.

    Attributes
    ----------
    thresholds : ndarray of shape (n_thresholds,)
    at_or_above : ndarray of int64, shape (n_codes, n_thresholds)
        Number of scores of each code with ``score >= thresholds[j]``.
    scored : ndarray of int64, shape (n_codes,)
        Number of non-NaN scores of each code.
    missing : ndarray of int64, shape (n_codes,)
        Number of NaN scores (failures to acquire) of each code.
    """

    thresholds: np.ndarray
    at_or_above: np.ndarray
    scored: np.ndarray
    missing: np.ndarray


def count_at_thresholds(
    scores: object,
    thresholds: object = None,
    *,
    codes: object = None,
    n_codes: int | None = None,
) -> ThresholdCounts:
    """Count scores at or above each threshold, per code, in one vectorised pass.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Similarity scores; NaN (FTA) is counted in ``missing`` and never
        reaches a threshold.
    thresholds : array-like of shape (n_thresholds,), default=None
        Thresholds in any order, repeats allowed; results follow this order.
        None: every distinct non-NaN score, ascending (the DET/ROC points).
    codes : array-like of int, shape (n,), default=None
        Group (or subject, or cell) code of each score; None puts all in code 0.
    n_codes : int, default=None
        Number of codes; default ``max(codes) + 1``. Memory is
        ``8 * n_codes * (n_thresholds + 2)`` bytes.

    Returns
    -------
    ThresholdCounts
        ``at_or_above[g, j]`` counts scores of code ``g`` with
        ``score >= thresholds[j]``: a score equal to the threshold is counted.

    Notes
    -----
    Cost is one ``searchsorted`` of the scores into the sorted thresholds and
    one ``bincount``: about 0.5 s for 10 million scores, 1,000 thresholds and
    10 codes on one core.

    Examples
    --------
    >>> c = count_at_thresholds([0.1, 0.5, 0.5, float("nan"), 0.9], [0.5, 0.95])
    >>> c.at_or_above, c.scored, c.missing
    (array([[3, 0]]), array([4]), array([1]))
    """
    values = check_scores(scores, name="scores")
    if thresholds is None:
        grid = np.unique(values[~np.isnan(values)])
        order = np.arange(grid.size)
    else:
        requested = np.asarray(thresholds, dtype=np.float64).ravel()
        if np.isnan(requested).any():
            raise ValueError(NAN_THRESHOLDS)
        grid, order = np.unique(requested, return_inverse=True)
    group, n_codes = _check_codes(codes, n_codes, values.size)
    n_bins = grid.size + 2  # bins 0..T hold scores between thresholds; bin T+1 holds NaN
    bins = np.searchsorted(grid, values, side="right")
    bins[np.isnan(values)] = grid.size + 1
    hist = np.bincount(group * n_bins + bins, minlength=n_codes * n_bins).reshape(n_codes, n_bins)
    # A score in bin b satisfies grid[b-1] <= score < grid[b], so score >= grid[j] iff b > j.
    above = np.cumsum(hist[:, grid.size : 0 : -1], axis=1)[:, ::-1]
    return ThresholdCounts(
        thresholds=grid[order],
        at_or_above=above[:, order],
        scored=hist[:, : grid.size + 1].sum(axis=1),
        missing=hist[:, grid.size + 1],
    )


def _check_codes(codes: object, n_codes: int | None, n: int) -> tuple[np.ndarray, int]:
    if codes is None:
        return np.zeros(n, dtype=np.int64), 1 if n_codes is None else n_codes
    group = np.asarray(codes)
    if group.shape != (n,) or (n and not np.issubdtype(group.dtype, np.integer)):
        raise ValueError(BAD_CODES)
    group = group.astype(np.int64, copy=False)
    n_codes = int(group.max(initial=-1)) + 1 if n_codes is None else int(n_codes)
    if n and (group.min() < 0 or group.max() >= n_codes):
        raise ValueError(BAD_CODES)
    return group, n_codes


def det_curve(
    nonmated: object, mated: object, *, include_fta: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Detection error trade-off: FMR and FNMR at every distinct score.

    Parameters
    ----------
    nonmated, mated : array-like of shape (n_nonmated,), (n_mated,)
        Similarity scores of non-mated and mated comparisons; NaN marks FTA.
    include_fta : bool, default=False
        Count mated FTA comparisons as non-matches (see
        :func:`audit.metrics.rates.false_non_match_rate`). Non-mated FTA
        comparisons are always dropped.

    Returns
    -------
    fmr : ndarray of shape (n_thresholds,)
        :math:`\#\{s \ge t\}/n` over completed non-mated comparisons.
    fnmr : ndarray of shape (n_thresholds,)
        :math:`\#\{s < t\}/n` over mated comparisons.
    thresholds : ndarray of shape (n_thresholds,)
        Distinct non-NaN scores of both arrays, ascending; a score equal to a
        threshold is a match. An empty side gives an all-NaN rate with an
        :class:`audit.metrics.rates.UndefinedRateWarning`.

    References
    ----------
    ISO/IEC 19795-1:2021, DET curve; Martin et al. (1997), "The DET curve in
    assessment of detection task performance", Eurospeech.

    Examples
    --------
    >>> fmr, fnmr, t = det_curve([0.1, 0.4], [0.35, 0.8])
    >>> t
    array([0.1 , 0.35, 0.4 , 0.8 ])
    >>> fmr
    array([1. , 0.5, 0.5, 0. ])
    >>> fnmr
    array([0. , 0. , 0.5, 0.5])
    """
    negatives = check_scores(nonmated, name="nonmated")
    positives = check_scores(mated, name="mated")
    codes = np.repeat(np.array([0, 1]), [negatives.size, positives.size])
    counts = count_at_thresholds(np.concatenate([negatives, positives]), codes=codes, n_codes=2)
    fmr = _divide(
        counts.at_or_above[0], counts.scored[0], rate="FMR", what="completed non-mated comparisons"
    )
    mated_trials = counts.scored[1] + (counts.missing[1] if include_fta else 0)
    misses = mated_trials - counts.at_or_above[1]
    fnmr = _divide(misses, mated_trials, rate="FNMR", what="mated comparisons")
    return fmr, fnmr, counts.thresholds


def _divide(errors: np.ndarray, trials: int, *, rate: str, what: str) -> np.ndarray:
    if trials == 0:
        warnings.warn(
            EMPTY_DENOMINATOR.format(rate=rate, trials=what), UndefinedRateWarning, stacklevel=3
        )
        return np.full(np.shape(errors), np.nan)
    return np.asarray(errors, dtype=np.float64) / trials


def threshold_sweep(
    scores: pd.DataFrame | pa.Table,
    images: pd.DataFrame | pa.Table,
    *,
    thresholds: object,
    groupings: tuple[str, ...] = (trials.OVERALL,),
    rates: tuple[str, ...] = tuple(trials.RATES),
    min_subjects: int = 0,
    min_trials: int = 0,
) -> pa.Table:
    """FMR, FNMR, FPIR and FNIR against threshold, per group, as METRICS rows.

    Parameters
    ----------
    scores : DataFrame or Table with :data:`audit.schema.SCORES` columns
    images : DataFrame or Table
        ``image_id``, ``subject_id`` and the label columns the groupings name.
    thresholds : array-like of float
        The sweep grid.
    groupings : tuple of str, default=("overall",)
        Grouping specs as in :class:`audit.metrics.trials.Grouping`.
    rates : tuple of str, default=all of :data:`audit.metrics.trials.RATES`
    min_subjects, min_trials : int, default=0
        Groups below either get ``sufficient=False``.

    Returns
    -------
    pyarrow.Table
        :data:`audit.metrics.table.SCHEMA` rows with ``operating_point="sweep"``,
        no intervals (``ci_*`` null): one row per rate, group and threshold.
        Each rate's scores pass through :func:`count_at_thresholds` once, with
        the finest cell of all groupings as code; groups are sums of cells.
        A group with no trials has value NaN (and so does a rate with no trials
        at all), never 0; rates of a trial kind absent from ``scores`` give no
        rows.
    """
    parsed = tuple(trials.Grouping.parse(g) for g in groupings)
    checked.check_grouping_columns(parsed, images)
    columns = tuple(dict.fromkeys(c for g in parsed for c in g.sensitive + g.control))
    table_ = checked.check_scores_table(scores)
    image_table = checked.check_images(images, columns)
    subjects = checked.subject_index(table_, image_table)
    grid = np.asarray(thresholds, dtype=np.float64).ravel()
    frames = []
    kinds = checked.present_kinds(table_)
    for rate in (r for r in rates if trials.RATES[r].kind in kinds):
        trial_set = trials.trial_set(
            table_, image_table, trials.RATES[rate], subjects=subjects, columns=columns
        )
        counts = count_at_thresholds(
            trial_set.scores, grid, codes=trial_set.cells, n_codes=len(trial_set.cell_table)
        )
        for grouping in parsed:
            rows = _sweep_rows(
                trial_set, counts, grouping, min_subjects=min_subjects, min_trials=min_trials
            )
            frames.append(rows)
    return table.to_table(pd.concat(frames, ignore_index=True))


def _sweep_rows(
    trial_set: trials.TrialSet,
    counts: ThresholdCounts,
    grouping: trials.Grouping,
    *,
    min_subjects: int,
    min_trials: int,
) -> pd.DataFrame:
    group_of_cell, group_table = grouping.groups(trial_set.cell_table)
    labels = grouping.labels(group_table)
    n_groups = len(labels)
    above = np.zeros((n_groups, counts.thresholds.size), dtype=np.int64)
    np.add.at(above, group_of_cell, counts.at_or_above)
    n_trials = np.zeros(n_groups, dtype=np.int64)
    np.add.at(n_trials, group_of_cell, counts.scored + counts.missing)
    errors = n_trials[:, None] - above if trial_set.mated else above
    with np.errstate(invalid="ignore", divide="ignore"):
        value = errors / n_trials[:, None]
    n_subjects = distinct_subjects(trial_set.subjects, group_of_cell[trial_set.cells], n_groups)
    warn_empty_groups(
        trial_set.rate, grouping.name, [g for g, n in zip(labels, n_trials, strict=True) if n == 0]
    )
    sufficient = ((n_subjects >= min_subjects) & (n_trials >= min_trials) & (n_trials > 0)
                  & ~trials.has_unknown_label(labels))
    n_thresholds = counts.thresholds.size
    return pd.DataFrame(
        {
            "metric": trial_set.rate,
            "grouping": grouping.name,
            "group": np.repeat(labels, n_thresholds),
            "threshold": np.tile(counts.thresholds, n_groups),
            "value": value.ravel(),
            "ci_low": np.nan,
            "ci_high": np.nan,
            "ci_method": None,
            "n_trials": np.repeat(n_trials, n_thresholds),
            "n_subjects": np.repeat(n_subjects, n_thresholds),
            "n_errors": errors.ravel(),
            "sufficient": np.repeat(sufficient, n_thresholds),
            table.OPERATING_POINT: table.SWEEP,
            table.STATISTIC: table.RATE,
            table.GROUP_B: None,
            table.POINT_KIND: table.SWEEP,
            table.TARGET: np.nan,
        }
    )


#: Largest (groups x subjects) table :func:`distinct_subjects` marks directly, in bytes.
DIRECT_MARKS = 200_000_000


def distinct_subjects(subjects: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Number of distinct subjects with at least one trial in each group.

    Marks (group, subject) in a boolean table, one linear pass, when the table
    is at most :data:`DIRECT_MARKS` bytes; otherwise sorts the codes.
    """
    base = int(subjects.max(initial=0)) + 1
    codes = groups.astype(np.int64) * base + subjects
    if n_groups * base <= DIRECT_MARKS:
        seen = np.zeros(n_groups * base, dtype=bool)
        seen[codes] = True
        return seen.reshape(n_groups, base).sum(axis=1).astype(np.int64)
    pairs = np.unique(codes)
    return np.bincount(pairs // base, minlength=n_groups).astype(np.int64)

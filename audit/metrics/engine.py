"""The metrics stage: scores (+ images, FTA) in, METRICS rows out.

:func:`compute_metrics` is the stage function the CLI calls;
:func:`summarize_metrics` turns its table into a JSON-able summary for
reports and re-audit comparisons.

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

import itertools
import math
import numbers
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from audit.metrics import disparity, groups, table, trials
from audit.metrics.intervals import bootstrap_rates
from audit.metrics.projection import PROJECTED
from audit.metrics.rates import UndefinedRateWarning
from audit.metrics.sweep import threshold_for_target

BAD_OPTION = "{name} must be {what}, got {value!r}"
NO_THRESHOLD = "no operating point: give deployment thresholds or targets with scores to calibrate"
SKIPPED_TARGET = "{label}: no scores to calibrate on; this operating point is skipped"
#: Metric names of rate rows (the rest are disparity, projection or test rows).
RATE_METRICS = (*trials.RATES, trials.FMR_CROSS, trials.FTA)
#: Non-mated and mated rate pairs summarised together by GARBE and FDR.
COMBINED = (("fmr", "fnmr"), ("fpir", "fnir"))


def compute_metrics(
    scores: pd.DataFrame | pa.Table,
    images: pd.DataFrame | pa.Table,
    fta: pd.DataFrame | pa.Table | None = None,
    *,
    thresholds: tuple[float, ...] = (),
    labelled_thresholds: tuple[tuple[str, float], ...] = (),
    target_fmr: tuple[float, ...] = (),
    target_fpir: tuple[float, ...] = (),
    groupings: tuple[str, ...] = (),
    cross_groupings: tuple[str, ...] | None = None,
    min_subjects: int = 30,
    min_trials: int = 100,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    interval: str = groups.BOOTSTRAP,
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
        :func:`audit.metrics.sweep.threshold_for_target`.
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
        never enters disparity figures.
    n_boot : int, default=1000
        Subject-bootstrap replicates (0: none; then ``interval`` must be
        ``"wilson"`` and disparities get no interval).
    seed : int, default=0
        Seed of the bootstrap and Monte Carlo tests; same seed, same table.
    confidence : float, default=0.95
    interval : {"bootstrap-subject", "wilson"}, default="bootstrap-subject"
        Interval reported for rates (zero-error rates always get the one-sided
        bound).
    fairness_alpha : float, default=0.5
        Weight of the non-mated rate in GARBE and FDR.

    Returns
    -------
    pyarrow.Table
        :data:`audit.metrics.table.SCHEMA` (METRICS plus ``operating_point``):
        rate rows (``fmr``, ``fnmr``, ``fnmr_incl_fta``, ``fpir``, ``fnir``,
        ``fmr_cross``, ``fta``) then disparity rows
        (:mod:`audit.metrics.disparity`).
    """
    _check_options(
        min_subjects=min_subjects,
        min_trials=min_trials,
        n_boot=n_boot,
        confidence=confidence,
        interval=interval,
        fairness_alpha=fairness_alpha,
    )
    parsed = _groupings(groupings)
    crossed = _cross_groupings(parsed, cross_groupings)
    trials.check_grouping_columns(parsed + crossed, images)
    columns = tuple(dict.fromkeys(c for g in parsed for c in g.sensitive + g.control))
    scores_table = trials.check_scores_table(scores)
    labels = tuple(dict.fromkeys(columns + tuple(c for g in crossed for c in g.sensitive)))
    image_table = trials.check_images(images, labels)
    fta_frame = None if fta is None else trials.check_fta(fta)
    subjects = trials.subject_index(scores_table, image_table)
    points = _operating_points(scores_table, thresholds, labelled_thresholds, target_fmr,
                               target_fpir)
    limits = {"min_subjects": min_subjects, "min_trials": min_trials}
    units = _rate_units(scores_table, image_table, points, subjects=subjects, columns=columns)
    if fta_frame is not None:
        units.append(
            groups.fta_unit_counts(fta_frame, image_table, subjects=subjects, columns=columns)
        )
    n_total = len(subjects)
    parts = [
        part
        for grouping in parsed
        for part in groups.breakdowns(units, grouping, n_subjects_total=n_total, **limits)
    ]
    for grouping in crossed:
        trial_set = trials.cross_trial_set(scores_table, image_table, grouping, subjects=subjects)
        cross_units = [groups.unit_counts(trial_set, *points)]
        cross = trials.Grouping(grouping.sensitive, cross=True)
        parts.extend(groups.breakdowns(cross_units, cross, n_subjects_total=n_total, **limits))
    replicates = _replicates(parts, n_boot=n_boot, seed=seed)
    rate_rows = [
        groups.set_intervals(p.rows, r, interval=interval, confidence=confidence)
        for p, r in zip(parts, replicates, strict=True)
    ]
    disparity_rows = _disparity(parts, rate_rows, replicates, confidence=confidence, seed=seed)
    combined_rows = _combined(
        parts, rate_rows, replicates, alpha=fairness_alpha, confidence=confidence
    )
    frame = pd.concat(
        [r.loc[:, table.COLUMNS] for r in rate_rows] + disparity_rows + combined_rows,
        ignore_index=True,
    )
    return table.to_table(frame)


def _check_options(**options: object) -> None:
    checks = {
        "min_subjects": (_non_negative_integer, "a non-negative integer"),
        "min_trials": (_non_negative_integer, "a non-negative integer"),
        "n_boot": (_non_negative_integer, "a non-negative integer"),
        "confidence": (lambda v: 0 < v < 1, "in (0, 1)"),
        "interval": (
            lambda v: v in (groups.BOOTSTRAP, groups.WILSON),
            "'bootstrap-subject' or 'wilson'",
        ),
        "fairness_alpha": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    }
    for name, value in options.items():
        ok, what = checks[name]
        if not ok(value):
            raise ValueError(BAD_OPTION.format(name=name, what=what, value=value))
    if options["interval"] == groups.BOOTSTRAP and options["n_boot"] == 0:
        raise ValueError(
            BAD_OPTION.format(
                name="n_boot", what="positive with 'bootstrap-subject' intervals", value=0
            )
        )


def _non_negative_integer(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0


def _groupings(groupings: tuple[str, ...]) -> tuple[trials.Grouping, ...]:
    parsed = [trials.Grouping.parse(trials.OVERALL)] + [trials.Grouping.parse(g) for g in groupings]
    return tuple(dict.fromkeys(parsed))


def _cross_groupings(
    parsed: tuple[trials.Grouping, ...], cross_groupings: tuple[str, ...] | None
) -> tuple[trials.Grouping, ...]:
    if cross_groupings is None:
        return tuple(g for g in parsed if len(g.sensitive) == 1 and not g.control)
    crossed = tuple(trials.Grouping.parse(g) for g in cross_groupings)
    for grouping in crossed:
        if grouping.control or not grouping.sensitive:
            raise ValueError(
                BAD_OPTION.format(
                    name="cross_groupings", what="groupings without controls", value=grouping.name
                )
            )
    return crossed


def _operating_points(
    scores: pa.Table,
    thresholds: tuple[float, ...],
    labelled: tuple[tuple[str, float], ...],
    target_fmr: tuple[float, ...],
    target_fpir: tuple[float, ...],
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The operating thresholds and their labels, deployment first."""
    points = [(table.DEPLOYMENT, float(t)) for t in thresholds]
    points += [(str(label), float(t)) for label, t in labelled]
    for spec, targets, keep_fta in (
        (trials.FMR, target_fmr, False),
        (trials.FPIR, target_fpir, True),
    ):
        nonmated = _rate_scores(scores, spec)
        for target in targets:
            label = table.target_label(spec.name, target)
            t = threshold_for_target(nonmated, target, fta_in_denominator=keep_fta)
            if math.isnan(t):
                warnings.warn(
                    SKIPPED_TARGET.format(label=label), UndefinedRateWarning, stacklevel=3
                )
                continue
            points.append((label, t))
    if not points:
        raise ValueError(NO_THRESHOLD)
    labels, values = zip(*points, strict=True)
    return np.array(values, dtype=np.float64), tuple(labels)


def _rate_scores(scores: pa.Table, spec: trials.RateSpec) -> np.ndarray:
    kind = pc.equal(scores["trial_kind"], spec.kind)
    chosen = pc.and_(kind, pc.equal(scores["mated"], spec.mated))
    return scores.filter(chosen)["score"].to_numpy()


def _rate_units(
    scores: pa.Table,
    images: trials.ImageTable,
    points: tuple[np.ndarray, tuple[str, ...]],
    *,
    subjects: pd.Index,
    columns: tuple[str, ...],
) -> list[groups.UnitCounts]:
    """Unit counts of every rate whose trial kind occurs in the scores table."""
    kinds = trials.present_kinds(scores)
    return [
        groups.unit_counts(
            trials.trial_set(scores, images, spec, subjects=subjects, columns=columns), *points
        )
        for spec in trials.RATES.values()
        if spec.kind in kinds
    ]


def _replicates(
    parts: list[groups.Breakdown], *, n_boot: int, seed: int
) -> list[np.ndarray | None]:
    """Subject-bootstrap replicates of every row, one weight draw shared by all rates."""
    if n_boot == 0:
        return [None] * len(parts)
    errors = sparse.hstack([p.errors for p in parts], format="csr")
    n = sparse.hstack([p.trials for p in parts], format="csr")
    everything = bootstrap_rates(errors, n, n_boot=n_boot, seed=seed)
    bounds = np.cumsum([0] + [p.errors.shape[1] for p in parts])
    return [everything[:, a:b] for a, b in itertools.pairwise(bounds)]


def _slices(rows: pd.DataFrame) -> list[np.ndarray]:
    """Positions of each (threshold, stratum) block of a breakdown's rows."""
    blocks = rows.groupby([groups.THRESHOLD_INDEX, "stratum"], sort=False).indices
    return list(blocks.values())


def _disparity(
    parts: list[groups.Breakdown],
    rate_rows: list[pd.DataFrame],
    replicates: list[np.ndarray | None],
    *,
    confidence: float,
    seed: int,
) -> list[pd.DataFrame]:
    out = []
    for part, rows, reps in zip(parts, rate_rows, replicates, strict=True):
        if not part.grouping.sensitive or part.grouping.cross:
            continue
        for block in _slices(rows):
            block_reps = None if reps is None else reps[:, block]
            out.append(
                disparity.disparity_rows(
                    rows.iloc[block], block_reps, confidence=confidence, seed=seed
                )
            )
    return out


def _combined(
    parts: list[groups.Breakdown],
    rate_rows: list[pd.DataFrame],
    replicates: list[np.ndarray | None],
    *,
    alpha: float,
    confidence: float,
) -> list[pd.DataFrame]:
    found = {
        (p.rate, p.grouping): (rows, reps)
        for p, rows, reps in zip(parts, rate_rows, replicates, strict=True)
    }
    out = []
    for part in parts:
        if not part.grouping.sensitive or part.grouping.cross:
            continue
        for non_mated, mated in COMBINED:
            if part.rate != non_mated or (mated, part.grouping) not in found:
                continue
            (a_rows, a_reps), (b_rows, b_reps) = (
                found[(non_mated, part.grouping)],
                found[(mated, part.grouping)],
            )
            for block in _slices(a_rows):
                out.append(
                    disparity.combined_rows(
                        a_rows.iloc[block],
                        b_rows.iloc[block],
                        None if a_reps is None else a_reps[:, block],
                        None if b_reps is None else b_reps[:, block],
                        alpha=alpha,
                        confidence=confidence,
                    )
                )
    return out


def summarize_metrics(metrics: pa.Table) -> dict:
    """A JSON-able digest of a METRICS table for reports and run comparisons.

    Returns a dict with ``operating_points`` (label and threshold), ``overall``
    (every overall rate row), ``not_available`` (overall rates with no
    trials), ``groupings``: per grouping, metric and operating point, the
    highest and lowest *sufficient* groups, the max/min ratio with its
    interval, the equality-test p-value and the insufficient groups (never
    ranked), and ``projection`` (overall rows of
    :func:`audit.metrics.projection.project_deployment`, when the table holds
    them). Sweep rows are left out. NaN becomes None and an infinite value (a
    ratio over a zero rate) the string ``"inf"``, so the digest is strict JSON.
    """
    frame = metrics.to_pandas()
    frame = frame[frame[table.OPERATING_POINT].fillna("") != table.SWEEP]
    rates = frame[frame["metric"].isin(RATE_METRICS)]
    overall = rates[rates["grouping"] == trials.OVERALL]
    points = (
        overall.dropna(subset=[table.OPERATING_POINT])
        .drop_duplicates(table.OPERATING_POINT)
        .loc[:, [table.OPERATING_POINT, "threshold"]]
    )
    projected = frame["metric"].isin(PROJECTED) & (frame["grouping"] == trials.OVERALL)
    summary = {
        "operating_points": _records(points),
        "overall": _records(overall),
        "not_available": sorted(set(overall.loc[overall["n_trials"] == 0, "metric"])),
        "groupings": {},
        "projection": _records(frame[projected]),
    }
    by_group = rates[(rates["grouping"] != trials.OVERALL) & (rates["metric"] != trials.FMR_CROSS)]
    keys = ["grouping", "metric", table.OPERATING_POINT, "threshold"]
    for key, block in by_group.groupby(keys, dropna=False, sort=False):
        summary["groupings"].setdefault(key[0], []).append(
            _grouping_digest(frame, dict(zip(keys, key, strict=True)), block)
        )
    return summary


def _grouping_digest(frame: pd.DataFrame, key: dict, block: pd.DataFrame) -> dict:
    ranked = block[block["sufficient"]].sort_values("value", ascending=False, kind="stable")
    same = (frame["grouping"] == key["grouping"]) & (
        frame[table.OPERATING_POINT].fillna("") == (key[table.OPERATING_POINT] or "")
    )
    if pd.notna(key["threshold"]):
        same &= frame["threshold"] == key["threshold"]

    def statistic(name: str) -> list[dict]:
        return _records(frame[same & (frame["metric"] == f"{key['metric']}:{name}")])

    return {
        "metric": key["metric"],
        "operating_point": _plain(key[table.OPERATING_POINT]),
        "threshold": _plain(key["threshold"]),
        "highest": _records(ranked.head(1)),
        "lowest": _records(ranked.tail(1)),
        "max_min_ratio": statistic("max_min_ratio"),
        "equality_p": statistic("equality_p"),
        "insufficient_groups": block.loc[~block["sufficient"], "group"].tolist(),
    }


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value: object) -> object:
    """Python scalar for strict JSON: NaN and None become None, +/-inf "inf"/"-inf"."""
    if isinstance(value, np.generic):
        return _plain(value.item())
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value

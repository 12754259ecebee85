"""The metrics step of an audit: every row the run's metrics table holds.

Rates at the operating points, per-group threshold sweeps, fixed-pair contrasts
on a grid dense where decisions are made, and the deployment projection (from
the whole-gallery watchlist-size curve when there are embeddings). Kept apart
from :mod:`audit.runs.workflow`, which only wires the stages and writes the
folder, because this is where the spec's numbers turn into what the report reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import layout as runs
from ..choices import DEEPFACE_DEFAULT
from ..config import AuditSpec
from .provenance import ThresholdOrigin

#: Thresholds per sweep: enough for smooth curves, few enough for a small table.
SWEEP_POINTS = 200
#: Thresholds of the disparity-by-threshold contrasts (each costs a pass over every pair):
#: where the non-mated scores' upper tail puts the false match rate at 10% down to 1e-5,
#: evenly on a log scale, so the grid is dense where decisions are made.
CONTRAST_SWEEP_POINTS = 41
CONTRAST_SWEEP_RATES = (1e-1, 1e-5)


def measure(spec: AuditSpec, manifest: pa.Table, faces: pa.Table, scores: pa.Table,
            deployment: dict[float, ThresholdOrigin]) -> pa.Table:
    """Rates at the operating points, per-group sweeps and the deployment projection."""
    from ..metrics import compute_metrics, project_deployment
    from ..metrics.conditions import failures_to_acquire, images_with_conditions
    from ..metrics.size_projection import project_from_curve
    from ..metrics.trials import single_groupings

    stats, groupings = spec.statistics, spec.groupings
    images = images_with_conditions(manifest, faces, spec.bands.model_dump())
    fixed = [t for t, origin in deployment.items() if origin.deployed]
    labelled = [(DEEPFACE_DEFAULT, t) for t, origin in deployment.items() if not origin.deployed]
    rates = compute_metrics(
        scores, images, failures_to_acquire(faces),
        thresholds=tuple(fixed), labelled_thresholds=tuple(labelled),
        target_fmr=tuple(spec.thresholds.target_fmr),
        target_fpir=tuple(spec.thresholds.target_fpir),
        groupings=tuple(groupings.sensitive) + tuple(groupings.conditions),
        min_subjects=stats.min_subjects, min_trials=stats.min_trials,
        confidence=stats.confidence, interval=stats.interval,
    )
    single = single_groupings(groupings.sensitive)
    parts = [rates, *(part.cast(rates.schema) for part in threshold_sweeps(
        scores, images, deployment=tuple(deployment), groupings=single,
        min_subjects=stats.min_subjects, min_trials=stats.min_trials,
        confidence=stats.confidence, interval=stats.interval))]
    if _has_embeddings(faces):
        curve = size_curve(spec, manifest, faces, rates, images)
        parts += [curve, project_from_curve(
            curve, crowd_size=spec.projection.crowd,
            watchlist_share=spec.projection.share_on_watchlist,
            watchlist_size=spec.projection.watchlist,
            per_person=spec.projection.captures_per_person > 1)]
    else:  # scores without embeddings (e.g. simulated): the rates as measured, with a warning
        parts.append(project_deployment(
            rates, crowd_size=spec.projection.crowd,
            watchlist_share=spec.projection.share_on_watchlist,
            watchlist_size=spec.projection.watchlist, audit_watchlist_size=spec.watchlist.size
        ).cast(rates.schema))
    return pa.concat_tables(parts, promote_options="default")


def threshold_sweeps(scores: pa.Table, images: pd.DataFrame, *, deployment: tuple[float, ...],
                     groupings: tuple[str, ...], min_subjects: int, min_trials: int,
                     confidence: float, interval: str) -> list[pa.Table]:
    """The sweep rows of a run, for the report's DET curves and threshold figures.

    Rates by group (``overall`` and ``groupings``, single columns) at
    :data:`SWEEP_POINTS` score quantiles and each ``deployment`` threshold, and
    fixed-pair contrasts on the coarser :func:`contrast_thresholds` grid for the
    disparity-by-threshold figure. ``lfr-audit metrics --sweep`` adds the same rows.
    """
    from ..metrics import compute_metrics, table, threshold_sweep

    finite = scores.column("score").drop_null().to_numpy()
    grid = np.unique(np.concatenate([
        np.quantile(finite, np.linspace(0, 1, SWEEP_POINTS)) if finite.size else [],
        list(deployment)]))
    sweep = threshold_sweep(scores, images, thresholds=grid, groupings=("overall", *groupings),
                            min_subjects=min_subjects, min_trials=min_trials)
    # Fixed-pair contrasts across a coarser grid, for the disparity-by-threshold figure
    # (its rate rows duplicate the sweep above, so only the pair rows are kept).
    contrast_grid = np.unique(np.concatenate([contrast_thresholds(scores), list(deployment)]))
    if contrast_grid.size == 0 or not groupings:
        return [sweep]
    swept = compute_metrics(
        scores, images, sweep=tuple(contrast_grid), groupings=groupings, cross_groupings=(),
        min_subjects=min_subjects, min_trials=min_trials, confidence=confidence,
        interval=interval).to_pandas()
    return [sweep, table.to_table(swept[swept[table.STATISTIC] != table.RATE])]


def _has_embeddings(faces: pa.Table) -> bool:
    """True when every ``ok`` face has an embedding (the whole-gallery search needs them)."""
    ok = faces.filter(pc.equal(faces.column("status"), "ok"))
    return ok.num_rows > 0 and ok.column("embedding").null_count == 0


def watchlist_composition(spec: AuditSpec, manifest: pa.Table):
    """The spec's watchlist make-up, checked against the data's labels (ValueError)."""
    from ..matching.makeup import spec_composition

    return spec_composition(spec.watchlist.composition, spec.watchlist.composition_by, manifest)


def size_curve(spec: AuditSpec, manifest: pa.Table, faces: pa.Table, rates: pa.Table,
               images: pd.DataFrame) -> pa.Table:
    """FPIR and FNIR against watchlist size at every audited point, from the whole gallery
    (:mod:`audit.matching.gallery`, :mod:`audit.metrics.watchlist_curve`), under the
    spec's watchlist make-up, with the make-up's rows for the report."""
    from ..matching.gallery import gallery_counts
    from ..metrics import table
    from ..metrics.trials import single_groupings
    from ..metrics.watchlist_curve import (composition_rows, curve_rows, largest_measurable,
                                           size_grid)

    frame = rates.to_pandas()
    points = frame[(frame["metric"] == "fpir") & (frame[table.STATISTIC] == table.RATE)
                   & (frame[table.POINT_KIND] != table.SWEEP)]
    points = points[["threshold", table.OPERATING_POINT, table.POINT_KIND, table.TARGET]]
    points = points.drop_duplicates().reset_index(drop=True)
    comp, by = watchlist_composition(spec, manifest), spec.watchlist.composition_by
    counts = gallery_counts(faces, manifest, thresholds=points["threshold"].to_numpy(),
                            distance=spec.matching.distance, seed=spec.seed,
                            captures=spec.projection.captures_per_person,
                            strata=by if by in manifest.column_names else None)
    largest = largest_measurable(counts, comp)
    if largest < 1:
        raise runs.RunError("the watchlist-size curve needs at least 2 subjects with a usable "
                            "face (and 2 in every group the watchlist composition draws from)")
    sizes = size_grid(largest + 1, include=(spec.watchlist.size, spec.projection.watchlist))
    single = single_groupings(spec.groupings.sensitive)
    stats = spec.statistics
    rows = curve_rows(counts, points, sizes=sizes, images=images, groupings=single,
                      confidence=stats.confidence, interval=stats.interval,
                      min_subjects=stats.min_subjects, min_trials=stats.min_trials,
                      composition=comp)
    if by in manifest.column_names:
        rows = pd.concat([rows, composition_rows(
            counts, comp, size=min(spec.projection.watchlist, largest), grouping=by)],
            ignore_index=True)
    return table.to_table(rows, table.CURVE_SCHEMA)


def contrast_thresholds(scores: pa.Table) -> np.ndarray:
    """Thresholds at which the non-mated scores' exceedance runs from 1e-1 to 1e-5 (log grid).

    Non-mated 1:1 scores when there are any, else non-mated 1:N best scores.
    """
    frame = scores.select(["trial_kind", "mated", "score"]).to_pandas()
    nonmated = frame[~frame["mated"] & frame["score"].notna()]
    chosen = nonmated[nonmated["trial_kind"] == "verification"]
    values = (chosen if len(chosen) else nonmated)["score"].to_numpy()
    if values.size == 0:
        return np.array([])
    high, low = np.log10(CONTRAST_SWEEP_RATES)
    exceed = np.logspace(high, low, CONTRAST_SWEEP_POINTS)
    return np.unique(np.quantile(values, 1 - exceed))

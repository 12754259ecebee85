"""One audit, end to end: the stage functions called in order from a spec.

Each stage is a function of the previous stage's table and its own part of the
spec; :func:`run_audit` wires them, reuses cached stage tables whose inputs did
not change, and writes the run folder (:mod:`audit.runs`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import layout as runs
from ..choices import DEEPFACE_DEFAULT
from ..config import AuditSpec
from .policy import PolicyOutcome, check_policy
from .provenance import FROM_SPEC, Provenance, ThresholdOrigin
from ..tables import write_json, write_table
from ..reference_groups import ReferenceGroupError, check_reference_groups
from .preflight import check_groupings, check_writable

#: Thresholds per sweep: enough for smooth curves, few enough for a small table.
SWEEP_POINTS = 200
#: Thresholds of the disparity-by-threshold contrasts (each costs a pass over every pair):
#: where the non-mated scores' upper tail puts the false match rate at 10% down to 1e-5,
#: evenly on a log scale, so the grid is dense where decisions are made.
CONTRAST_SWEEP_POINTS = 41
CONTRAST_SWEEP_RATES = (1e-1, 1e-5)


@dataclass(frozen=True)
class RunOutcome:
    folder: Path
    policy: PolicyOutcome
    reused: list[str]
    seconds: dict[str, float]


def dataset_root(spec: AuditSpec, data_dir: Path | None) -> Path:
    """``dataset.root`` if given (relative to the data folder), else ``<data_dir>/<name>``."""
    base = Path(spec.data_dir) if spec.data_dir else data_dir
    root = spec.dataset.root
    if root is not None and Path(root).is_absolute():
        return Path(root)
    if base is None:
        raise runs.RunError(
            "where is the data? set data_dir in the spec, pass --data-dir, or set LFR_AUDIT_DATA")
    return base / (root or Path(spec.dataset.name).stem)


def load_dataset(spec: AuditSpec, data_dir: Path | None):
    from ..datasets import ManifestRows, load_manifest, select_subjects

    d = spec.dataset
    rows = ManifestRows(skip_bad_rows=d.skip_bad_rows, check_extensions=d.check_extensions,
                        fold_labels=d.fold_labels)
    manifest, info = load_manifest(d.name, dataset_root(spec, data_dir), rows=rows,
                                   label_provenance=d.label_provenance)
    check_groupings(spec, manifest, info.name)
    if spec.dataset.subjects is not None:
        manifest = select_subjects(manifest, spec.dataset.subjects, seed=spec.seed,
                                   min_images=spec.dataset.min_images)
    try:  # before any embedding
        check_reference_groups(spec.statistics.reference_groups, manifest)
        watchlist_composition(spec, manifest)
    except (ReferenceGroupError, ValueError) as error:
        raise runs.RunError(str(error)) from None
    n_subjects = len(set(manifest.column("subject_id").to_pylist()))
    if spec.watchlist.size >= n_subjects:  # checked before any embedding
        raise runs.RunError(
            f"[watchlist] size = {spec.watchlist.size} needs more subjects than the "
            f"{n_subjects} in the data: non-mated probes are people not on the watchlist; "
            "lower the size or audit more subjects")
    return manifest, info


def watchlist_composition(spec: AuditSpec, manifest: pa.Table):
    """The spec's watchlist make-up, checked against the data's labels (ValueError)."""
    from ..matching.makeup import spec_composition

    return spec_composition(spec.watchlist.composition, spec.watchlist.composition_by, manifest)


def pipeline_config(spec: AuditSpec):
    """The pipeline configuration the spec asks for, its face selection resolved:
    ``centre`` for the built-in datasets (centred on their subject), ``largest``
    for an evaluator's manifest, unless the spec says."""
    from ..datasets import DATASETS
    from ..pipeline.config import PipelineConfig

    p = spec.pipeline
    selection = p.face_selection or ("centre" if spec.dataset.name in DATASETS else "largest")
    return PipelineConfig(model=p.model, detector=p.detector, align=p.align,
                          preprocess=p.preprocess, normalization=p.normalization,
                          face_selection=selection)


def embed(spec: AuditSpec, manifest: pa.Table, root: Path, cache_dir: Path, tracker=None):
    from ..pipeline.run import embed_manifest

    config, p = pipeline_config(spec), spec.pipeline
    faces, _ = embed_manifest(
        manifest, root, config, cache_dir=cache_dir,
        batch_size=p.batch_size, executor=p.executor_choice,
        on_start=tracker.start if tracker else None,
        on_batch=tracker.advance if tracker else None,
    )
    return faces


def match(spec: AuditSpec, manifest: pa.Table, faces: pa.Table) -> pa.Table:
    """Verification pairs (mated, capped; non-mated within and across groups) and
    watchlist searches, in one scores table."""
    from ..matching.identification import identification_scores
    from ..matching.verification import mated_pairs, non_mated_pairs, score_pairs
    from ..execution.cluster import scheduler_client

    m = spec.matching
    mated = mated_pairs(manifest, max_pairs_per_subject=m.mated_per_subject, seed=spec.seed)
    nonmated = non_mated_pairs(manifest, pairs_per_cell=m.nonmated_per_cell,
                               grouping=tuple(m.pair_grouping), seed=spec.seed)
    pairs = pd.concat([mated, nonmated], ignore_index=True)
    verification = score_pairs(pairs, faces, manifest, distance=m.distance)
    with scheduler_client(spec.pipeline.executor_choice) as client:  # None unless an address
        try:
            identification = identification_scores(
                faces, manifest, watchlist_size=spec.watchlist.size,
                n_draws=spec.watchlist.draws, distance=m.distance, seed=spec.seed,
                client=client, composition=watchlist_composition(spec, manifest),
                enrol_with_probe=spec.watchlist.enrol_with_probe)
        except ValueError as error:  # e.g. too few subjects with a usable face
            raise runs.RunError(f"{error}; lower [watchlist] size") from None
    return pa.concat_tables([verification, identification.cast(verification.schema)])


def thresholds(spec: AuditSpec) -> dict[float, ThresholdOrigin]:
    """Fixed thresholds, each with where it came from (``spec``: the deployment's own;
    ``deepface-default``: deepface's shipped one, audited for reference) and words."""
    from ..matching.similarity import deepface_threshold

    chosen = {float(t): ThresholdOrigin(FROM_SPEC, "given in the audit spec")
              for t in spec.thresholds.deployment}
    if spec.thresholds.deepface_default:
        t = deepface_threshold(spec.pipeline.model, distance=spec.matching.distance)
        chosen.setdefault(round(t, 12), ThresholdOrigin(
            DEEPFACE_DEFAULT, f"deepface's default for {spec.pipeline.model} with "
                              f"{spec.matching.distance} distance"))
    return chosen


def measure(spec: AuditSpec, manifest: pa.Table, faces: pa.Table, scores: pa.Table,
            deployment: dict[float, ThresholdOrigin]) -> pa.Table:
    """Rates at the operating points, per-group sweeps and the deployment projection."""
    from ..metrics import compute_metrics, project_deployment, table, threshold_sweep
    from ..metrics.conditions import failures_to_acquire, images_with_conditions
    from ..metrics.size_projection import project_from_curve

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
    finite = scores.column("score").drop_null().to_numpy()
    grid = np.unique(np.concatenate([
        np.quantile(finite, np.linspace(0, 1, SWEEP_POINTS)), list(deployment)]))
    single = tuple(g for g in groupings.sensitive if " x " not in g and "|" not in g)
    sweep = threshold_sweep(scores, images, thresholds=grid, groupings=("overall", *single),
                            min_subjects=stats.min_subjects, min_trials=stats.min_trials)
    # Fixed-pair contrasts across a coarser grid, for the disparity-by-threshold figure
    # (its rate rows duplicate the sweep above, so only the pair rows are kept).
    contrast_grid = np.unique(np.concatenate([contrast_thresholds(scores), list(deployment)]))
    swept = compute_metrics(
        scores, images, sweep=tuple(contrast_grid), groupings=single, cross_groupings=(),
        min_subjects=stats.min_subjects, min_trials=stats.min_trials,
        confidence=stats.confidence, interval=stats.interval,
    ).to_pandas()
    pairs = table.to_table(swept[swept[table.STATISTIC] != table.RATE])
    parts = [rates, sweep.cast(rates.schema), pairs.cast(rates.schema)]
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


def _has_embeddings(faces: pa.Table) -> bool:
    """True when every ``ok`` face has an embedding (the whole-gallery search needs them)."""
    ok = faces.filter(pc.equal(faces.column("status"), "ok"))
    return ok.num_rows > 0 and ok.column("embedding").null_count == 0


def size_curve(spec: AuditSpec, manifest: pa.Table, faces: pa.Table, rates: pa.Table,
               images: pd.DataFrame) -> pa.Table:
    """FPIR and FNIR against watchlist size at every audited point, from the whole gallery
    (:mod:`audit.matching.gallery`, :mod:`audit.metrics.watchlist_curve`), under the
    spec's watchlist make-up, with the make-up's rows for the report."""
    from ..matching.gallery import gallery_counts
    from ..metrics import table
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
    single = tuple(g for g in spec.groupings.sensitive if " x " not in g and "|" not in g)
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


def code_fingerprint() -> str:
    """Hash of lfr-audit's own source: cached stage tables are reused only by the
    code that made them (the faces cache below is keyed by content and versions,
    so a code change costs a re-read of the cache, not a re-embedding)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parents[1].rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def run_audit(spec_path: Path, *, runs_dir: Path, data_dir: Path | None, cache_dir: Path,
              previous: Path | None = None, executor: str | None = None,
              skip_bad_rows: bool = False, tracker=None) -> RunOutcome:
    """Run the audit that ``spec_path`` describes and publish its run folder.

    ``executor`` overrides the spec's ``[pipeline] executor`` (it changes where
    batches run, never the results); ``skip_bad_rows`` sets ``[dataset]
    skip_bad_rows``.
    """
    from ..config import load_spec
    from ..execution.choice import parse_executor

    spec = load_spec(spec_path)
    if executor is not None:  # a typo is a user error (ExecutorError), before any work
        pipeline = spec.pipeline.model_copy(update={"executor": parse_executor(executor)})
        spec = spec.model_copy(update={"pipeline": pipeline})
    if skip_bad_rows:
        dataset = spec.dataset.model_copy(update={"skip_bad_rows": True})
        spec = spec.model_copy(update={"dataset": dataset})
    check_writable(Path(runs_dir), "runs", "--runs-dir or LFR_AUDIT_RUNS")
    check_writable(Path(cache_dir), "cache", "--cache-dir or LFR_AUDIT_CACHE")
    spec_text = Path(spec_path).read_text()
    now = datetime.now(UTC)
    rid = runs.run_id(spec_text, now)
    runs_dir = Path(runs_dir)
    partial = runs_dir / f"{runs.PARTIAL_PREFIX}{rid}"
    partial.mkdir(parents=True)
    try:
        outcome = _run(spec, spec_text, rid, now, partial, data_dir=data_dir,
                       cache_dir=Path(cache_dir), previous=previous, tracker=tracker)
        final = runs.publish(partial, runs_dir / rid)
    except BaseException:
        runs.discard(partial)
        raise
    return RunOutcome(final, *outcome)


def _run(spec, spec_text, rid, now, folder, *, data_dir, cache_dir, previous, tracker):
    clock = runs.StageClock()
    stages = runs.StageCache(cache_dir)
    manifest, info = clock.timed("dataset", lambda: load_dataset(spec, data_dir))
    keys = spec.stage_inputs()
    data_key = f"{info.fingerprint.split(':')[-1][:12]}-{code_fingerprint()}"

    def cached(stage: str, compute):
        key = f"{keys[stage]}-{data_key}"
        table = stages.get(stage, key)
        if table is not None:
            clock.reused.append(stage)
            return table
        table = compute()
        stages.put(stage, key, table)
        return table

    faces = clock.timed("faces", lambda: cached(
        "faces", lambda: embed(spec, manifest, info.root, cache_dir, tracker)))
    step = tracker.step if tracker is not None else _quietly
    with step("scoring"):
        scores = clock.timed("scores",
                             lambda: cached("scores", lambda: match(spec, manifest, faces)))
    deployment = thresholds(spec)
    with warnings.catch_warnings(record=True) as caught, step("metrics"):  # kept in notes.json
        warnings.simplefilter("always")
        metrics = clock.timed("metrics",
                              lambda: measure(spec, manifest, faces, scores, deployment))
    policy = check_policy(spec.policy, metrics, tuple(spec.groupings.sensitive))

    from ..metrics import summarize_metrics

    write_table(manifest, folder / runs.MANIFEST_FILE)
    write_table(faces, folder / runs.FACES_FILE)
    write_table(scores, folder / runs.SCORES_FILE)
    write_table(metrics, folder / runs.METRICS_FILE)
    (folder / "spec.toml").write_text(spec_text)
    write_json(folder / "summary.json",
               summarize_metrics(metrics, spec.statistics.reference_groups))
    write_json(folder / "policy.json", policy.to_json())
    write_json(folder / "notes.json",
               sorted({f"{w.category.__name__}: {w.message}" for w in caught}))
    if info.skipped_rows:
        from ..datasets import SKIPPED_ROWS_FILE

        write_json(folder / SKIPPED_ROWS_FILE, list(info.skipped_rows))
    provenance = Provenance(
        run_id=rid, created_utc=now.isoformat(timespec="seconds"),
        spec=spec.model_dump(mode="json"), stage_inputs=keys,
        dataset={**info.as_dict(), **_described(spec)}, n_images=manifest.num_rows,
        pipeline={**spec.pipeline.model_dump(), "config_key": _config_key(faces),
                  "face_selection": pipeline_config(spec).face_selection.value},
        weights=_weight_hashes(spec), thresholds=deployment,
        versions=runs.versions(), host=runs.host_info(), seed=spec.seed,
        reused_stages=tuple(clock.reused), timings_s=dict(clock.seconds),
    )
    write_json(folder / "provenance.json", provenance.to_json())
    with step("report"):
        clock.timed("report", lambda: _report(spec, folder, previous))
    provenance = replace(provenance, timings_s=dict(clock.seconds))
    write_json(folder / "provenance.json", provenance.to_json())
    return policy, clock.reused, clock.seconds


@contextlib.contextmanager
def _quietly(name: str) -> Iterator[None]:
    """A step shown to no one (no progress callbacks were given)."""
    yield


def _config_key(faces: pa.Table) -> str | None:
    keys = faces.column("config_key").unique().to_pylist()
    return keys[0] if len(keys) == 1 else None


def _described(spec: AuditSpec) -> dict[str, str]:
    """The data as the report describes it: the built-in card, or the spec's own words."""
    from ..datasets.cards import described

    d = spec.dataset
    return described(d.name, description=d.description, citation=d.citation,
                     licence=d.licence, label_origin=d.label_origin)


def _weight_hashes(spec: AuditSpec) -> dict[str, str]:
    from ..pipeline.weights import DETECTORS, RECOGNITION_MODELS, file_sha256, weights_dir

    names = RECOGNITION_MODELS[spec.pipeline.model].files + DETECTORS[spec.pipeline.detector].files
    found = {}
    for name in dict.fromkeys(names + ("shape_predictor_5_face_landmarks.dat",)):
        path = weights_dir() / name
        found[name] = f"sha256:{file_sha256(path)}" if path.is_file() else "absent"
    return found


def _report(spec: AuditSpec, folder: Path, previous: Path | None) -> None:
    from .report import render_run

    render_run(folder, formats=tuple(spec.report.formats), include_faces=spec.report.include_faces,
               previous=previous)


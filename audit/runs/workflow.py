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

import pandas as pd
import pyarrow as pa

from . import layout as runs
from ..choices import DEEPFACE_DEFAULT
from ..config import AuditSpec
from .policy import PolicyOutcome, check_policy
from .provenance import FROM_SPEC, Provenance, ThresholdOrigin
from ..tables import write_json, write_table
from ..reference_groups import ReferenceGroupError, check_reference_groups
from .measure import measure, watchlist_composition
from .preflight import check_groupings, check_writable


@dataclass(frozen=True)
class RunOutcome:
    folder: Path
    policy: PolicyOutcome
    reused: list[str]
    seconds: dict[str, float]
    #: The spec's ``[statistics] confidence``: the level the run's intervals were computed at.
    confidence: float = 0.95


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
                          face_selection=selection, image_timeout=p.image_timeout)


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
    if previous is not None:  # its report compares with it: a mistake found now, not after the work
        from .compare import check_previous

        check_previous(Path(previous), spec.statistics.confidence)
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
    return RunOutcome(final, *outcome, confidence=spec.statistics.confidence)


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
    from ..matching.face_probes import face_probes

    probe_faces, probes = face_probes(faces, manifest)  # one row per face with "all"
    step = tracker.step if tracker is not None else _quietly
    with step("scoring"):
        scores = clock.timed("scores", lambda: cached(
            "scores", lambda: match(spec, probes, probe_faces)))
    deployment = thresholds(spec)
    with warnings.catch_warnings(record=True) as caught, step("metrics"):  # kept in notes.json
        warnings.simplefilter("always")
        metrics = clock.timed("metrics", lambda: measure(spec, probes, probe_faces, scores,
                                                         deployment))
    policy = check_policy(spec.policy, metrics, tuple(spec.groupings.sensitive))

    _write_tables(folder, spec, spec_text, info, tables=(manifest, faces, scores, metrics),
                  policy=policy, caught=caught)
    provenance = _provenance(spec, rid, now, keys, info, manifest, faces, deployment, clock)
    write_json(folder / "provenance.json", provenance.to_json())
    with step("report"):
        clock.timed("report", lambda: _report(spec, folder, previous))
    provenance = replace(provenance, timings_s=dict(clock.seconds))
    write_json(folder / "provenance.json", provenance.to_json())
    return policy, clock.reused, clock.seconds


def _write_tables(folder, spec, spec_text, info, *, tables, policy, caught) -> None:
    """The stage tables, the spec as run, the summary, the policy outcome and the
    warnings (notes.json), written before the report so that a failed rendering
    loses none of the measured work."""
    from ..metrics import summarize_metrics

    manifest, faces, scores, metrics = tables
    write_table(manifest, folder / runs.MANIFEST_FILE)
    write_table(faces, folder / runs.FACES_FILE)
    write_table(scores, folder / runs.SCORES_FILE)
    write_table(metrics, folder / runs.METRICS_FILE)
    metrics.to_pandas().to_csv(folder / runs.METRICS_FILE.replace(".parquet", ".csv"), index=False)
    (folder / "spec.toml").write_text(spec_text)
    write_json(folder / "summary.json",
               summarize_metrics(metrics, spec.statistics.reference_groups))
    write_json(folder / "policy.json", policy.to_json())
    write_json(folder / "notes.json",
               sorted({f"{w.category.__name__}: {w.message}" for w in caught}))
    if info.skipped_rows:
        from ..datasets import SKIPPED_ROWS_FILE

        write_json(folder / SKIPPED_ROWS_FILE, list(info.skipped_rows))


def _provenance(spec, rid, now, keys, info, manifest, faces, deployment, clock) -> Provenance:
    """What the run was made from (spec, data, code, weights, versions, host), with the
    timings so far; the report step's time is added after it renders."""
    return Provenance(
        run_id=rid, created_utc=now.isoformat(timespec="seconds"),
        spec=spec.model_dump(mode="json"), stage_inputs=keys,
        dataset={**info.as_dict(), **_described(spec)}, n_images=manifest.num_rows,
        pipeline={**spec.pipeline.model_dump(), "config_key": _config_key(faces),
                  "face_selection": pipeline_config(spec).face_selection.value},
        weights=_weight_hashes(spec), thresholds=deployment,
        versions=runs.versions(), host=runs.host_info(), seed=spec.seed,
        reused_stages=tuple(clock.reused), timings_s=dict(clock.seconds),
    )


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


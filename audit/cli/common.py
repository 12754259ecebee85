"""What every command group shares: the Typer apps, exit codes, user errors, options.

A user mistake (:class:`UserError`, or any stage's "fix your input" error) is
one line on stderr and exit code 2, never a traceback (:func:`reports_user_errors`).
Choices (models, detectors, preprocessing, distances, intervals, formats) are
the ones in :mod:`audit.choices`, turned into Typer enums here.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..choices import (
    DETECTOR_NAMES,
    DISTANCES,
    FACE_SELECTIONS,
    INTERVALS,
    MODELS,
    PREPROCESS,
    REPORT_FORMATS,
    as_enum,
)
from ..progress import stderr

EXIT_USAGE = 2
#: A ``[policy]`` limit is broken.
EXIT_POLICY = 3
#: A ``[policy]`` limit could not be evaluated (and ``skip_unevaluable`` is not set).
EXIT_POLICY_NOT_EVALUATED = 4

app = typer.Typer(
    help="Audit face recognition for accuracy and demographic fairness.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
models_app = typer.Typer(help="Recognition models and detectors, and their weights.",
                         no_args_is_help=True)
datasets_app = typer.Typer(help="Dataset manifests, label quirks and downloads.",
                           no_args_is_help=True)
runs_app = typer.Typer(help="Past audit runs.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(datasets_app, name="datasets")
app.add_typer(runs_app, name="runs")


class UserError(Exception):
    """A mistake the user can fix; the message says how."""


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean 'fix your input', from every stage."""
    from ..config import SpecError
    from ..datasets import DatasetError
    from ..metrics.score_logs import ScoreLogError
    from ..execution.choice import ExecutorError
    from ..pipeline.weights import WeightsError
    from ..runs.layout import RunError
    from ..schema import SchemaError

    return (UserError, DatasetError, WeightsError, SchemaError, SpecError, RunError,
            ScoreLogError, ExecutorError, FileNotFoundError)


def reports_user_errors(command):
    """Turn a user mistake into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except _user_errors() as error:
            tell(f"[bold red]error:[/] {escape(str(error))}")
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper


def tell(markup: str) -> None:
    """One message on stderr, folded at the terminal's width only on a terminal: in a
    file or a pipe each line stays whole (rich would fold at 80 columns, mid-value)."""
    stderr.print(markup, highlight=False, soft_wrap=not stderr.is_terminal)


def note(text: str) -> None:
    """``note: TEXT`` on stderr (text escaped), as :func:`tell`."""
    tell(escape(f"note: {text}"))


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
                 help="Faces cache folder \\[default: ~/.cache/lfr-audit].", file_okay=False),
]


PreprocessChoice = as_enum("PreprocessChoice", PREPROCESS)
FaceSelectionChoice = as_enum("FaceSelectionChoice", FACE_SELECTIONS)
Model = as_enum("Model", MODELS)
Detector = as_enum("Detector", DETECTOR_NAMES)
Distance = as_enum("Distance", DISTANCES)
Interval = as_enum("Interval", INTERVALS)
ReportFormat = as_enum("ReportFormat", REPORT_FORMATS)

ModelOption = Annotated[Model, typer.Option("--model", help="deepface recognition model.")]
DetectorOption = Annotated[Detector, typer.Option("--detector",
                                                  help="deepface detector backend.")]
AlignOption = Annotated[bool, typer.Option("--align/--no-align",
                                           help="Rotate faces level on the eyes.")]
PreprocessOption = Annotated[PreprocessChoice, typer.Option(
    "--preprocess", help="How a detected face becomes the model input (see README).")]
FaceSelectionOption = Annotated[FaceSelectionChoice, typer.Option(
    "--face-selection", help="Which face is the subject when several are found: the one "
                             "nearest the image centre, the largest, or all (each face its "
                             "own probe; `embed` and `run` only).")]
WorkersOption = Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")]
ExecutorOption = Annotated[str, typer.Option(
    "--executor", envvar="LFR_AUDIT_EXECUTOR",
    help="Where batches run: local, dask-local, or a Dask scheduler address (tcp://host:8786).")]


def default_cache_dir(option: Path | None) -> Path:
    return option or Path.home() / ".cache" / "lfr-audit"


def dataset_root(dataset: str, data_dir: Path | None, root: Path | None) -> Path:
    """Where a dataset's files are: ``--root``, else ``<data-dir>/<name>``."""
    if root is not None:
        return root
    if data_dir is None:
        raise UserError(
            f"where is {dataset!r}? pass --root FOLDER, or --data-dir / LFR_AUDIT_DATA "
            "pointing at a folder that holds it"
        )
    return data_dir / dataset


def checked_pipeline_config(model: Model, detector: Detector, align: bool,
                            preprocess: PreprocessChoice,
                            face_selection: FaceSelectionChoice = FaceSelectionChoice["centre"]):
    """The configuration, after checking that it can run here (before any other work)."""
    from ..pipeline.config import PipelineConfig
    from ..pipeline.weights import require

    try:
        config = PipelineConfig(model=model.value, detector=detector.value, align=align,
                                preprocess=preprocess.value,
                                face_selection=face_selection.value)
    except ValueError as error:
        raise UserError(str(error)) from None
    require(config.model, config.detector, needs_landmarks=config.detector != "skip")
    return config



RunsDir = Annotated[Path, typer.Option("--runs-dir", envvar="LFR_AUDIT_RUNS",
                                       help="Folder of run folders.", file_okay=False)]


def list_written(written: dict[str, Path], *, to_stderr: bool = False) -> None:
    """One line per report file written: ``report: PATH`` or ``short report: PATH``
    (keys: the renderer's kinds or the files' names, ``short...`` for the short report)."""
    for kind, path in written.items():
        typer.echo(f"{'short report' if kind.startswith('short') else 'report'}: {path}",
                   err=to_stderr)

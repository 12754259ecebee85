"""``metrics``: error rates by group from a run's scores or an exported score log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..execution.blas_threads import on_one_blas_thread
from ..execution.freed_pages import keeping_freed_pages
from .common import Interval, UserError, app, note, reports_user_errors
from .log_about import ABOUT_HELP
from .log_checks import label_columns, no_disparity_line
from .metrics_checks import check_calibration, check_fold_column, check_operating_points


@app.command()
@reports_user_errors
@on_one_blas_thread  # before NumPy loads: its OpenBLAS workers cost CPU, do no work here
@keeping_freed_pages  # large numpy temporaries reuse freed pages (a third of the CPU at 10M)
def metrics(
    source: Annotated[Path, typer.Argument(help="A run folder, or a score-log trials file.")],
    attributes: Annotated[Path | None, typer.Option(
        help="Attribute table for a score-log file (per image or per subject).")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help=(
        "Your column name for a score-log key, KEY=COLUMN, e.g. score=similarity "
        "(repeatable; keys in docs/score-logs.md)."))] = None,
    columns: Annotated[Path | None, typer.Option(
        help=r"TOML file whose \[columns] table maps keys to your column names.")] = None,
    out: Annotated[Path, typer.Option(
        help="Metrics table to write (Parquet); the same as CSV and a JSON digest go "
             "beside it.")] = Path("metrics.parquet"),
    threshold: Annotated[list[float] | None, typer.Option(
        help="Deployment threshold (repeatable).")] = None,
    target_fmr: Annotated[list[float] | None, typer.Option(help="Target FMR (repeatable).")] = None,
    target_fpir: Annotated[list[float] | None, typer.Option(
        help="Target FPIR (repeatable).")] = None,
    grouping: Annotated[list[str] | None, typer.Option(
        help="Grouping, e.g. gender or 'gender x ethnicity' (repeatable).")] = None,
    interval: Annotated[Interval, typer.Option(
        help="Rates' intervals: cluster-robust (Wilson at the effective size; FMR: Hall's "
             "skewness-corrected t), or Wilson assuming independent trials.")
    ] = Interval["wilson-clustered"],
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
    share_on_watchlist: Annotated[float | None, typer.Option(min=0.0, max=1.0, help=(
        "Share of the crowd on the watchlist (default 0.0001)."))] = None,
    kfold: Annotated[str | None, typer.Option(help=(
        "LFW-style k-fold accuracy of a score log's verification rows by their fold, "
        "broken down by this label column (e.g. gender); the folds and summary go beside "
        "--out as CSV."))] = None,
    sweep: Annotated[bool, typer.Option(help=(
        "Also sweep thresholds as `lfr-audit run` does, for the report's DET curves, "
        "threshold sweep and disparity-by-threshold figures: rates by group at 200 score "
        "quantiles, fixed-pair contrasts at 41 thresholds (FMR 10% down to 1e-5)."))] = False,
    about: Annotated[Path | None, typer.Option(help=ABOUT_HELP)] = None,
    report: Annotated[bool, typer.Option(
        "--report", help="Also render the report (HTML and PDF) beside the table.")] = False,
) -> None:
    """Error rates by group for a run's scores or an exported score log (no deepface).

    Score logs (CSV or Parquet, one row per 1:1 comparison or 1:N search, with
    an attribute file of group labels) are described column by column, with
    worked examples, in docs/score-logs.md. --about FILE.toml states the system,
    the data and how people were labelled, for the report (same keys as an audit
    spec's \\[dataset] and \\[watchlist]); it is kept beside the table as
    metrics.about.json, which `lfr-audit report` reads.
    """
    import warnings

    from . import log_about
    from .log_projection import assumptions_line, projection_assumptions

    check_operating_points(threshold, target_fmr, target_fpir)
    described = log_about.load_about_option(about, source)
    given_audit_watchlist = audit_watchlist is not None
    audit_watchlist = log_about.audited_watchlist(audit_watchlist, described, about)
    assumptions = projection_assumptions(crowd=crowd, share=share_on_watchlist,
                                         watchlist=watchlist, audit_watchlist=audit_watchlist,
                                         audit_watchlist_given=given_audit_watchlist)
    has_point = bool(threshold or target_fmr or target_fpir)
    _check_options(source, has_point=has_point, kfold=kfold, crowd=crowd,
                   audit_watchlist=audit_watchlist)
    if source.is_dir():
        scores, images, fta = _read_run(source)
    else:
        mapping = _mapping(source, attributes, map_ or (), columns, kfold=kfold)
        logs = _read_score_log(source, attributes, mapping, tuple(grouping or ()), described)
        from ..runs.log_record import log_counts  # after the checks: it loads pandas

        scores, images, fta = logs.scores, logs.images, logs.fta
        counts = log_counts(logs.scores, logs.images)
        if kfold:
            _print_kfold(logs, kfold, out)
            if not has_point:
                return
    check_calibration(scores, target_fmr, target_fpir)
    statistics = dict(thresholds=tuple(threshold or ()), groupings=tuple(grouping or ()),
                      min_subjects=min_subjects, min_trials=min_trials,
                      interval=interval.value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = _measured(scores, images, fta, target_fmr=tuple(target_fmr or ()),
                          target_fpir=tuple(target_fpir or ()), sweep=sweep, **statistics)
        if assumptions is not None:
            table = _with_projection(table, crowd=crowd, watchlist=assumptions["watchlist"],
                                     share=assumptions["share_on_watchlist"],
                                     audit_watchlist=audit_watchlist)
    for message in dict.fromkeys(str(w.message) for w in caught):  # once, though it held
        note(message)                                                # at several points
    footer = () if grouping or source.is_dir() else (
        no_disparity_line(label_columns(attributes, mapping), attributes.name),)
    footer += (assumptions_line(assumptions),) if assumptions else ()
    policy = None if source.is_dir() else log_about.judge_log_policy(
        described, table, tuple(grouping or ()))
    _write_and_show(table, out, json_output=json_output, scores=scores, footer=footer,
                    extra=log_about.digest_extra(policy, assumptions))
    if source.is_dir():
        log_about.forget_log_record(out)
    else:
        log_about.record_log(out, about=described, counts=counts, trials=source,
                             attributes=attributes, options=log_about.log_options(
                                 threshold, target_fmr, target_fpir, grouping, interval.value,
                                 min_subjects, min_trials, projection=assumptions),
                             mapping=mapping, policy=policy)
    if report:
        log_about.render_and_list(out, to_stderr=json_output)
    if policy is not None:
        log_about.gate_log_policy(policy, quiet=json_output)


def _measured(scores, images, fta, *, target_fmr: tuple[float, ...],
              target_fpir: tuple[float, ...], sweep: bool, **statistics):
    """The metrics table, with the run's threshold sweeps when asked (``statistics``:
    thresholds, groupings, minimum sizes and interval, shared by both)."""
    from ..metrics import compute_metrics  # heavy (scipy.stats, Fairlearn): after the checks

    table = compute_metrics(scores, images, fta, target_fmr=target_fmr,
                            target_fpir=target_fpir, **statistics)
    return _with_sweep(table, scores, images, **statistics) if sweep else table


def _check_options(source: Path, *, has_point: bool, kfold: str | None, crowd: int | None,
                   audit_watchlist: int | None) -> None:
    """Option mistakes, caught before any file is read."""
    if not (has_point or kfold):
        raise UserError("no operating point: give --threshold, --target-fmr or --target-fpir")
    if kfold and source.is_dir():
        raise UserError("--kfold reads a score log; for a run folder use lfr-audit lfw-view2")
    if crowd is not None and audit_watchlist is None:
        raise UserError("--crowd needs --audit-watchlist N: the watchlist size the searches "
                        "were made against")


def _read_run(source: Path):
    """A run folder's scores, image labels and failures to acquire (per probe: per face
    with face selection ``all``, :func:`~audit.matching.face_probes.face_probes`)."""
    from ..matching.face_probes import face_probes
    from ..metrics.conditions import failures_to_acquire
    from ..runs import layout
    from ..tables import read_table

    faces, manifest = face_probes(read_table(source / layout.FACES_FILE),
                                  read_table(source / layout.MANIFEST_FILE))
    return read_table(source / layout.SCORES_FILE), manifest, failures_to_acquire(faces)


def _mapping(source: Path, attributes: Path | None, mapped: list[str] | tuple,
             columns: Path | None, *, kfold: str | None):
    """The user's column names, checked with the other options before the log is read."""
    from ..metrics.log_format import parse_mapping

    if attributes is None:
        raise UserError("a score-log file needs --attributes FILE (group labels); "
                        "see docs/score-logs.md")
    try:
        mapping = parse_mapping(mapped, columns_file=columns)
    except ValueError as error:
        raise UserError(str(error)) from None
    if kfold:
        check_fold_column(source, mapping.column("fold"))
    return mapping


def _read_score_log(source: Path, attributes: Path, mapping, groupings: tuple[str, ...],
                    described=None):
    """A checked score log (its notes printed), columns named as the user mapped them."""
    from ..metrics.score_logs import read_score_logs
    from .log_checks import check_label_columns, grouped_columns, label_columns

    parsed = grouped_columns(groupings)  # mistakes in these, before the log is read
    check_label_columns(parsed, label_columns(attributes, mapping), attributes.name, described)
    logs = read_score_logs(source, attributes, columns=mapping,
                           grouped=tuple(c for g in parsed for c in g[1]))
    for line in logs.notes:
        note(line)
    return logs


def _print_kfold(logs, column: str, out: Path) -> None:
    """k-fold accuracy printed, its per-fold and summary tables written beside ``out``."""
    from ..metrics.lfw_accuracy import format_lfw_accuracy
    from ..metrics.log_kfold import log_kfold_accuracy

    try:
        accuracy = log_kfold_accuracy(logs, column)
    except ValueError as error:
        raise UserError(f"--kfold: {error}") from None
    typer.echo(format_lfw_accuracy(accuracy))
    folds, summary = (out.with_name(f"{out.stem}-kfold{part}.csv") for part in ("-folds", ""))
    out.parent.mkdir(parents=True, exist_ok=True)
    accuracy.folds.to_csv(folds, index=False)
    accuracy.summary.to_csv(summary, index=False)
    typer.echo(f"k-fold accuracy: {summary} and {folds}")


def _with_sweep(table, scores, images, *, thresholds: tuple[float, ...],
                groupings: tuple[str, ...], **statistics):
    """The metrics table with a run's sweep rows (:func:`audit.runs.measure.threshold_sweeps`)."""
    import pyarrow as pa

    from ..metrics.trials import single_groupings
    from ..runs.measure import threshold_sweeps

    single = single_groupings(groupings)
    parts = threshold_sweeps(scores, images, deployment=thresholds, groupings=single,
                             confidence=0.95, **statistics)
    return pa.concat_tables([table, *(part.cast(table.schema) for part in parts)])


def _with_projection(table, *, crowd: int, share: float, watchlist: int, audit_watchlist: int):
    """The metrics table with the deployment projection rows, as ``run`` computes them."""
    import pyarrow as pa

    from ..metrics import project_deployment

    try:
        projection = project_deployment(table, crowd_size=crowd, watchlist_share=share,
                                        watchlist_size=watchlist,
                                        audit_watchlist_size=audit_watchlist)
    except ValueError as error:
        raise UserError(f"--crowd: {error}") from None
    return pa.concat_tables([table, projection.cast(table.schema)])


def _write_and_show(table, out: Path, *, json_output: bool, scores=None,
                    footer: tuple[str, ...] = (), extra=None) -> None:
    """The table as Parquet and CSV with its JSON digest (plus ``extra`` keys); the digest
    or short tables shown, calibrated thresholds as the short number nearest them with the
    same decisions on ``scores`` (:mod:`.threshold_text`), then the ``footer`` lines."""
    from ..metrics import summarize_metrics
    from ..tables import write_json, write_table
    from .answers import print_answers
    from .threshold_text import shown_line, with_shown_thresholds

    write_table(table, out)
    digest = {**summarize_metrics(table), **(extra or {})}
    write_json(out.with_suffix(".json"), digest)
    frame = table.to_pandas()
    frame.to_csv(out.with_suffix(".csv"), index=False)
    if json_output:
        import json

        typer.echo(json.dumps(digest, indent=2))
        return
    shown_frame, shown = (frame, {}) if scores is None else with_shown_thresholds(
        frame, scores.column("score").to_numpy(zero_copy_only=False))
    print_answers(shown_frame)
    for line in footer:
        typer.echo(line)
    if shown:
        typer.echo(shown_line(shown, "log"))
    typer.echo(f"metrics: {out}, {out.with_suffix('.csv')} and {out.with_suffix('.json')}")

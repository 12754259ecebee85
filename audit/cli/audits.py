"""Audits and their policy gate: ``run`` and ``compare``, with the exit codes of a broken
or unevaluable ``[policy]`` limit (:func:`gate_policy`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ..progress import stderr, track
from .common import (
    EXIT_POLICY,
    EXIT_POLICY_NOT_EVALUATED,
    CacheDir,
    DataDir,
    RunsDir,
    UserError,
    app,
    default_cache_dir,
    list_written,
    note,
    reports_user_errors,
    tell,
)

#: A run folder's report files, in the order ``run`` lists them.
REPORT_FILES = ("report.html", "report.pdf", "short-report.html", "short-report.pdf")

if TYPE_CHECKING:
    from ..report.policy_outcome import PolicyOutcome

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
    skip_bad_rows: Annotated[bool, typer.Option(
        "--skip-bad-rows", help="Leave out manifest rows with problems (listed in the "
                                "run folder) instead of stopping; as \\[dataset] skip_bad_rows.",
    )] = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print the run's summary and policy outcome as JSON instead of the "
                       "tables.")] = False,
) -> None:
    """Run an audit: dataset, faces, scores, metrics, report, policy gate.

    Exit code 3 when a \\[policy] limit is broken, 4 when one cannot be
    evaluated (no trials, too few people, an unbounded ratio on the estimate)
    and the spec does not set skip_unevaluable = true.
    """
    from ..runs.workflow import run_audit

    with track("embedding") as tracker:
        outcome = run_audit(spec, runs_dir=runs_dir, data_dir=data_dir,
                            cache_dir=default_cache_dir(cache_dir), previous=previous,
                            executor=executor, skip_bad_rows=skip_bad_rows,
                            tracker=tracker)
    reused = ", ".join(outcome.reused) or "none"
    stderr.print(f"stages reused from cache: {reused}; seconds {outcome.seconds}",
                 highlight=False)
    if json_output:
        _print_json(outcome.folder)
    else:
        typer.echo(f"run folder: {outcome.folder}")
        list_written({name: outcome.folder / name for name in REPORT_FILES
                      if (outcome.folder / name).is_file()})
        _show_answers(outcome.folder, outcome.confidence)
    gate_policy(outcome.policy, quiet=json_output)


def _show_answers(folder: Path, confidence: float) -> None:
    """The short answer of a run: overall rates and the largest disparities, as ``metrics``,
    calibrated thresholds shown as ``metrics`` shows them (:mod:`.threshold_text`: the
    number nearest the computed one, of at least four significant digits, that decides
    the run's scores alike), with a line giving both where they differ."""
    import pyarrow.parquet as pq

    from ..runs import layout
    from ..tables import read_table
    from .answers import print_answers
    from .threshold_text import shown_line, with_shown_thresholds

    frame, shown = read_table(folder / layout.METRICS_FILE).to_pandas(), {}
    scores_path = folder / layout.SCORES_FILE  # absent: thresholds shown as computed
    if scores_path.is_file():
        scores = pq.read_table(scores_path, columns=["score"]).column("score")
        frame, shown = with_shown_thresholds(frame, scores.to_numpy(zero_copy_only=False))
    print_answers(frame, confidence)
    if shown:
        typer.echo(shown_line(shown, "run"))


def _print_json(folder: Path) -> None:
    """The run folder, its summary digest and policy outcome, as one JSON object on stdout."""
    import json

    digest = {"run_folder": str(folder)}
    for name in ("summary", "policy"):
        path = folder / f"{name}.json"
        digest[name] = json.loads(path.read_text()) if path.is_file() else None
    typer.echo(json.dumps(digest, indent=2))


def policy_exit_code(outcome: PolicyOutcome) -> int:
    """0, :data:`EXIT_POLICY` (broken) or :data:`EXIT_POLICY_NOT_EVALUATED`."""
    from ..report.policy_outcome import BROKEN, NOT_EVALUATED

    return {BROKEN: EXIT_POLICY, NOT_EVALUATED: EXIT_POLICY_NOT_EVALUATED}.get(outcome.state, 0)


#: How a check that could not be evaluated was let pass (``skip_unevaluable``).
SKIPPED = "skipped as [policy] skip_unevaluable = true allows"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


#: Under ``evaluate = "evidence"``, what a broken check's interval is (and is not).
EVIDENCE_PER_CHECK = ('policy: "evidence" reads each check on its own interval, not adjusted '
                      "for {others}: a pair not shown after correction can still break a limit")


def _state_line(outcome: PolicyOutcome) -> str:
    """``policy: met (2 limits; 6 checks; evaluate = "estimate")``, ``policy: met where
    evaluated: 4 of 6 checks (1 limit; 2 not evaluated, skipped as ...)`` or ``policy: no
    policy``."""
    from ..report.policy_outcome import NO_POLICY

    if outcome.state == NO_POLICY:
        return f"policy: {NO_POLICY}"
    counts = [_plural(len(outcome.limits), "limit")]
    if outcome.words == outcome.state:  # else the words count the checks
        counts.append(_plural(len(outcome.checks), "check"))
    if outcome.broken:
        counts.append(f"{len(outcome.broken)} broken")
    if outcome.not_evaluated:
        counts.append(f"{len(outcome.not_evaluated)} not evaluated" + (
            f", {SKIPPED}" if outcome.skip_unevaluable else ""))
    return f"policy: {outcome.words} ({'; '.join(counts)}; evaluate = \"{outcome.mode}\")"


def gate_policy(outcome: PolicyOutcome, *, quiet: bool = False) -> None:
    """Name each broken and each not-evaluated limit on a line of its own, then
    the outcome (not when ``quiet``: the JSON holds it); exit with
    :func:`policy_exit_code` unless it is 0."""
    from ..report.policy_outcome import EVIDENCE

    for check in outcome.broken:
        tell(f"[bold red]policy:[/] {escape(check.sentence)}")
    if outcome.broken and outcome.mode == EVIDENCE:
        others = len(outcome.checks) - 1
        tell(escape(EVIDENCE_PER_CHECK.format(others=(
            f"the {_plural(others, 'other check')} or " if others else "") +
            "the table's other comparisons")))
    skipped = " (skipped: skip_unevaluable = true)" if outcome.skip_unevaluable else ""
    for check in outcome.not_evaluated:
        tell(f"[bold yellow]policy:[/] {escape(check.sentence)}{skipped}")
    if not quiet:
        typer.echo(_state_line(outcome))
    code = policy_exit_code(outcome)
    if code:
        raise typer.Exit(code)


NO_RECORD = ("{table} has no {record} beside it: its options, inputs and policy are unknown "
             "(lfr-audit metrics writes one)")
RUN_TABLE = "{table} is a run's table: comparing its run folder {folder}"


def _as_run(path: Path) -> Path:
    """A run's metrics table stands for its run folder (its policy and spec count)."""
    from ..runs.compare_logs import run_folder_of

    folder = run_folder_of(path)
    if folder is None:
        return path
    note(RUN_TABLE.format(table=path, folder=folder))
    return folder


MIXED_COMPARE = ("compare {before} with {after}: give two run folders, or two score logs' "
                 "metrics tables (metrics.parquet), not one of each")


@app.command()
@reports_user_errors
def compare(
    before: Annotated[Path, typer.Argument(
        help="Earlier run folder, or a score log's metrics table (metrics.parquet).")],
    after: Annotated[Path, typer.Argument(
        help="Later run folder, or a score log's metrics table.")],
    out: Annotated[Path | None, typer.Option(
        help="Folder for compare.json and the changes report \\[default: AFTER, or the "
             "folder of AFTER's table].")] = None,
) -> None:
    """What changed between two runs, or two score logs' metrics tables; exit code 3 if
    AFTER broke a policy limit, 4 if AFTER has a limit that could not be evaluated (as
    `run` exits).

    Headline rates first, then the fixed pairs of the demographic groupings,
    then the other significant changes (Benjamini-Hochberg, false discovery
    rate 5%, over every change tested), then the set-up changes (for tables:
    the options, the about file and each input file's SHA-256 from the records
    `metrics` wrote beside them).
    """
    from ..runs.compare import compare_runs
    from ..runs.compare_logs import compare_tables
    from ..runs.log_record import record_path
    from ..report.policy_outcome import PolicyOutcome
    from ..runs.report import render_changes
    from ..report.changes import build_changes, text_lines
    from ..tables import write_json

    before, after = (_as_run(path) for path in (before, after))
    if before.is_dir() != after.is_dir():
        raise UserError(MIXED_COMPARE.format(before=before, after=after))
    if not after.is_dir():
        for table in (before, after):
            if not record_path(table).is_file():
                note(NO_RECORD.format(table=table, record=record_path(table).name))
    comparison = compare_runs(before, after) if after.is_dir() else compare_tables(before, after)
    folder = out or (after if after.is_dir() else after.parent)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "compare.json", comparison.to_json())
    written = render_changes(comparison, folder)
    for line in text_lines(build_changes(comparison)):
        typer.echo(line)
    for change in comparison.spec_changes + comparison.environment_changes:
        typer.echo(f"changed {change.key}: {change.before} -> {change.after}")
    typer.echo(f"comparison: {folder / 'compare.json'}")
    for path in written.values():
        typer.echo(f"changes report: {path}")
    recorded = comparison.policy_after
    if recorded is None:
        typer.echo(f"policy: not recorded in {after}")
        return
    gate_policy(PolicyOutcome.from_json(recorded))


"""Reading past work: ``report`` (render a run or a metrics table) and ``runs list``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .common import (ReportFormat, RunsDir, UserError, app, list_written, reports_user_errors,
                     runs_app)
from .log_about import ABOUT_HELP

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
    about: Annotated[Path | None, typer.Option(help=ABOUT_HELP + " For a metrics table; "
                                               "replaces the one given to `metrics`.")] = None,
) -> None:
    """Render the transparency report of a run (or of a metrics table, described by the
    metrics.about.json beside it or by --about)."""
    from .log_about import load_about_option, render_table_report

    formats = tuple(f.value for f in (format or list(ReportFormat)))
    described = load_about_option(about, source)
    if source.is_dir():
        from ..runs.report import render_run

        if out is not None and out.resolve() != source.resolve():
            raise UserError("a run's report is written into its run folder; drop --out")
        written = render_run(source, formats=formats, include_faces=include_faces,
                             previous=previous)
    else:
        if previous is not None or include_faces:
            raise UserError("--previous and --include-faces need a run folder, not a metrics table")
        written = render_table_report(source, about=described, out=out or source.parent,
                                      formats=formats)
    list_written(written)


#: How ``runs list`` shows each policy state.
_POLICY_STYLE = {"met": "[green]{}[/]", "broken": "[bold red]{}[/]",
                 "not evaluated": "[yellow]{}[/]"}


NO_RUNS = ("no runs in {runs_dir}; `lfr-audit run SPEC` writes one there "
           "(--runs-dir or LFR_AUDIT_RUNS to look elsewhere)")


@runs_app.command("list")
@reports_user_errors
def runs_list(runs_dir: RunsDir = Path("runs"), json_output: Annotated[bool, typer.Option(
        "--json", help="One JSON object per run, in a list, instead of the table.")] = False,
) -> None:
    """Past runs: spec, model, thresholds, headline figures with intervals, the largest
    disparity, policy state (met, broken, not evaluated or no policy)."""
    from ..runs.layout import list_runs, read_run

    from .answers import console, headline, largest_disparity, lead_point

    folders = list_runs(runs_dir)
    if json_output:
        _print_runs_json(runs_dir, folders)
        return
    if not folders:
        typer.echo(NO_RUNS.format(runs_dir=runs_dir))
        return
    table = Table(title=f"runs in {runs_dir}")
    table.add_column("run", no_wrap=True, min_width=max((len(f.name) for f in folders),
                                                        default=3))
    for column in ("spec", "model", "thresholds", "headline (95% interval)",
                   "largest disparity", "policy"):
        table.add_column(column, overflow="fold")
    for folder in folders:
        record = read_run(folder)
        prov, summary = record.provenance, record.summary
        pipeline = prov.pipeline
        thresholds = ", ".join(f"{t:.4g}" for t in prov.thresholds) or "-"
        lead = lead_point(summary)
        figures = headline(summary, lead)
        figures = f"{escape(lead)}: {escape(figures)}" if figures else "-"
        state = "-" if record.policy is None else record.policy.state
        policy = "-" if record.policy is None else escape(record.policy.words)
        table.add_row(folder.name, escape(prov.name),
                      f"{pipeline['model']}/{pipeline['detector']}", thresholds, figures,
                      escape(largest_disparity(summary, lead, prov.confidence,
                                               prov.sensitive_groupings)),
                      _POLICY_STYLE.get(state, "{}").format(policy))
    console().print(table)



def _print_runs_json(runs_dir: Path, folders: list[Path]) -> None:
    """``runs list --json``: what the table shows, unshortened, for scripts."""
    import json

    from ..runs.layout import read_run
    from .answers import headline, largest_disparity, lead_point

    out = []
    for folder in folders:
        record = read_run(folder)
        lead = lead_point(record.summary)
        out.append({
            "run": folder.name, "folder": str(folder), "spec": record.provenance.name,
            "model": record.provenance.pipeline.get("model"),
            "detector": record.provenance.pipeline.get("detector"),
            "thresholds": list(record.provenance.thresholds), "operating_point": lead,
            "headline": headline(record.summary, lead),
            "largest_disparity": largest_disparity(record.summary, lead,
                                                   record.provenance.confidence,
                                                   record.provenance.sensitive_groupings),
            "policy": None if record.policy is None else record.policy.state,
        })
    typer.echo(json.dumps(out, indent=2))

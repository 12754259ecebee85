"""``lfr-audit deployments FILE``: figures from deployment records, and their report.

Registered in :mod:`audit.cli` with one line; heavy imports (scipy,
statsmodels, WeasyPrint) happen inside the command.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class Format(str, Enum):
    html = "html"
    pdf = "pdf"


def _per_1000(e) -> str:
    if e is None:
        return "-"
    return f"{e.value * 1000:.3g} [{e.low * 1000:.3g}, {e.high * 1000:.3g}] ({e.count:,}/{e.base:,.0f})"


def _share(e) -> str:
    if e is None:
        return "-"
    return f"{e.value:.1%} [{e.low:.1%}, {e.high:.1%}] ({e.count:,}/{e.base:,.0f})"


def _print(audit) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"deployment records: false alerts (exact {audit.confidence * 100:g}% intervals)")
    for column in ("record", "dates", "threshold", "faces", "alerts", "false per 1,000 faces",
                   "share of alerts false", "upper bound (no-outcome false)"):
        table.add_column(column, overflow="fold")
    for f in audit.records:
        r = f.record
        table.add_row(r.deployment_id, r.period or "-",
                      "-" if r.threshold is None else f"{r.threshold:g}",
                      "-" if r.faces is None else f"{r.faces:,}" + (" (est.)" if r.faces_estimated else ""),
                      "-" if r.alerts is None else f"{r.alerts:,}", _per_1000(f.false_per_face),
                      _share(f.false_share.recorded if f.false_share else None),
                      _share(f.false_share.all_false if f.false_share and f.false_share.unconfirmed else None))
    Console(markup=False, highlight=False).print(table)
    o = audit.overall
    for name, pooled, show in (("false per 1,000 faces", o.per_face, _per_1000),
                               ("share of alerts false", o.false_share, _share)):
        if pooled is None:
            continue
        line = f"pooled {name}: {show(pooled.plain)} over {len(pooled.ids)} records"
        if pooled.quasi is not None:
            q = pooled.quasi
            scale = 1000 if pooled is o.per_face else 100
            line += (f"; quasi interval [{q.estimate.low * scale:.3g}, {q.estimate.high * scale:.3g}]"
                     f"{'%' if scale == 100 else ''}; X2={q.pearson_chi2:.4g} df={q.df} "
                     f"p={q.p_value:.2g} I2={q.i_squared:.0%}")
        typer.echo(line)
    for r in audit.over_representation:
        typer.echo(f"{r.deployment_id}: {r.k} of {r.n} false alerts '{r.group}'; over-representation "
                   f"shown for crowd shares below {r.shown_below:.1%}; at {r.share_low:.1%} "
                   f"p={r.low_end.p_value:.2g}, at {r.share_high:.1%} p={r.high_end.p_value:.2g}")


def deployments(
    records: Annotated[Path, typer.Argument(help="Deployment records (CSV or Parquet).",
                                            dir_okay=False)],
    alerts: Annotated[Path | None, typer.Option(
        help="Per-alert rows: deployment_id, outcome, group.", dir_okay=False)] = None,
    crowd: Annotated[Path | None, typer.Option(
        help="Crowd shares per group: group, share_low, share_high (or observed, observed_of), "
             "source.", dir_okay=False)] = None,
    lab: Annotated[Path | None, typer.Option(
        help="Lab FPIR to compare with: label, deployment_id, threshold, watchlist_size, "
             "false_alerts/probes or fpir, conditions, source.", dir_okay=False)] = None,
    column: Annotated[list[str] | None, typer.Option(
        "--column", help="Map a column name to ours, e.g. 'Faces seen=faces_scanned' "
                         "(repeatable).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Report folder \\[default: <RECORDS stem>-report beside RECORDS].",
        file_okay=False)] = None,
    format: Annotated[list[Format] | None, typer.Option(
        "--format", help="html and/or pdf (repeatable) \\[default: both].")] = None,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999)] = 0.95,
) -> None:
    """Figures from real deployments' records with exact intervals: false alerts per
    face and per alert, pooled with between-deployment variation, over-representation
    against an uncertain crowd, lab comparison; writes an HTML and PDF report."""
    from audit.deployments.analysis import analyse_deployments
    from audit.deployments.records import RECORD_COLUMNS, parse_mapping, read_alerts, read_records
    from audit.deployments.references import read_crowd, read_lab
    from audit.deployments.report import write_deployments_report

    rows = read_records(records, parse_mapping(column or [], RECORD_COLUMNS))
    audit = analyse_deployments(
        rows, read_alerts(alerts, rows) if alerts else (),
        read_crowd(crowd, confidence=confidence) if crowd else (),
        read_lab(lab, confidence=confidence) if lab else (), confidence=confidence)
    _print(audit)
    folder = out or records.with_name(f"{records.stem}-report")
    written = write_deployments_report(
        audit, folder, records_file=records.name,
        formats=tuple(f.value for f in (format or list(Format))))
    for path in written.values():
        typer.echo(f"report: {path}")

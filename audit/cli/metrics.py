"""``metrics``: error rates by group from a run's scores or an exported score log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..progress import stderr
from .common import Interval, UserError, app, reports_user_errors

@app.command()
@reports_user_errors
def metrics(
    source: Annotated[Path, typer.Argument(help="A run folder, or a score-log trials file.")],
    attributes: Annotated[Path | None, typer.Option(
        help="Attribute table for a score-log file (per image or per subject).")] = None,
    out: Annotated[Path, typer.Option(
        help="Metrics table to write (Parquet); a JSON summary goes beside it.")] = Path(
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
             "independent trials.")] = Interval["wilson-clustered"],
    min_subjects: Annotated[int, typer.Option(min=1)] = 20,
    min_trials: Annotated[int, typer.Option(min=1)] = 100,
) -> None:
    """Error rates by group for a run's scores or an exported score log (no deepface)."""
    import warnings

    from ..metrics import compute_metrics, summarize_metrics
    from ..tables import write_json, write_table

    scores, images, fta = _read_trials(source, attributes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = compute_metrics(
            scores, images, fta, thresholds=tuple(threshold or ()),
            target_fmr=tuple(target_fmr or ()), target_fpir=tuple(target_fpir or ()),
            groupings=tuple(grouping or ()), min_subjects=min_subjects, min_trials=min_trials,
            interval=interval.value)
    for warning in caught:
        stderr.print(escape(f"note: {warning.message}"), highlight=False)
    write_table(table, out)
    write_json(out.with_suffix(".json"), summarize_metrics(table))
    _print_rates(table)
    typer.echo(f"metrics: {out} and {out.with_suffix('.json')}")


def _read_trials(source: Path, attributes: Path | None):
    """Scores, image labels and failures to acquire (None for a score log) to measure."""
    from ..tables import read_table

    if source.is_dir():
        from ..metrics.conditions import failures_to_acquire
        from ..runs import layout

        return (read_table(source / layout.SCORES_FILE), read_table(source / layout.MANIFEST_FILE),
                failures_to_acquire(read_table(source / layout.FACES_FILE)))
    from ..metrics.score_logs import read_score_logs

    if attributes is None:
        raise UserError("a score-log file needs --attributes FILE (group labels)")
    logs = read_score_logs(source, attributes)
    return logs.scores, logs.images, None


def _print_rates(table) -> None:
    """One line per rate row (cross-group cells left to the table)."""
    frame = table.to_pandas()
    rates = frame[(frame["statistic"] == "rate") & (frame["metric"] != "fmr_cross")]
    for row in rates.itertuples():
        figure = ("n/a" if row.value != row.value else
                  f"{row.value:.4%} [{row.ci_low:.4%}, {row.ci_high:.4%}]")
        flag = "" if row.sufficient else "  (insufficient)"
        threshold = "" if row.threshold != row.threshold else f"t={row.threshold:.6g}"
        point = row.operating_point if isinstance(row.operating_point, str) else "-"
        typer.echo(f"{row.metric:14} {point:18} {threshold:12} "
                   f"{row.grouping}={row.group}: {figure} n={row.n_trials} "
                   f"errors={row.n_errors}{flag}")

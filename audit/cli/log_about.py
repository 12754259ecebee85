"""A score log's description: ``metrics --about`` / ``--report`` and ``report --about``.

The about file (:mod:`audit.log_about`) is read and checked before the log is;
after the metrics, its record goes beside the table (:mod:`audit.runs.log_record`),
from which ``report`` describes the system, the data and the labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .common import UserError, list_written

ABOUT_HELP = ("TOML file describing the system, the data and how people were labelled, for "
              "the report (`lfr-audit init about.toml --about` writes one; docs/score-logs.md).")
ABOUT_FOR_RUNS = "--about describes a score log; a run folder is described by its audit spec"
NO_POLICY_LINE = ("policy: none set (add a [policy] table to the --about file, with an audit "
                  "spec's keys, e.g. max_fpir_ratio = 1.5; docs/score-logs.md)")
WATCHLIST_DISAGREES = ("--audit-watchlist {given} disagrees with [watchlist] size = {stated} in "
                       "{file}; give one of them")


def load_about_option(path: Path | None, source: Path | None = None):
    """The checked about file (None without one); one-line errors, exit 2."""
    if path is None:
        return None
    if source is not None and source.is_dir():
        raise UserError(ABOUT_FOR_RUNS)
    from ..log_about import AboutError, load_about

    try:
        return load_about(path)
    except AboutError as error:
        raise UserError(str(error)) from None


def audited_watchlist(given: int | None, about, about_path: Path | None) -> int | None:
    """The watchlist size the searches were made against: ``--audit-watchlist``, else the
    about file's ``[watchlist] size``; an error when both are given and differ."""
    stated = about.watchlist.size if about is not None else None
    if given is not None and stated is not None and given != stated:
        raise UserError(WATCHLIST_DISAGREES.format(given=given, stated=stated,
                                                   file=about_path.name))
    return given if given is not None else stated


def log_options(thresholds, target_fmr, target_fpir, groupings, interval: str,
                min_subjects: int, min_trials: int, *,
                projection: dict[str, Any] | None) -> dict[str, Any]:
    """The ``metrics`` options the report states (the record's ``options``); ``projection``
    is :func:`.log_projection.projection_assumptions`' (None without ``--crowd``)."""
    return {
        "thresholds": list(thresholds or ()), "target_fmr": list(target_fmr or ()),
        "target_fpir": list(target_fpir or ()), "groupings": list(groupings or ()),
        "statistics": {"interval": interval, "min_subjects": min_subjects,
                       "min_trials": min_trials},
        "projection": projection,
    }


def record_log(out: Path, *, about, counts: dict[str, int | None], trials: Path,
               attributes: Path | None, options: dict[str, Any], mapping=None,
               policy=None) -> None:
    """Write the score log's record beside its metrics table (``metrics.about.json``), with
    each input file's SHA-256 and the columns read from it (:func:`log_inputs`) and the
    ``policy`` outcome judged on it (:func:`judge_log_policy`), as a run keeps its own."""
    from ..runs.log_record import write_record

    sources = {"trials": trials, "attributes": attributes}
    write_record(out, about=None if about is None else about.model_dump(mode="json"),
                 sources={k: str(v) for k, v in sources.items() if v is not None},
                 options=options, counts=counts,
                 inputs=log_inputs(trials, attributes, mapping),
                 policy=None if policy is None else policy.to_json())


def digest_extra(policy, projection: dict[str, Any] | None) -> dict[str, Any]:
    """What the JSON digest adds to the metrics' own for a score log: the ``policy`` outcome
    and the ``projection_assumptions`` (each only when there is one)."""
    extra: dict[str, Any] = {}
    if policy is not None:
        extra["policy"] = policy.to_json()
    if projection is not None:
        extra["projection_assumptions"] = projection
    return extra


def log_inputs(trials: Path, attributes: Path | None, mapping=None) -> dict[str, Any]:
    """Per input file: its name, SHA-256, and which of its columns was read as which key
    of the format (the attribute file's other columns: ``labels``)."""
    import hashlib

    from ..metrics.log_format import ATTRIBUTE_KEYS, TRIAL_KEYS, ColumnMap
    from ..metrics.log_reading import column_names

    mapping = mapping or ColumnMap({})
    inputs = {}
    for role, path, keys in (("trials", trials, TRIAL_KEYS),
                             ("attributes", attributes, ATTRIBUTE_KEYS)):
        if path is None:
            continue
        names = column_names(path)
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        read = {key: mapping.column(key) for key in keys if mapping.column(key) in names}
        inputs[role] = {"file": path.name, "sha256": digest, "columns": read}
        if role == "attributes":
            inputs[role]["labels"] = [n for n in names if n not in read.values()]
    return inputs


def judge_log_policy(about, metrics, groupings: tuple[str, ...]):
    """The about file's ``[policy]`` judged on the log's metrics as ``run`` judges a run's
    (``no policy`` without limits): before anything is written, so that the record, the JSON
    digest and both reports carry the outcome the terminal states."""
    from ..config import PolicySpec
    from ..runs.policy import check_policy

    return check_policy(about.policy if about is not None else PolicySpec(), metrics,
                        groupings)


def gate_log_policy(outcome, *, quiet: bool) -> None:
    """:func:`judge_log_policy`'s outcome told as ``run`` tells a run's (the broken and
    unevaluable limits named, exit 3 or 4); without limits, one line saying so and how to
    set them (not when ``quiet``: stdout carries JSON)."""
    from ..report.policy_outcome import NO_POLICY
    from .audits import gate_policy

    if outcome.state != NO_POLICY:
        gate_policy(outcome, quiet=quiet)
    elif not quiet:
        typer.echo(NO_POLICY_LINE)


def forget_log_record(out: Path) -> None:
    """A table from a run folder: remove a score log's record left at the same path,
    which would describe other data."""
    from ..runs.log_record import record_path

    record_path(out).unlink(missing_ok=True)


def render_table_report(table_path: Path, *, about, out: Path, formats: tuple[str, ...]):
    """Render a metrics table's report, described by its record and ``about`` (which
    replaces the record's own, and whose ``[policy]`` is judged on the table in place of
    the recorded outcome); returns what ``render_report`` wrote."""
    from dataclasses import replace

    from ..report.render import render_report
    from ..runs.log_info import run_info_from_record
    from ..runs.log_record import read_record
    from ..tables import read_table

    try:
        record = read_record(table_path)
    except ValueError as error:
        raise UserError(str(error)) from None
    run = run_info_from_record(
        record, run_id=table_path.stem,
        about=None if about is None else about.model_dump(mode="json"))
    table = read_table(table_path)
    if about is not None:
        groupings = (record or {}).get("options", {}).get("groupings")
        outcome = judge_log_policy(about, table, None if groupings is None else
                                   tuple(groupings))
        run = replace(run, policy=outcome.to_json())
    return render_report(table, run, out, formats)


def render_and_list(table_path: Path, *, to_stderr: bool) -> None:
    """``metrics --report``: the table's report (HTML and PDF) beside it, described by the
    record just written (its about file and policy outcome), paths listed (on stderr when
    stdout carries JSON)."""
    list_written(render_table_report(table_path, about=None, out=table_path.parent,
                                     formats=("html", "pdf")), to_stderr=to_stderr)

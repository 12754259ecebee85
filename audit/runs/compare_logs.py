"""What changed between two score logs' metrics tables: a vendor's exports, audited again.

``lfr-audit metrics`` writes a table and its record beside it
(:mod:`audit.runs.log_record`). Two such tables are compared as two runs are
(:func:`audit.runs.compare.compare_metrics`: every rate and fixed pair
matched, the change with its 95% interval, Benjamini-Hochberg over every
change tested). The set-up changes are the records' keys: the options, the
about file, and what was read from each file, so a changed SHA-256 says the
export itself changed; the environment changes are their package versions.
The later table's policy outcome is its record's, when one was judged.
Both tables hold 95% intervals (``metrics`` computes no other level), the
level the tests are built from.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ..report.comparison import Comparison, RunRef
from .compare import compare_metrics, diff_dicts, read_metrics_table
from .layout import RunError
from .log_record import read_record

NOT_A_TABLE = ("{path}: not a metrics table (compare takes two run folders, or two "
               "metrics.parquet files written by lfr-audit metrics)")
#: Columns only a metrics table has (a score log or other Parquet file has neither).
TABLE_COLUMNS = ("metric", "statistic")
#: Record keys compared as the set-up, and as the environment.
SETUP_KEYS = ("about", "options", "sources", "inputs", "counts")
ENVIRONMENT_KEY = "versions"


def compare_tables(before: Path, after: Path) -> Comparison:
    """Compare score-log metrics table ``after`` with the earlier ``before``."""
    frames, records = [], []
    for path in (before, after):
        _check_table(Path(path))
        frames.append(read_metrics_table(Path(path)))
        try:
            records.append(read_record(Path(path)) or {})
        except ValueError as error:
            raise RunError(str(error)) from None
    groupings = [tuple((r.get("options") or {}).get("groupings") or ()) for r in records]
    demographic = tuple(dict.fromkeys(g for found in groupings for g in found)) or None
    compared = compare_metrics(*frames, demographic=demographic)
    first, second = records
    return replace(
        compared,
        before=RunRef(_label(Path(before), first), str(before)),
        after=RunRef(_label(Path(after), second), str(after)),
        spec_changes=diff_dicts(_setup(first), _setup(second)),
        environment_changes=diff_dicts(first.get(ENVIRONMENT_KEY) or {},
                                       second.get(ENVIRONMENT_KEY) or {}),
        policy_before=first.get("policy"),
        policy_after=second.get("policy"),
    )


def run_folder_of(path: Path) -> Path | None:
    """The run folder a metrics table belongs to (a ``provenance.json`` beside it), if any:
    a run is compared as a run, with its own policy and spec."""
    path = Path(path)
    return path.parent if path.is_file() and (path.parent / "provenance.json").is_file() else None


def _check_table(path: Path) -> None:
    """A Parquet file with a metrics table's columns, else one line (a score log or any
    other file is not a table to compare)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file():
        raise RunError(NOT_A_TABLE.format(path=path))
    try:
        names = pq.read_schema(path).names
    except (pa.ArrowInvalid, OSError):
        raise RunError(NOT_A_TABLE.format(path=path)) from None
    if not all(column in names for column in TABLE_COLUMNS):
        raise RunError(NOT_A_TABLE.format(path=path))


def _setup(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in SETUP_KEYS}


def _label(path: Path, record: dict[str, Any]) -> str:
    """The table as the changes name it: its folder and file, and when it was written."""
    when = record.get("created_utc")
    return f"{path.parent.name}/{path.name}" + (f" (written {when})" if when else "")

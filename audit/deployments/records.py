"""Deployment records in: the documented schema, column mapping and row-numbered refusals.

A records file (CSV or Parquet) holds one row per deployment, or per published
summary of several deployments (``n_deployments`` > 1). Every count is
optional: a field the source does not give stays empty, and every analysis
says which figures it could not compute. Counts that cannot be true together
(negative, confirmed true + false > alerts, alerts > faces scanned, ...) are
refused with the row number, so a transcription slip is caught before any
statistic is printed.

Row numbers are those a spreadsheet shows: the header is row 1 of a CSV, the
first record row 2; a Parquet file's first record is row 1.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from audit.schema import SchemaError

#: Integer count columns, each optional.
COUNTS = ("watchlist_size", "faces_scanned", "crowd_estimate", "alerts", "confirmed_true",
          "confirmed_false", "unresolved", "engagements", "arrests", "n_deployments")
#: Free-text columns, each optional.
TEXTS = ("location", "operator", "system", "system_version", "faces_source", "source", "notes")
#: Every column a records file may have (``deployment_id`` is the only required one).
RECORD_COLUMNS = ("deployment_id", "date", "end_date", "threshold") + COUNTS + TEXTS
#: Per-alert rows: which deployment, what officers found, the alerted person's recorded group.
ALERT_COLUMNS = ("deployment_id", "outcome", "group")
OUTCOMES = ("true", "false", "unresolved")
#: Names other records use for our columns (after lower-casing, spaces to underscores).
SYNONYMS = {
    "id": "deployment_id", "deployment": "deployment_id", "faces_seen": "faces_scanned",
    "faces": "faces_scanned", "true_alerts": "confirmed_true", "false_alerts": "confirmed_false",
    "total_alerts": "alerts", "watchlist": "watchlist_size", "face_match_threshold": "threshold",
    "unconfirmed": "unresolved", "stops": "engagements",
}
MAX_LISTED = 8

NOT_FOUND = "{path} not found; give a CSV or Parquet records file"
BAD_SUFFIX = "{path}: unknown file type; give a .csv or .parquet file"
NO_ID = "{path} has no deployment_id column (columns: {columns}); map one with --column NAME=deployment_id"
BAD_MAPPING = "column mapping {item!r} is not NAME=COLUMN with COLUMN one of: {allowed}"
REFUSED = "{path}: {n} row(s) refused; fix them and run again:\n{lines}"


class RecordsError(SchemaError):
    """A records file that cannot be read as documented; the message names file, row and fix."""


@dataclass(frozen=True)
class Deployment:
    """One deployment record (or one published summary of ``n_deployments`` deployments).

    ``faces`` is the denominator of per-face rates: ``faces_scanned`` where
    recorded, else the ``crowd_estimate`` (``faces_estimated`` is then True).
    """

    deployment_id: str
    row: int
    date: date | None = None
    end_date: date | None = None
    threshold: float | None = None
    watchlist_size: int | None = None
    faces_scanned: int | None = None
    crowd_estimate: int | None = None
    alerts: int | None = None
    confirmed_true: int | None = None
    confirmed_false: int | None = None
    unresolved: int | None = None
    engagements: int | None = None
    arrests: int | None = None
    n_deployments: int | None = None
    location: str = ""
    operator: str = ""
    system: str = ""
    system_version: str = ""
    faces_source: str = ""
    source: str = ""
    notes: str = ""
    #: The dates as the source gives them (a month or a year where it gives no day).
    period: str = ""

    @property
    def faces(self) -> int | None:
        return self.faces_scanned if self.faces_scanned is not None else self.crowd_estimate

    @property
    def faces_estimated(self) -> bool:
        return self.faces_scanned is None and self.crowd_estimate is not None

    @property
    def not_confirmed(self) -> int | None:
        """Alerts with no recorded outcome: alerts minus those confirmed true or false."""
        if self.alerts is None:
            return None
        return self.alerts - (self.confirmed_true or 0) - (self.confirmed_false or 0)


@dataclass(frozen=True)
class Alert:
    """One alert: its deployment, outcome (true, false, unresolved) and recorded group."""

    deployment_id: str
    outcome: str
    group: str
    row: int


def parse_mapping(items: list[str] | tuple[str, ...], allowed: tuple[str, ...]) -> dict[str, str]:
    """``["Faces seen=faces_scanned", ...]`` -> {normalised name: our column}."""
    mapping = {}
    for item in items:
        name, sep, column = item.partition("=")
        if not sep or column.strip() not in allowed or not name.strip():
            raise RecordsError(BAD_MAPPING.format(item=item, allowed=", ".join(allowed)))
        mapping[_normal(name)] = column.strip()
    return mapping


def _normal(name: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def read_frame(path: Path, mapping: Mapping[str, str],
               synonyms: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, int]:
    """The file as cells with our column names (lower case, spaces to underscores,
    then ``mapping``, then ``synonyms``), and the row number of its first record."""
    path = Path(path)
    if not path.is_file():
        raise RecordsError(NOT_FOUND.format(path=path))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame, first = pd.read_csv(path, dtype=str, keep_default_na=False, comment=None), 2
    elif suffix in (".parquet", ".pq"):
        frame, first = pd.read_parquet(path).astype(object), 1
    else:
        raise RecordsError(BAD_SUFFIX.format(path=path))
    names = {c: _normal(c) for c in frame.columns}
    names = {c: mapping.get(n, (synonyms or {}).get(n, n)) for c, n in names.items()}
    return frame.rename(columns=names), first


def cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def number_cell(text: str, column: str, problems: list[str], *,
                minimum: float | None = 0.0) -> float | None:
    """A finite number (thousands separators allowed) at or above ``minimum``;
    None for an empty cell, or after noting the problem."""
    if not text:
        return None
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        problems.append(f"{column} {text!r} is not a number")
        return None
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        problems.append(f"{column} {text!r} is not a number" + (f" >= {minimum:g}" if minimum is not None else ""))
        return None
    return value


def _count(text: str, column: str, problems: list[str]) -> int | None:
    value = number_cell(text, column, [])
    if text and (value is None or value != int(value)):
        problems.append(f"{column} {text!r} is not a count (a whole number >= 0)")
        return None
    return None if value is None else int(value)


def _date(text: str, column: str, problems: list[str]) -> date | None:
    """A date as precise as the source: YYYY-MM-DD, YYYY-MM or YYYY (its first day)."""
    if not text:
        return None
    match = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", text[:10])
    try:
        if match is None or (match.group(3) and not match.group(2)):
            raise ValueError(text)
        return date(int(match.group(1)), int(match.group(2) or 1), int(match.group(3) or 1))
    except ValueError:
        problems.append(f"{column} {text!r} is not a date (YYYY-MM-DD, YYYY-MM or YYYY)")
        return None


def impossible_counts(d: Deployment) -> list[str]:
    """Why the counts of ``d`` cannot all be true (empty when they can)."""
    problems = []
    true, false, unresolved = d.confirmed_true, d.confirmed_false, d.unresolved
    outcomes = sum(x or 0 for x in (true, false, unresolved))
    if d.alerts is not None:
        if outcomes > d.alerts:
            problems.append(f"confirmed true + false + unresolved ({outcomes}) > alerts ({d.alerts})")
        elif None not in (true, false, unresolved) and outcomes != d.alerts:
            problems.append(f"confirmed true + false + unresolved ({outcomes}) != alerts ({d.alerts})")
        if d.engagements is not None and d.engagements > d.alerts:
            problems.append(f"engagements ({d.engagements}) > alerts ({d.alerts})")
    if d.faces is not None:
        seen = d.alerts if d.alerts is not None else outcomes
        if seen > d.faces:
            name = "faces_scanned" if d.faces_scanned is not None else "crowd_estimate"
            problems.append(f"alerts ({seen}) > {name} ({d.faces})")
    if d.date and d.end_date and d.end_date < d.date:
        problems.append(f"end_date {d.end_date} is before date {d.date}")
    if d.n_deployments == 0:
        problems.append("n_deployments is 0")
    return problems


def _record(cells: Mapping[str, str], row: int, problems: list[str]) -> Deployment:
    values: dict[str, object] = {"deployment_id": cells.get("deployment_id", ""), "row": row}
    values["date"] = _date(cells.get("date", ""), "date", problems)
    values["end_date"] = _date(cells.get("end_date", ""), "end_date", problems)
    values["period"] = " to ".join(t for t in (cells.get("date", ""), cells.get("end_date", "")) if t)
    values["threshold"] = number_cell(cells.get("threshold", ""), "threshold", problems, minimum=None)
    values.update({c: _count(cells.get(c, ""), c, problems) for c in COUNTS})
    values.update({c: cells.get(c, "") for c in TEXTS})
    return Deployment(**values)


def refuse_rows(path: Path, refusals: list[str]) -> None:
    if refusals:
        lines = refusals[:MAX_LISTED] + ([f"... and {len(refusals) - MAX_LISTED} more"]
                                         if len(refusals) > MAX_LISTED else [])
        raise RecordsError(REFUSED.format(path=path, n=len(refusals), lines="\n".join(lines)))


def read_records(path: Path, mapping: Mapping[str, str] | None = None) -> tuple[Deployment, ...]:
    """Read and check a records file; refuse it whole if any row is impossible.

    Parameters
    ----------
    path : Path
        CSV (header row, any column order, extra columns ignored) or Parquet.
    mapping : dict, optional
        {their column name: our column} for names other than ours and
        :data:`SYNONYMS` (see :func:`parse_mapping`).

    Raises
    ------
    RecordsError
        Missing ``deployment_id`` column, or one line per refused row: row
        number, deployment id and every reason.
    """
    frame, first = read_frame(path, mapping or {}, SYNONYMS)
    if "deployment_id" not in frame.columns:
        raise RecordsError(NO_ID.format(path=path, columns=", ".join(map(str, frame.columns))))
    records, refusals, seen = [], [], {}
    for offset, raw in enumerate(frame.to_dict("records")):
        row = first + offset
        cells = {k: cell_text(v) for k, v in raw.items() if k in RECORD_COLUMNS}
        problems: list[str] = []
        record = _record(cells, row, problems)
        if not record.deployment_id:
            problems.append("deployment_id is empty")
        elif record.deployment_id in seen:
            problems.append(f"deployment_id repeats row {seen[record.deployment_id]}")
        seen.setdefault(record.deployment_id, row)
        problems += impossible_counts(record)
        if problems:
            refusals.append(f"row {row} ({record.deployment_id or 'no id'}): " + "; ".join(problems))
        records.append(record)
    refuse_rows(path, refusals)
    return tuple(records)


def read_alerts(path: Path, records: tuple[Deployment, ...]) -> tuple[Alert, ...]:
    """Read per-alert rows (``deployment_id``, ``outcome``, optional ``group``) and check
    them against the records: a known deployment, a known outcome, and no more
    alert rows of an outcome than the record counts."""
    frame, first = read_frame(path, {})
    missing = [c for c in ALERT_COLUMNS[:2] if c not in frame.columns]
    if missing:
        raise RecordsError(f"{path} lacks column(s) {', '.join(missing)}; "
                           f"an alerts file has {', '.join(ALERT_COLUMNS)}")
    by_id = {r.deployment_id: r for r in records}
    alerts, refusals = [], []
    for offset, raw in enumerate(frame.to_dict("records")):
        row = first + offset
        deployment_id, outcome = cell_text(raw["deployment_id"]), cell_text(raw["outcome"]).lower()
        if deployment_id not in by_id:
            refusals.append(f"row {row}: deployment_id {deployment_id!r} is not in the records")
        elif outcome not in OUTCOMES:
            refusals.append(f"row {row}: outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        else:
            alerts.append(Alert(deployment_id, outcome, cell_text(raw.get("group", "")), row))
    refusals += _alerts_beyond_records(alerts, by_id)
    refuse_rows(path, refusals)
    return tuple(alerts)


def _alerts_beyond_records(alerts: list[Alert], by_id: Mapping[str, Deployment]) -> list[str]:
    column = {"true": "confirmed_true", "false": "confirmed_false", "unresolved": "unresolved"}
    by_outcome = Counter((a.deployment_id, a.outcome) for a in alerts)
    problems = []
    for (deployment_id, outcome), n in sorted(by_outcome.items()):
        limit = getattr(by_id[deployment_id], column[outcome])
        if limit is not None and n > limit:
            problems.append(f"deployment {deployment_id}: {n} {outcome} alert rows but "
                            f"{column[outcome]} is {limit} in the records")
    for deployment_id, n in sorted(Counter(a.deployment_id for a in alerts).items()):
        limit = by_id[deployment_id].alerts
        if limit is not None and n > limit:
            problems.append(f"deployment {deployment_id}: {n} alert rows but alerts is {limit} "
                            "in the records")
    return problems


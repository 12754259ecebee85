"""Read a vendor system's exported scores into the metrics stage, checking every row.

An evaluator often has no images, only a system's score export: one or more
trials files and an attribute file, CSV (``.csv``) or Parquet (``.parquet``,
``.pq``). The format (every column, its type and meaning, worked examples) is
``docs/score-logs.md``; the columns themselves are listed once, in
:mod:`audit.metrics.log_format`, and the user's own column names are mapped
onto them with a :class:`~audit.metrics.log_format.ColumnMap`.

Columns are read lazily with pyarrow (:mod:`audit.metrics.log_reading`): ids
become integer codes, so checks, duplicate searches and joins run on
integers; the files are joined, their images found and the SCORES table built
by :mod:`audit.metrics.log_trials`, repeated trials named by
:mod:`audit.metrics.log_duplicates`, labels attached by
:mod:`audit.metrics.log_attributes`. Every problem is collected (up to
:data:`MAX_REPORTED` a check, with the total: :mod:`.log_problems`) and
raised together as a :class:`ScoreLogError` naming file, row and value: "row 1"
is the first data row after the header (for CSV, file line 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.metrics import log_reading
from audit.metrics.log_attributes import Labelled, attach_labels
from audit.metrics.log_duplicates import repeated_trial_messages
from audit.metrics.log_format import TRIAL_KEYS, TRIALS, ColumnMap, absent_mapped
from audit.metrics.log_problems import Problems
from audit.metrics.log_reading import Codes, LogReadError
from audit.metrics.log_trials import IDENTIFICATION, VERIFICATION, Combined, Trials
from audit.metrics.log_trials import SCHEMA as SCHEMA  # the scores table's, part of the answer

MAX_REPORTED = 20
TRUE_WORDS = frozenset({"true", "1", "yes", "t", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "f", "n"})
REQUIRED = ("trial_kind", "probe_subject", "score", "mated")
#: Text columns of a few distinct values, read as dictionaries rather than as strings.
FEW_VALUES = ("trial_kind", "mated", "best_is_true_entry")
ROW = "{file} row {row}: {problem}"
MISSING_COLUMN = ("{file}: no column {column!r}{mapped}; its columns are {columns} "
                  "(name yours with --map {key}=COLUMN)")
IDS_APART = "{file}: reference_id is given without probe_id; give both or neither"
MIXED_IDS = "trials: some files give probe_id and some do not; give it in all or none"
FTA_NOTE = "{count:,} {kind} have an empty score: counted as failures to acquire, {how}"
#: How an empty score counts, by trial kind (only the rates the log has are named).
FTA_COUNTED = {
    VERIFICATION: ("1:1 comparison(s)", "left out of FMR and FNMR, a miss in FNMR with FTA"),
    IDENTIFICATION: ("1:N search(es)", "no alert in FPIR, a miss in FNIR"),
}
IDS_ONE_SIDE = ("{file}: probe_id is given but no reference_id, and {count:,} verification "
                "row(s) compare two images; give both image ids (--map reference_id=COLUMN) "
                "or neither")

class ScoreLogError(ValueError):
    """A score log or attribute file is malformed; the message lists file, rows and values."""


@dataclass(frozen=True)
class ScoreLogs:
    """What the metrics stage needs, and what the reader wants the user to know.

    ``scores`` has :data:`audit.schema.SCORES` columns, text dictionary-encoded
    (one code per row); ``images`` one row per image the trials mention
    (``image_id``, ``subject_id``, labels); ``fta``
    per-image ``image_id``, ``fta`` from a ``status`` column, else None;
    ``notes`` one line each (empty scores, a few unlisted images).
    """

    scores: pa.Table
    images: pd.DataFrame
    fta: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()


def read_score_logs(
    trial_files: Path | str | list[Path | str],
    attribute_file: Path | str,
    *,
    columns: ColumnMap | None = None,
    grouped: tuple[str, ...] = (),
) -> ScoreLogs:
    """Read trials and attributes into a SCORES table, an images table and FTA flags.

    Parameters
    ----------
    trial_files : path or list of paths
        Trials files (CSV or Parquet), concatenated in order.
    attribute_file : path
        Per-image or per-subject attribute table.
    columns : ColumnMap, default=None
        The user's column names (:func:`audit.metrics.log_format.parse_mapping`).
    grouped : tuple of str, default=()
        Label columns the metrics will group by: more than 1% of the trials
        unlabelled (an empty cell) in one of them is an error, as unlisted images are.

    Raises
    ------
    ScoreLogError
        Listing every problem found by file, row and value.
    """
    mapping = columns or ColumnMap({})
    paths = [Path(trial_files)] if isinstance(trial_files, (str, Path)) else [
        Path(p) for p in trial_files]
    problems = Problems()
    try:
        parts = [_read_trials(p, mapping, problems) for p in paths]
        log_reading.column_names(Path(attribute_file))
    except LogReadError as error:
        raise ScoreLogError(str(error)) from None
    _raise(problems)
    parts = [p for p in parts if p is not None]
    if len({p.probe_id is None for p in parts}) > 1:
        problems.append(MIXED_IDS)
        _raise(problems)
    trials = Combined(parts)
    _duplicates(trials, problems)
    mentioned = trials.mentioned(problems, MAX_REPORTED)
    _raise(problems)
    labelled = attach_labels(Path(attribute_file), mapping, mentioned, problems, MAX_REPORTED,
                             grouped)
    _raise(problems)
    logs = ScoreLogs(scores=trials.table(), images=labelled.images, fta=labelled.fta,
                     notes=tuple(_notes(trials, labelled)))
    del trials, labelled
    pa.default_memory_pool().release_unused()  # the reader's Arrow temporaries, before the metrics
    return logs


def _raise(problems: Problems) -> None:
    if problems or problems.unlisted:
        raise ScoreLogError(problems.text(MAX_REPORTED))


def _notes(trials: Combined, labelled: Labelled) -> list[str]:
    empty = np.isnan(trials.score)
    notes = []
    for kind, rows in ((VERIFICATION, trials.kind), (IDENTIFICATION, ~trials.kind)):
        count = int(np.count_nonzero(empty & rows))
        if count:
            what, how = FTA_COUNTED[kind]
            notes.append(FTA_NOTE.format(count=count, kind=what, how=how))
    return notes + labelled.notes


def _read_trials(path: Path, mapping: ColumnMap, problems: Problems) -> Trials | None:
    names = log_reading.column_names(path)
    present = {k: mapping.column(k) for k in TRIAL_KEYS if mapping.column(k) in names}
    missing = list(dict.fromkeys([*(k for k in REQUIRED if k not in present),
                                  *absent_mapped(mapping, TRIALS, names)]))
    problems.extend(MISSING_COLUMN.format(
        file=path.name, column=mapping.column(k), key=k, columns=", ".join(names),
        mapped="" if mapping.column(k) == k else f" (mapped to {k})") for k in missing)
    if "reference_id" in present and "probe_id" not in present:
        problems.append(IDS_APART.format(file=path.name))
    if missing or "reference_id" in present and "probe_id" not in present:
        return None
    numeric = [k for k in ("score", "rank", "fold") if k in present]
    pairs = [tuple(present[k] for k in pair if k in present) for pair in (
        ("probe_subject", "reference_subject"), ("probe_id", "reference_id"))]
    subjects, ids = pairs  # subjects depend on their images: coded through the ids' codes
    read = log_reading.read_columns(
        path, [present[k] for k in present if k not in numeric], [present[k] for k in numeric],
        shared=tuple(pair for pair in pairs if pair),
        few=tuple(present[k] for k in FEW_VALUES if k in present),
        keyed={subjects: ids} if ids and len(ids) == len(subjects) else None)
    checks = _RowChecks(path.name, present, mapping)
    trials = checks.trials(read)
    problems.add(checks.in_row_order(), checks.total)
    problems.extend(checks.file_problems)
    return trials


class _RowChecks:
    """Row checks of one file; each problem names the row and shows the value."""

    def __init__(self, name: str, present: dict[str, str], mapping: ColumnMap) -> None:
        self.name = name
        self.present = present  # key -> the user's column, for the keys the file has
        self.named = mapping.named
        self.found: list[tuple[int, str]] = []  # (row, message), in the order checked
        self.total = 0  # rows found, listed or not
        self.file_problems: list[str] = []  # one line for the whole file

    def report(self, mask: np.ndarray, problem) -> None:
        rows = np.flatnonzero(mask)
        self.total += rows.size
        self.found.extend((int(r), ROW.format(file=self.name, row=r + 1, problem=problem(r)))
                          for r in rows[:MAX_REPORTED])

    def in_row_order(self) -> list[str]:
        """The messages by row (a stable sort: one row's problems in the order checked).

        Each check keeps its first rows, so the first ones here are the file's first."""
        return [message for _, message in sorted(self.found, key=lambda found: found[0])]

    def trials(self, read: log_reading.Columns) -> Trials:
        n, present, named = read.n_rows, self.present, self.named
        blank = Codes(np.zeros(n, dtype=np.int32), pa.array([""], pa.string()))

        def text(key: str) -> Codes:
            return read.text[present[key]] if key in present else blank

        kind = text("trial_kind").lowered()
        verification, identification = kind.equal(VERIFICATION), kind.equal(IDENTIFICATION)
        raw_kind = text("trial_kind")
        self.report(~(verification | identification), lambda r: (
            f"{named('trial_kind')} {raw_kind.text(r)!r} is not 'verification' or "
            "'identification'"))
        subjects = log_reading.on_one_table([text("probe_subject"), text("reference_subject")])
        self.report(subjects[0].equal(""), lambda r: f"{named('probe_subject')} is empty")
        self.report(verification & subjects[1].equal(""), lambda r: (
            f"{named('reference_subject')} is empty in a verification row"))
        ids = self._ids(text, verification) if "probe_id" in present else None
        score = self.number(read, "score", integer=False)
        self.report(np.isinf(score), lambda r: f"{named('score')} {score[r]} is infinite")
        mated = self.boolean(text("mated"), "mated", allow_empty=False)
        best = self.boolean(text("best_is_true_entry"), "best_is_true_entry", allow_empty=True)
        self.report(identification & (mated == 1) & ~np.isnan(score) & (best < 0), lambda r: (
            f"{named('best_is_true_entry')} is empty in a mated identification row with a "
            "score"))
        same = subjects[0].codes == subjects[1].codes
        self.report(verification & (mated >= 0) & (same != (mated == 1)), lambda r: (
            f"{named('mated')} is {text('mated').text(r)!r} but {named('probe_subject')} is "
            f"{subjects[0].text(r)!r} and {named('reference_subject')} "
            f"{subjects[1].text(r)!r}"))
        rank, fold = (self.number(read, k, integer=True) if k in present
                      else None for k in ("rank", "fold"))
        # Subjects coded through their images' codes: each image's subject, known already
        # (when the ids are on the table they were read on: no reference_id column adds "").
        image_subject = read.by_key.get(present["probe_subject"]) if ids and (
            ids[0].values is text("probe_id").values) else None
        return Trials(self.name, verification, subjects[0], subjects[1],
                       None if ids is None else ids[0], None if ids is None else ids[1],
                       score, mated == 1, best, rank, fold,
                       None if image_subject is None else image_subject.codes)

    def _ids(self, text, verification: np.ndarray) -> list[Codes]:
        """Probe and reference image ids on one table; verification rows with a probe id
        and no reference_id column at all are one problem for the file, not one a row."""
        ids = log_reading.on_one_table([text("probe_id"), text("reference_id")])
        self.report(ids[0].equal(""), lambda r: f"{self.named('probe_id')} is empty")
        if "reference_id" in self.present:
            self.report(verification & ids[1].equal(""), lambda r: (
                f"{self.named('reference_id')} is empty in a verification row"))
        elif verification.any():
            self.file_problems.append(IDS_ONE_SIDE.format(
                file=self.name, count=int(np.count_nonzero(verification))))
        return ids

    def number(self, read: log_reading.Columns, key: str, *, integer: bool) -> np.ndarray:
        column = self.present[key]
        value = read.numbers[column]
        shown = read.number_text.get(column)
        bad = read.bad_numbers[column]
        if integer:
            bad = bad | (~np.isnan(value) & (np.mod(value, 1) != 0))
        what = "an integer" if integer else "a number"
        fix = "" if integer else "; leave the cell empty for a failure to acquire"
        self.report(bad, lambda r: (
            f"{self.named(key)} {shown.text(r) if shown else float(value[r])!r} is not "
            f"{what}{fix if not integer and _is_nan_word(shown, r) else ''}"))
        return np.where(bad, np.nan, value) if bad.any() else value

    def boolean(self, codes: Codes, key: str, *, allow_empty: bool) -> np.ndarray:
        """1 true, 0 false, -1 empty, from boolean words in any case."""
        lowered = pc.utf8_lower(codes.values)
        truth = np.where(log_reading.values_in(lowered, TRUE_WORDS), 1, np.where(
            log_reading.values_in(lowered, FALSE_WORDS), 0, -1)).astype(np.int8)
        value = truth[codes.codes]  # decided once per distinct value, then one look-up a row
        bad = (value < 0) & ~(allow_empty & codes.equal(""))
        allowed = "true, false or empty" if allow_empty else "true or false"
        self.report(bad, lambda r: f"{self.named(key)} {codes.text(r)!r} is not {allowed}")
        return value


def _is_nan_word(shown: Codes | None, row: int) -> bool:
    """Whether the cell spells NaN (the fix for a missing score is an empty cell)."""
    return shown is None or shown.text(row).strip().lower() in ("nan", "-nan", "+nan")


def _duplicates(trials: Combined, problems: Problems) -> None:
    """Trials given twice (same kind, probe, reference and fold), with both rows.

    Only checked with image ids: without them, two trials of the same people
    may well be two different images.
    """
    if trials.by_image:
        problems.add(*repeated_trial_messages(trials.kind, trials.probe_id,
                                              trials.reference_id, trials.fold,
                                              where=trials.where, limit=MAX_REPORTED))

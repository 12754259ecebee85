"""Read a vendor system's exported scores into the metrics stage, checking every row.

An evaluator often has no images, only a system's score export: one or more
trials files and an attribute file, CSV (``.csv``) or Parquet (``.parquet``,
``.pq``). The format (every column, its type and meaning, worked examples) is
``docs/score-logs.md``; the columns themselves are listed once, in
:mod:`audit.metrics.log_format`, and the user's own column names are mapped
onto them with a :class:`~audit.metrics.log_format.ColumnMap`.

Columns are read lazily with pyarrow (:mod:`audit.metrics.log_reading`): ids
become integer codes, so checks, duplicate searches and joins run on
integers. Every problem is collected (up to :data:`MAX_REPORTED` a check) and
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
from audit.metrics.log_attributes import Labelled, Mentioned, attach_labels
from audit.metrics.log_duplicates import repeated_trial_messages
from audit.metrics.log_format import TRIAL_KEYS, TRIALS, ColumnMap, absent_mapped
from audit.metrics.log_reading import Codes, LogReadError
from audit.schema import SCORES

MAX_REPORTED = 20
TRUE_WORDS = frozenset({"true", "1", "yes", "t", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "f", "n"})
VERIFICATION, IDENTIFICATION = "verification", "identification"
REQUIRED = ("trial_kind", "probe_subject", "score", "mated")
#: Text columns of a few distinct values, read as dictionaries rather than as strings.
FEW_VALUES = ("trial_kind", "mated", "best_is_true_entry")
ROW = "{file} row {row}: {problem}"
MISSING_COLUMN = ("{file}: no column {column!r}{mapped}; its columns are {columns} "
                  "(name yours with --map {key}=COLUMN)")
IDS_APART = "{file}: reference_id is given without probe_id; give both or neither"
MIXED_IDS = "trials: some files give probe_id and some do not; give it in all or none"
CONFLICT = ("trials: image {image!r} belongs to subject {a!r} ({where_a}) and to "
            "{b!r} ({where_b})")
FTA_NOTE = ("{count:,} trial(s) have an empty score: counted as failures to acquire "
            "(FNMR with FTA, FPIR, FNIR), left out of FMR and FNMR")
MORE = "... and {count} more problem(s)"
#: :data:`audit.schema.SCORES` with every text column dictionary-encoded (``cast(SCORES)`` decodes);
#: ``trial_kind``'s two words take one byte a row.
SCHEMA = pa.schema([f.with_type(pa.dictionary(
    pa.int8() if f.name == "trial_kind" else pa.int32(), f.type)) if f.type == pa.string()
    else f for f in SCORES])


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


@dataclass(frozen=True)
class _Trials:
    """One trials file, checked, its ids and subjects as codes."""

    name: str
    kind: np.ndarray  # bool: verification (else identification)
    probe_subject: Codes
    reference_subject: Codes
    probe_id: Codes | None
    reference_id: Codes | None
    score: np.ndarray
    mated: np.ndarray
    best: np.ndarray  # int8: 1 true, 0 false, -1 empty
    rank: np.ndarray | None  # float, NaN when empty; None: no such column
    fold: np.ndarray | None
    image_subject: np.ndarray | None = None  # subject code of each id code, when read so


def read_score_logs(
    trial_files: Path | str | list[Path | str],
    attribute_file: Path | str,
    *,
    columns: ColumnMap | None = None,
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

    Raises
    ------
    ScoreLogError
        Listing every problem found by file, row and value.
    """
    mapping = columns or ColumnMap({})
    paths = [Path(trial_files)] if isinstance(trial_files, (str, Path)) else [
        Path(p) for p in trial_files]
    problems: list[str] = []
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
    trials = _Combined(parts)
    _duplicates(trials, problems)
    mentioned = trials.mentioned(problems)
    _raise(problems)
    labelled = attach_labels(Path(attribute_file), mapping, mentioned, problems, MAX_REPORTED)
    _raise(problems)
    logs = ScoreLogs(scores=trials.table(), images=labelled.images, fta=labelled.fta,
                     notes=tuple(_notes(trials, labelled)))
    del trials, labelled
    pa.default_memory_pool().release_unused()  # the reader's Arrow temporaries, before the metrics
    return logs


def _raise(problems: list[str]) -> None:
    if not problems:
        return
    shown = problems[:MAX_REPORTED]
    if len(problems) > MAX_REPORTED:
        shown.append(MORE.format(count=len(problems) - MAX_REPORTED))
    raise ScoreLogError("\n".join(shown))


def _notes(trials: _Combined, labelled: Labelled) -> list[str]:
    empty = int(np.isnan(trials.score).sum())
    return ([FTA_NOTE.format(count=empty)] if empty else []) + labelled.notes


def _read_trials(path: Path, mapping: ColumnMap, problems: list[str]) -> _Trials | None:
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
    checks = _RowChecks(path.name)
    trials = checks.trials(read, present)
    problems.extend(checks.in_row_order())
    return trials


class _RowChecks:
    """Row checks of one file; each problem names the row and shows the value."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found: list[tuple[int, str]] = []  # (row, message), in the order checked

    def report(self, mask: np.ndarray, problem) -> None:
        rows = np.flatnonzero(mask)[:MAX_REPORTED]
        self.found.extend((int(r), ROW.format(file=self.name, row=r + 1, problem=problem(r)))
                          for r in rows)

    def in_row_order(self) -> list[str]:
        """The messages by row (a stable sort: one row's problems in the order checked).

        Each check keeps its first rows, so the first ones here are the file's first."""
        return [message for _, message in sorted(self.found, key=lambda found: found[0])]

    def trials(self, read: log_reading.Columns, present: dict[str, str]) -> _Trials:
        n = read.n_rows
        blank = Codes(np.zeros(n, dtype=np.int32), pa.array([""], pa.string()))

        def text(key: str) -> Codes:
            return read.text[present[key]] if key in present else blank

        kind = text("trial_kind").lowered()
        verification, identification = kind.equal(VERIFICATION), kind.equal(IDENTIFICATION)
        raw_kind = text("trial_kind")
        self.report(~(verification | identification), lambda r: (
            f"trial_kind {raw_kind.text(r)!r} is not 'verification' or 'identification'"))
        subjects = log_reading.on_one_table([text("probe_subject"), text("reference_subject")])
        self.report(subjects[0].equal(""), lambda r: "probe_subject is empty")
        self.report(verification & subjects[1].equal(""),
                    lambda r: "reference_subject is empty in a verification row")
        ids = None
        if "probe_id" in present:
            ids = log_reading.on_one_table([text("probe_id"), text("reference_id")])
            self.report(ids[0].equal(""), lambda r: "probe_id is empty")
            self.report(verification & ids[1].equal(""),
                        lambda r: "reference_id is empty in a verification row")
        score = self.number(read, present["score"], "score", integer=False)
        self.report(np.isinf(score), lambda r: f"score {score[r]} is infinite")
        mated = self.boolean(text("mated"), "mated", allow_empty=False)
        best = self.boolean(text("best_is_true_entry"), "best_is_true_entry", allow_empty=True)
        self.report(identification & (mated == 1) & ~np.isnan(score) & (best < 0), lambda r: (
            "best_is_true_entry is empty in a mated identification row with a score"))
        same = subjects[0].codes == subjects[1].codes
        self.report(verification & (mated >= 0) & (same != (mated == 1)), lambda r: (
            f"mated is {text('mated').text(r)!r} but probe_subject is "
            f"{subjects[0].text(r)!r} and reference_subject {subjects[1].text(r)!r}"))
        rank, fold = (self.number(read, present[k], k, integer=True) if k in present
                      else None for k in ("rank", "fold"))
        # Subjects coded through their images' codes: each image's subject, known already
        # (when the ids are on the table they were read on: no reference_id column adds "").
        image_subject = read.by_key.get(present["probe_subject"]) if ids and (
            ids[0].values is text("probe_id").values) else None
        return _Trials(self.name, verification, subjects[0], subjects[1],
                       None if ids is None else ids[0], None if ids is None else ids[1],
                       score, mated == 1, best, rank, fold,
                       None if image_subject is None else image_subject.codes)

    def number(self, read: log_reading.Columns, column: str, key: str, *, integer: bool
               ) -> np.ndarray:
        value = read.numbers[column]
        shown = read.number_text.get(column)
        bad = read.bad_numbers[column]
        if integer:
            bad = bad | (~np.isnan(value) & (np.mod(value, 1) != 0))
        what = "an integer" if integer else "a number"
        self.report(bad, lambda r: f"{key} {shown.text(r) if shown else float(value[r])!r} is not {what}")
        return np.where(bad, np.nan, value) if bad.any() else value

    def boolean(self, codes: Codes, key: str, *, allow_empty: bool) -> np.ndarray:
        """1 true, 0 false, -1 empty, from boolean words in any case."""
        lowered = pc.utf8_lower(codes.values)
        truth = np.where(log_reading.values_in(lowered, TRUE_WORDS), 1, np.where(
            log_reading.values_in(lowered, FALSE_WORDS), 0, -1)).astype(np.int8)
        value = truth[codes.codes]  # decided once per distinct value, then one look-up a row
        bad = (value < 0) & ~(allow_empty & codes.equal(""))
        allowed = "true, false or empty" if allow_empty else "true or false"
        self.report(bad, lambda r: f"{key} {codes.text(r)!r} is not {allowed}")
        return value


class _Combined:
    """Every trials file together, ids and subjects on shared codes.

    One file's arrays are taken as they are (no copy of 10 million rows);
    several files' are concatenated.
    """

    def __init__(self, parts: list[_Trials]) -> None:
        self.names = [p.name for p in parts]
        self.sizes = [len(p.score) for p in parts]
        self.kind = _joined([p.kind for p in parts])
        self.probe_subject, self.reference_subject = _joined_codes(
            [p.probe_subject for p in parts], [p.reference_subject for p in parts])
        self.by_image = parts[0].probe_id is not None
        if self.by_image:
            self.probe_id, self.reference_id = _joined_codes(
                [p.probe_id for p in parts], [p.reference_id for p in parts])
        else:  # a subject stands for its images
            self.probe_id, self.reference_id = self.probe_subject, self.reference_subject
        self.image_subject = parts[0].image_subject if len(parts) == 1 else None
        for name in ("score", "mated", "best"):
            setattr(self, name, _joined([getattr(p, name) for p in parts]))
        for name in ("rank", "fold"):  # None when no file has the column
            given = [getattr(p, name) for p in parts]
            setattr(self, name, None if all(g is None for g in given) else _joined(
                [np.full(len(p.score), np.nan) if g is None else g
                 for p, g in zip(parts, given, strict=True)]))

    def where(self, row: int) -> tuple[str, int]:
        """File name and 1-based row of a combined row."""
        part = int(np.searchsorted(np.cumsum(self.sizes), row, side="right"))
        return self.names[part], row - sum(self.sizes[:part]) + 1

    def mentioned(self, problems: list[str]) -> Mentioned:
        """Distinct images with their subject; an image with two subjects is a problem."""
        subject_of = self._subject_of(problems)
        used = np.flatnonzero(subject_of >= 0)
        position = np.full(len(subject_of), -1, dtype=np.int32)
        position[used] = np.arange(used.size, dtype=np.int32)
        return Mentioned(
            ids=self.probe_id.values.take(pa.array(used)),
            subjects=self.probe_subject.values.take(pa.array(subject_of[used])),
            position=position, probe=self.probe_id.codes, reference=self.reference_id.codes,
            verification=self.kind, by_image=self.by_image)

    def _subject_of(self, problems: list[str]) -> np.ndarray:
        """The subject code of each image code (-1: an image no trial counts)."""
        if self.image_subject is not None:  # read through the images: one subject each
            if self.kind.all():  # every image of the table is a probe or a reference
                return self.image_subject
            used = np.zeros(len(self.image_subject), dtype=bool)
            used[self.probe_id.codes] = True
            used[self._references(self.reference_id.codes)] = True
            return np.where(used, self.image_subject, -1)
        sides = [(self.probe_id.codes, self.probe_subject.codes),
                 (self._references(self.reference_id.codes),
                  self._references(self.reference_subject.codes))]
        subject_of = np.full(len(self.probe_id.values), -1, dtype=np.int64)
        for images, subjects in sides:
            subject_of[images] = subjects
        conflict = np.unique(np.concatenate([images[subject_of[images] != subjects]
                                             for images, subjects in sides]))
        if conflict.size:
            self._conflicts(conflict, problems)
        return subject_of

    def _references(self, codes: np.ndarray) -> np.ndarray:
        """The reference side of the verification rows (all rows, uncopied, when all are)."""
        return codes if self.kind.all() else codes[self.kind]

    def _conflicts(self, conflict: np.ndarray, problems: list[str]) -> None:
        """Name the first two rows, with their subjects, of each image seen with two."""
        images = np.concatenate([self.probe_id.codes, self.reference_id.codes[self.kind]])
        subjects = np.concatenate([self.probe_subject.codes,
                                   self.reference_subject.codes[self.kind]])
        rows = np.concatenate([np.arange(len(self.kind)), np.flatnonzero(self.kind)])
        for image in conflict[:MAX_REPORTED]:
            seen = np.flatnonzero(images == image)
            seen = seen[np.argsort(rows[seen], kind="stable")]
            other = seen[subjects[seen] != subjects[seen[0]]][0]
            problems.append(CONFLICT.format(
                image=self.probe_id.values[int(image)].as_py(),
                a=self.probe_subject.values[int(subjects[seen[0]])].as_py(),
                where_a="{} row {}".format(*self.where(rows[seen[0]])),
                b=self.probe_subject.values[int(subjects[other])].as_py(),
                where_b="{} row {}".format(*self.where(rows[other]))))

    def table(self) -> pa.Table:
        """The SCORES table, its text columns dictionary-encoded: the codes, no string per row."""
        identification = ~self.kind
        columns = {
            "trial_kind": _dictionary(identification.astype(np.int8),
                                      pa.array([VERIFICATION, IDENTIFICATION])),
            "probe_id": _dictionary(self.probe_id.codes, self.probe_id.values),
            "reference_id": _dictionary(self.reference_id.codes, self.reference_id.values,
                                        ~self.reference_id.equal("")),
            "probe_subject": _dictionary(self.probe_subject.codes, self.probe_subject.values),
            "reference_subject": _dictionary(self.reference_subject.codes,
                                             self.reference_subject.values, self.kind),
            "score": pa.array(self.score, mask=np.isnan(self.score)),
            "mated": pa.array(self.mated),
            "fold": _integers(self.fold, len(self.kind)),
            "rank": _integers(self.rank, len(self.kind)),
            "best_is_true_entry": pa.array(self.best == 1, mask=~identification | (self.best < 0)),
        }
        return pa.table(columns, schema=SCHEMA)


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _joined_codes(probe: list[Codes], reference: list[Codes]) -> tuple[Codes, Codes]:
    """Probe and reference sides of every file on one value table."""
    if len(probe) == 1:  # one file: read on one table already
        return probe[0], reference[0]
    coded = log_reading.on_one_table(probe + reference)
    values = coded[0].values
    return (Codes(np.concatenate([c.codes for c in coded[:len(probe)]]), values),
            Codes(np.concatenate([c.codes for c in coded[len(probe):]]), values))


def _dictionary(codes: np.ndarray, values: pa.Array, keep: np.ndarray | None = None
                ) -> pa.DictionaryArray:
    """Text as codes into ``values``, null where ``keep`` is False."""
    indices = pa.array(codes, mask=None if keep is None else ~keep)
    return pa.DictionaryArray.from_arrays(indices, values)


def _integers(values: np.ndarray | None, size: int) -> pa.Array:
    if values is None or np.isnan(values).all():
        return _nulls(size)
    missing = np.isnan(values)
    return pa.array(np.where(missing, 0, values).astype(np.int32), mask=missing)


def _nulls(size: int) -> pa.Array:
    """An all-null int32 column (an absent ``rank`` or ``fold``) on numpy zeros, which the system
    maps lazily: unlike ``pa.nulls``, no 4 bytes a row written and kept (80 MB at 10M rows)."""
    zeros = [np.zeros(-(-size // 8), dtype=np.uint8), np.zeros(size, dtype=np.int32)]
    return pa.Array.from_buffers(pa.int32(), size, [pa.py_buffer(z) for z in zeros],
                                 null_count=size)


def _duplicates(trials: _Combined, problems: list[str]) -> None:
    """Trials given twice (same kind, probe, reference and fold), with both rows.

    Only checked with image ids: without them, two trials of the same people
    may well be two different images.
    """
    if trials.by_image:
        problems.extend(repeated_trial_messages(trials.kind, trials.probe_id,
                                                trials.reference_id, trials.fold,
                                                where=trials.where, limit=MAX_REPORTED))

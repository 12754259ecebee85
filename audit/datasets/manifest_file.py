"""An evaluator's own manifest: a CSV or Parquet file listing labelled images.

Schema (documented for users in ``datasets/custom-manifest.md``):

- ``path`` (required): the image file, relative to the root the user gives,
  with forward slashes; it must stay inside that root.
- ``subject_id`` (required): who is in the image; images sharing it are mated.
- ``image_id`` (optional): a unique id; where absent or empty, the path.
- ``dataset`` (optional): where absent or empty, the manifest file's name
  without its extension.
- any other column: a demographic or capture-condition label, read as text
  (Parquet numbers become their decimal text); empty or null -> ``unknown``.

Every row is checked before anything is raised, and row problems are reported
together (up to ``max_errors``), each with its row number. Rows count from 1
after the header; for a CSV the physical line is given too (the header is line
1, blank lines are skipped but keep their numbers, and a quoted field spanning
lines is reported at its first line).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from audit.datasets import rows
from audit.datasets.errors import DatasetError, ManifestError
from audit.datasets.labels import LabelChange, normalise_labels
from audit.datasets.paths import normalise_relative, resolve_inside
from audit.datasets.table import build_manifest
from audit.schema import UNKNOWN

REQUIRED = ("path", "subject_id")
OPTIONAL = ("image_id", "dataset")
#: Extensions accepted when ``check_extensions`` is on (the default; images are decoded
#: by content, so switching it off only lets a file that is no image become an
#: ``unreadable`` row instead of a manifest problem).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm",
                    ".pgm")
MAX_ERRORS = 20

# File-level problems: raised at once as DatasetError.
NOT_FOUND = "manifest {file} does not exist; check the path given for the manifest"
UNSUPPORTED_FORMAT = (
    "manifest {file} has extension {suffix!r}; write it as .csv or .parquet "
    "(see datasets/custom-manifest.md)"
)
EMPTY_FILE = "manifest {file} is empty; it needs a header line with at least path,subject_id"
NO_ROWS = "manifest {file} has a header but no rows; list at least one image"
MISSING_COLUMN = (
    "manifest {file} lacks required column {column!r} (found: {found}); "
    "add it, see datasets/custom-manifest.md"
)
DUPLICATE_COLUMN = "manifest {file} has column {column!r} twice; rename or remove one of them"
UNNAMED_COLUMN = "manifest {file}: column {number} has no name in the header; name it or remove it"
NOT_TEXT = (
    "manifest {file}: column {column!r} of type {type} cannot be read as text labels; "
    "store it as text or numbers"
)
UNREADABLE = "manifest {file} cannot be read as {kind} ({reason}); {fix}"
NO_FILES = (
    "none of the {count} images in manifest {file} exists under {root}; "
    "is the root folder (--data-dir / LFR_AUDIT_DATA) right?"
)

# Row-level problems: collected, then raised together as ManifestError.
SUMMARY = (
    "manifest {file}: {count} problem(s){shown}; fix them and run again, or leave those rows "
    "out with --skip-bad-rows ([dataset] skip_bad_rows = true):"
)
NO_GOOD_ROWS = "manifest {file}: all {count} row(s) have problems; nothing is left to audit"
RAGGED = "has {got} field(s) but the header has {want}; quote fields that contain commas"
EMPTY_VALUE = "{column} is empty; every row needs a {column}"
BACKSLASH = "path {value} uses backslashes; write it with forward slashes, like a/b.jpg"
NOT_IMAGE = "path {value} does not end in an image extension ({allowed}); fix the path"
REPEATED = "{column} {value} repeats row {first}; list each image once, with its own {column}"


@dataclass(frozen=True)
class ManifestReport:
    """Counts for the report, the listed files that do not exist, the rows left
    out (``skip_bad_rows``: one problem line each) and the label changes made."""

    n_images: int
    n_subjects: int
    missing_paths: tuple[str, ...]
    skipped_rows: tuple[str, ...] = ()
    label_changes: tuple[LabelChange, ...] = ()

    def counts(self) -> dict[str, int]:
        return {
            "n_images": self.n_images,
            "n_subjects": self.n_subjects,
            "missing_files": len(self.missing_paths),
            "skipped_rows": len(self.skipped_rows),
            "labels_changed": sum(change.n_values for change in self.label_changes),
        }


def load_manifest_file(
    manifest: str | Path,
    root: str | Path,
    *,
    check_extensions: bool = True,
    skip_bad_rows: bool = False,
    fold_labels: bool = True,
    max_errors: int = MAX_ERRORS,
) -> tuple[pa.Table, ManifestReport]:
    """Read, check and return an evaluator's manifest, with what was found.

    Every row is checked (wrong number of CSV fields, empty path or subject,
    control characters in any value, a path too long for file systems or
    outside ``root``, backslashes, a non-image extension when
    ``check_extensions``, a repeated ``image_id`` or ``path``, a repeated path
    with other labels). By default any problem raises :class:`ManifestError`
    listing them with their row numbers; with ``skip_bad_rows`` those rows are
    left out and listed in :attr:`ManifestReport.skipped_rows`. File-level
    problems (format, missing or repeated columns, no rows) raise
    :class:`DatasetError`. Label values are normalised (:func:`normalise_labels`,
    ``fold_labels``). Files that do not exist are not an error (the pipeline
    records them as ``missing``) but are reported, unless none exists at all,
    which means the root is wrong.
    """
    manifest, root = Path(manifest), Path(root)
    frame, where, errors = _read(manifest)
    frame = frame.apply(lambda column: column.str.strip())
    labels = [c for c in frame if c not in REQUIRED + OPTIONAL]
    checked, path, image_id = _check_rows(frame, root, labels, check_extensions, errors)
    skipped: tuple[str, ...] = ()
    if errors:
        errors.sort()
        lines = [f"{where(row)}: {text}" for row, text in errors]
        if not skip_bad_rows:
            shown = f", first {max_errors} shown" if len(errors) > max_errors else ""
            summary = SUMMARY.format(file=manifest, count=len(errors), shown=shown)
            raise ManifestError(summary, lines[:max_errors])
        bad = {row for row, _ in errors}
        if len(bad) == len(frame):
            raise DatasetError(NO_GOOD_ROWS.format(file=manifest, count=len(bad)))
        keep = ~frame.index.isin(list(bad))
        frame, path, image_id = frame[keep], path[keep], image_id[keep]
        checked = [c for c, k in zip(checked, keep, strict=True) if k]
        skipped = tuple(lines)

    exists = pd.Series([os.path.exists(real) for _, _, real in checked], index=frame.index)
    if not exists.any():
        raise DatasetError(NO_FILES.format(count=len(frame), file=manifest, root=root))
    frame = frame.assign(**{c: frame[c].where(frame[c] != "", UNKNOWN) for c in labels})
    frame, changes = normalise_labels(frame, labels, fold=fold_labels)
    columns = {"image_id": image_id, "path": path, "subject_id": frame["subject_id"]}
    if "dataset" in frame:
        columns["dataset"] = frame["dataset"].where(frame["dataset"] != "", manifest.stem)
    columns |= {c: frame[c] for c in labels}
    report = ManifestReport(
        n_images=len(frame),
        n_subjects=frame["subject_id"].nunique(),
        missing_paths=tuple(path[~exists]),
        skipped_rows=skipped,
        label_changes=tuple(changes),
    )
    return build_manifest(manifest.stem, columns), report


def _check_rows(frame: pd.DataFrame, root: Path, labels: list[str], check_extensions: bool,
                errors: list[tuple[int, str]]):
    """Add every row problem to ``errors``; return the checked paths, the
    normalised paths and the image ids (the path where none is given)."""
    for column in REQUIRED:
        errors += [
            (row, EMPTY_VALUE.format(column=column)) for row in frame.index[frame[column] == ""]
        ]
    errors += rows.control_characters(frame)
    unsafe = {row for row, _ in errors}  # no file system call may see these paths
    errors += rows.long_paths(frame["path"][~frame.index.isin(list(unsafe))])
    unsafe = {row for row, _ in errors}
    checked = [_check_path(root, value, check_extensions) if row not in unsafe
               else (None, "", "") for row, value in frame["path"].items()]
    errors += [
        (row, problem) for row, (problem, _, _) in zip(frame.index, checked, strict=True) if problem
    ]
    path = pd.Series([p for _, p, _ in checked], index=frame.index, dtype="str")
    image_id = frame.get("image_id", path)
    image_id = image_id.where(image_id != "", path)
    conflicts = list(rows.conflicting_labels(frame, path, labels))
    reported = {row for row, _ in conflicts}
    repeated_paths = [(row, text) for row, text in _repeats("path", path) if row not in reported]
    reported |= {row for row, _ in repeated_paths}  # a repeated path repeats its default id too
    errors += conflicts + repeated_paths
    errors += [(row, text) for row, text in _repeats("image_id", image_id) if row not in reported]
    return checked, path, image_id


def _read(manifest: Path) -> tuple[pd.DataFrame, Callable[[int], str], list[tuple[int, str]]]:
    """Text columns indexed by 1-based row, a row describer, and problems found so far."""
    if not manifest.is_file():
        raise DatasetError(NOT_FOUND.format(file=manifest))
    suffix = manifest.suffix.lower()
    if suffix == ".csv":
        try:
            frame, lines, errors = _read_csv(manifest)
        except (UnicodeDecodeError, csv.Error) as error:
            fix = "save it as UTF-8 CSV with a header line"
            raise DatasetError(
                UNREADABLE.format(file=manifest, kind="UTF-8 CSV", reason=error, fix=fix)
            ) from None
        return frame, lambda row: f"row {row} (line {lines[row]} of the CSV)", errors
    if suffix in (".parquet", ".pq"):
        try:
            frame = _read_parquet(manifest)
        except (pa.ArrowInvalid, OSError) as error:
            fix = "write it again with a Parquet writer (pandas.to_parquet, pyarrow)"
            raise DatasetError(
                UNREADABLE.format(file=manifest, kind="Parquet", reason=error, fix=fix)
            ) from None
        return frame, lambda row: f"row {row} of the Parquet file", []
    raise DatasetError(UNSUPPORTED_FORMAT.format(file=manifest, suffix=manifest.suffix))


def _read_csv(manifest: Path) -> tuple[pd.DataFrame, dict[int, int], list[tuple[int, str]]]:
    """Parse with the csv module, which knows each row's line number (pandas does not).

    A row with the wrong number of fields is reported and padded or cut to the
    header's width, so that the other checks still run on the rest.
    """
    with manifest.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise DatasetError(EMPTY_FILE.format(file=manifest))
        header = _check_header(manifest, [name.strip() for name in header])
        width = len(header)
        rows, lines, errors = {}, {}, []
        next_line = reader.line_num + 1
        for number, fields in enumerate(reader, start=1):
            lines[number], next_line = next_line, reader.line_num + 1
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != width:
                errors.append((number, RAGGED.format(got=len(fields), want=width)))
            rows[number] = (fields + [""] * width)[:width]
    if not rows:
        raise DatasetError(NO_ROWS.format(file=manifest))
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=header, dtype="str")
    return frame, lines, errors


def _read_parquet(manifest: Path) -> pd.DataFrame:
    """Read every column as text: numbers become their decimal text, nulls empty."""
    table = pq.read_table(manifest)
    _check_header(manifest, table.column_names)
    if table.num_rows == 0:
        raise DatasetError(NO_ROWS.format(file=manifest))
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        try:
            if pa.types.is_nested(column.type):
                raise pa.ArrowInvalid(f"nested type {column.type}")
            columns[name] = pc.cast(column, pa.string()).fill_null("").to_pylist()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise DatasetError(
                NOT_TEXT.format(file=manifest, column=name, type=column.type)
            ) from None
    return pd.DataFrame(columns, dtype="str", index=range(1, table.num_rows + 1))


def _check_header(manifest: Path, header: list[str]) -> list[str]:
    """Refuse unnamed or repeated columns and require ``path`` and ``subject_id``."""
    for number, name in enumerate(header, start=1):
        if not name:
            raise DatasetError(UNNAMED_COLUMN.format(file=manifest, number=number))
        if header.count(name) > 1:
            raise DatasetError(DUPLICATE_COLUMN.format(file=manifest, column=name))
    for column in REQUIRED:
        if column not in header:
            found = ", ".join(header)
            raise DatasetError(MISSING_COLUMN.format(file=manifest, column=column, found=found))
    return header


def _check_path(root: Path, value: str, check_extensions: bool) -> tuple[str | None, str, str]:
    """Return (problem or None, normalised relative path, real path) for one row.

    The manifest keeps the evaluator's path, normalised (``./a//b.jpg`` ->
    ``a/b.jpg``); the real path (symlinks resolved) is only used to check it
    stays inside ``root`` and to see whether the file exists.
    """
    if not value:
        return None, "", ""  # reported as an empty path already
    if "\\" in value:
        return BACKSLASH.format(value=rows.shown(value)), "", ""
    if check_extensions and not value.lower().endswith(IMAGE_EXTENSIONS):
        return NOT_IMAGE.format(value=rows.shown(value), allowed=" ".join(IMAGE_EXTENSIONS)), "", ""
    try:
        real = resolve_inside(root, value)
    except DatasetError as error:
        return str(error), "", ""
    return None, normalise_relative(value), str(real)


def _repeats(column: str, values: pd.Series) -> Iterator[tuple[int, str]]:
    """One problem for each row whose non-empty value appeared on an earlier row."""
    present = values[values != ""]
    first = pd.Series(present.index, index=present.index).groupby(present).transform("first")
    for row in present.index[present.duplicated()]:
        yield row, REPEATED.format(column=column, value=rows.shown(present[row]), first=first[row])

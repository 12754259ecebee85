"""The attribute file of a score log: group labels (and FTA) for every image the trials mention.

One row per image (``image_id``; an optional ``subject_id`` must agree with
the trials, an optional ``status`` gives failures to acquire) or one row per
subject (``subject_id`` and no ``image_id``). Every other column is a group
label. Reported, never passed over silently: a key listed twice (both rows),
labels spelled several ways (``Female`` and ``female``), images or subjects
the file does not list (count, examples and the share of trials they carry;
above :data:`MAX_UNLISTED_SHARE` an error, below it a note), and
per-image labels asked of trials that have no image ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.metrics.log_format import ATTRIBUTES, ColumnMap, absent_mapped
from audit.metrics.log_problems import Problems
from audit.metrics.log_reading import Codes, column_names, read_columns
from audit.schema import FACE_STATUSES, UNKNOWN

#: Largest share of trials whose images may lack labels; above it the log is refused.
MAX_UNLISTED_SHARE = 0.01
NO_KEY = ("{file}: an attribute file needs an {image!r} or a {subject!r} column; "
          "its columns are {columns} (--map image_id=COLUMN or subject_id=COLUMN)")
NEEDS_IDS = ("{file}: labels are per image ({image!r}) but the trials have no probe_id; "
             "give one row per subject (subject_id, no image_id) or map probe_id")
LISTED_AGAIN = "{file} row {row}: {key} {value!r} is listed again (first at row {first})"
VARIANTS = ("{file}: column {column!r} spells one label several ways: {variants}; "
            "use one spelling")
UNLISTED = ("{file} lists no labels for {count:,} {what} (e.g. {examples}), carrying "
            "{share:.2%} of the trials; {outcome}")
UNLISTED_ERROR = f"more than {MAX_UNLISTED_SHARE:.0%} is refused: add them to the file"
UNLISTED_NOTE = "their labels are 'unknown'"
BLANK = ("{file}: column {column!r} is empty for {count:,} {what}{people}, carrying {trials:,} "
         "trial(s) ({share:.2%}); {outcome}")
BLANK_ERROR = (f"more than {MAX_UNLISTED_SHARE:.0%} of the trials unlabelled in a --grouping "
               "column is refused: fill in the labels or leave those trials out")
BLANK_NOTE = "they are unlabelled ('unknown'): counted overall, never ranked as a group"
STATUS_PER_SUBJECT = ("{file}: column {column!r} (status) is ignored: a failure to acquire is "
                      "per image, and this file has one row per subject; give an image_id "
                      "column for the FTA rate")
NO_STATUS = ("fta: {missing:,} of the {total:,} images the trials mention have no status in "
             "{file} (not listed), so the FTA rate counts the other {counted:,}")
BAD_STATUS = "{file} row {row}: {status} {value!r} is not one of " + ", ".join(FACE_STATUSES)
MAPPED_ABSENT = ("{file}: no column {column!r} (mapped to {key}); its columns are {columns} "
                 "(name yours with --map {key}=COLUMN)")
SUBJECT_DISAGREES = ("{file} row {row}: image {image!r} has {subject} {listed!r}, "
                     "the trials say {trials!r}")


@dataclass(frozen=True)
class Labelled:
    """Images with their subject and labels, per-image FTA flags (or None), notes."""

    images: pd.DataFrame
    fta: pd.DataFrame | None
    notes: list[str]


@dataclass(frozen=True)
class Mentioned:
    """The images the trials mention: distinct ids, each one's subject id, and their use.

    ``probe`` and ``reference`` give each trial's image as a code of the trials'
    value table, which ``position`` maps onto ``ids`` (-1: not an image), and
    ``verification`` marks the trials whose reference counts: to weigh unlisted
    images by the trials they carry, looked up per trial only when some are unlisted.
    """

    ids: pa.Array
    subjects: pa.Array
    position: np.ndarray
    probe: np.ndarray
    reference: np.ndarray
    verification: np.ndarray
    by_image: bool


def attach_labels(path: Path, mapping: ColumnMap, mentioned: Mentioned,
                  problems: Problems, max_reported: int, grouped: tuple[str, ...] = ()
                  ) -> Labelled:
    """Join the attribute file onto the mentioned images; append every problem found.

    ``grouped`` names the label columns the metrics will group by: above
    :data:`MAX_UNLISTED_SHARE` of the trials unlabelled in one of them is refused,
    as unlisted images are (other columns' empty cells are a note: nothing is
    computed from them).
    """
    names = column_names(path)
    image_col, subject_col = mapping.column("image_id"), mapping.column("subject_id")
    status_col = mapping.column("status")
    key_col = image_col if image_col in names else subject_col if subject_col in names else None
    empty = Labelled(pd.DataFrame(), None, [])
    absent = absent_mapped(mapping, ATTRIBUTES, names)
    problems.extend(MAPPED_ABSENT.format(file=path.name, column=mapping.column(k), key=k,
                                         columns=", ".join(names)) for k in absent)
    if absent:
        return empty
    if key_col is None:
        problems.append(NO_KEY.format(file=path.name, image=image_col, subject=subject_col,
                                      columns=", ".join(names)))
        return empty
    if key_col == image_col and not mentioned.by_image:
        problems.append(NEEDS_IDS.format(file=path.name, image=image_col))
        return empty
    columns = read_columns(path, names, [])
    key = columns.text[key_col]
    first_row = _first_rows(key)
    _listed_again(path.name, key, first_row,
                  mapping.named("image_id" if key_col == image_col else "subject_id"),
                  problems, max_reported)
    labels = [n for n in names if n not in (image_col, subject_col, status_col)]
    for label in labels:
        _variants(path.name, label, columns.text[label], first_row_of=_first_rows(
            columns.text[label]), problems=problems)
    found = (_positions(mentioned.ids, key.values) if key_col == image_col else
             _positions_of_any(mentioned.subjects, key.values))
    row = np.where(found >= 0, first_row[np.maximum(found, 0)], -1)
    notes = _unlisted(path.name, mentioned, row, problems, per_image=key_col == image_col)
    for label in labels:
        notes += _blank(path.name, label, columns.text[label], mentioned, row, problems,
                        per_image=key_col == image_col, grouped=label in grouped)
    if key_col == image_col and subject_col in names:
        _subjects_agree(path.name, mapping.named("subject_id"), columns.text[subject_col],
                        mentioned, row, problems, max_reported)
    frame = pd.DataFrame({"image_id": mentioned.ids.to_pandas(),
                          "subject_id": mentioned.subjects.to_pandas()})
    for label in labels:
        frame[label] = _labels(columns.text[label], row)
    if status_col in names and key_col != image_col:
        notes.append(STATUS_PER_SUBJECT.format(file=path.name, column=status_col))
    fta = None if status_col not in names or key_col != image_col else _fta(
        path.name, mapping.named("status"), columns.text[status_col], key, first_row,
        frame["image_id"], notes, problems, max_reported)
    return Labelled(frame, fta, notes)


def _positions(lookup: pa.Array, values: pa.Array) -> np.ndarray:
    """Position of each of the distinct ``lookup`` values among the distinct ``values``
    (-1: absent), hashing the shorter of the two: Arrow builds its hash table on the value
    set, and building it costs more than probing it (300,000 ids in 1.3 million: a third)."""
    if len(lookup) >= len(values):
        return _positions_of_any(lookup, values)
    at = _positions_of_any(values, lookup)
    found = np.full(len(lookup), -1, dtype=np.int64)
    listed = np.flatnonzero(at >= 0)
    found[at[listed]] = listed
    return found


def _positions_of_any(lookup: pa.Array, values: pa.Array) -> np.ndarray:
    """Position of each ``lookup`` value, repeated or not, among the distinct ``values``."""
    return pc.index_in(lookup, value_set=values).fill_null(-1).to_numpy(
        zero_copy_only=False).astype(np.int64)


def _first_rows(codes: Codes) -> np.ndarray:
    """Row of the first occurrence of each value (-1 when a value never occurs)."""
    first = np.full(len(codes.values), -1, dtype=np.int64)
    first[codes.codes[::-1]] = np.arange(len(codes.codes))[::-1]
    return first


def _listed_again(name: str, key: Codes, first_row: np.ndarray, key_name: str,
                  problems: Problems, max_reported: int) -> None:
    again = np.flatnonzero(first_row[key.codes] != np.arange(len(key.codes)))
    problems.add((LISTED_AGAIN.format(file=name, row=r + 1, key=key_name, value=key.text(r),
                                      first=first_row[key.codes[r]] + 1)
                  for r in again[:max_reported]), again.size)


def _variants(name: str, label: str, codes: Codes, *, first_row_of: np.ndarray,
              problems: Problems) -> None:
    """Labels equal up to case and surrounding space but spelled differently."""
    folded = pc.utf8_lower(codes.values).dictionary_encode().indices.to_numpy(
        zero_copy_only=False)
    used = first_row_of >= 0
    counts = np.bincount(folded[used], minlength=folded.max(initial=-1) + 1)
    several = np.flatnonzero(counts > 1)

    def message(group: int) -> str:
        members = np.flatnonzero(used & (folded == group))
        variants = ", ".join(f"{codes.values[int(m)].as_py()!r} (row {first_row_of[m] + 1})"
                             for m in members)
        return VARIANTS.format(file=name, column=label, variants=variants)

    problems.add(map(message, several[:5]), several.size)


def _carried(mentioned: Mentioned, images: np.ndarray) -> int:
    """Trials whose probe, or a verification row's reference, is one of ``images`` (a mask
    over the mentioned images)."""
    by_code = np.zeros(len(mentioned.position), dtype=bool)  # by code of the trials' table
    known = mentioned.position >= 0
    by_code[known] = images[mentioned.position[known]]
    return int(np.count_nonzero(by_code[mentioned.probe] | (
        mentioned.verification & by_code[mentioned.reference])))


def _blank(name: str, label: str, codes: Codes, mentioned: Mentioned, row: np.ndarray,
           problems: Problems, *, per_image: bool, grouped: bool) -> list[str]:
    """Listed images (or people) with an empty cell in ``label``: a note, or an error for a
    grouped column above :data:`MAX_UNLISTED_SHARE` of the trials."""
    empty = codes.values.index("").as_py() if len(codes.values) else -1
    blank = (row >= 0) & (codes.codes[np.maximum(row, 0)] == empty) if empty >= 0 else None
    if blank is None or not blank.any():
        return []
    n_trials = len(mentioned.probe)
    trials = _carried(mentioned, blank)
    share = trials / n_trials if n_trials else 0.0
    people = len(pc.unique(mentioned.subjects.filter(pa.array(blank))))
    count = int(np.count_nonzero(blank)) if per_image else people  # a log's images, or people
    refused = grouped and share > MAX_UNLISTED_SHARE
    message = BLANK.format(
        file=name, column=label, count=count, trials=trials, share=share,
        what=("image" if count == 1 else "images") if per_image else (
            "person" if count == 1 else "people"),
        people=f" of {people:,} {'person' if people == 1 else 'people'}" if per_image else "",
        outcome=BLANK_ERROR if refused else BLANK_NOTE)
    if refused:
        problems.append(message)
        return []
    return [message]


def _unlisted(name: str, mentioned: Mentioned, row: np.ndarray, problems: Problems, *,
              per_image: bool) -> list[str]:
    missing = row < 0
    if not missing.any():
        return []
    n_trials = len(mentioned.probe)
    carried = _carried(mentioned, missing)
    share = carried / n_trials if n_trials else 0.0
    ids = pc.unique((mentioned.ids if per_image else mentioned.subjects).filter(
        pa.array(missing)))
    examples = ", ".join(repr(v) for v in ids[:3].to_pylist())
    count = len(ids)
    what = ("image" if per_image else "subject") + ("" if count == 1 else "s")
    too_many = share > MAX_UNLISTED_SHARE
    message = UNLISTED.format(file=name, count=count, what=what, examples=examples, share=share,
                              outcome=UNLISTED_ERROR if too_many else UNLISTED_NOTE)
    if too_many:
        problems.append(message)
        return []
    return [message]


def _subjects_agree(name: str, subject: str, listed: Codes, mentioned: Mentioned, row: np.ndarray,
                    problems: Problems, max_reported: int) -> None:
    has = row >= 0
    listed_text = listed.values.take(pa.array(listed.codes[row[has]]))
    trial_text = mentioned.subjects.filter(pa.array(has))
    disagree = pc.and_(pc.not_equal(listed_text, ""), pc.not_equal(listed_text, trial_text))
    found = np.flatnonzero(disagree.to_numpy(zero_copy_only=False))
    problems.add((SUBJECT_DISAGREES.format(
        file=name, subject=subject, row=row[has][i] + 1,
        image=mentioned.ids.filter(pa.array(has))[i].as_py(),
        listed=listed_text[i].as_py(), trials=trial_text[i].as_py())
        for i in found[:max_reported]), found.size)


def _labels(codes: Codes, row: np.ndarray) -> pd.Series:
    """Each image's label; empty cells and unlisted images are ``unknown``."""
    values = pc.if_else(pc.equal(codes.values, ""), UNKNOWN, codes.values)
    values = pa.concat_arrays([values, pa.array([UNKNOWN])])
    picked = np.where(row >= 0, codes.codes[np.maximum(row, 0)], len(values) - 1)
    return values.take(pa.array(picked)).to_pandas()


def _fta(name: str, status_name: str, status: Codes, key: Codes, first_row: np.ndarray,
         mentioned: pd.Series, notes: list[str], problems: Problems, max_reported: int
         ) -> pd.DataFrame:
    """Per-image FTA flags from the status column, of the ``mentioned`` images (those the
    trials mention); a note when some of them have no status."""
    lowered = status.lowered()
    bad = np.flatnonzero(~lowered.isin(FACE_STATUSES))
    problems.add((BAD_STATUS.format(file=name, status=status_name, row=r + 1,
                                    value=status.text(r))
                  for r in bad[:max_reported]), bad.size)
    rows = first_row[first_row >= 0]
    fta = pd.DataFrame({"image_id": key.values.take(pa.array(key.codes[rows])).to_pandas(),
                        "fta": ~lowered.equal("ok")[rows]})
    fta = fta[fta["image_id"].isin(mentioned)].reset_index(drop=True)
    if len(fta) < len(mentioned):
        notes.append(NO_STATUS.format(missing=len(mentioned) - len(fta), total=len(mentioned),
                                      file=name, counted=len(fta)))
    return fta

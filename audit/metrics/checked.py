"""The metrics stage's inputs, checked once: the scores, images and FTA tables.

Every public function of the stage starts here (:func:`check_scores_table`,
:func:`check_images`, :func:`check_fta`, :func:`check_grouping_columns`), so
a bad table stops the stage with one message naming the first offending row
or column, before any counting. :mod:`.trials` then turns the checked tables
into the trials each rate counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.schema import SCORES, UNKNOWN, SchemaError, coerce_table

from .arrow_lookup import equal_text, index_in
from .trials import IDENTIFICATION, VERIFICATION, Grouping, ImageTable

MISSING_COLUMN = "images table lacks column {column!r} used by grouping {grouping!r}"
MISSING_IMAGE_COLUMN = "images table lacks required column {column!r}"
DUPLICATE_IMAGE = "images table lists image_id {image_id!r} more than once"
#: Separators inside group labels: intersections, controls, cross-group cells.
BAD_KIND = "scores row {row}: trial_kind {kind!r} is neither 'verification' nor 'identification'"
NULL_VALUE = "scores row {row}: column {column!r} is null"
INFINITE = "scores row {row}: score is infinite; scores must be finite or null (FTA)"
NO_TRUE_ENTRY_FLAG = (
    "scores row {row}: mated identification search with a score lacks best_is_true_entry"
)
BAD_TYPE = "scores table has a column that cannot be cast to its SCORES type: {error}"
FTA_COLUMNS = "fta table needs columns 'image_id' and 'fta'"
KINDS = pa.array([VERIFICATION, IDENTIFICATION])


def check_images(images: pd.DataFrame | pa.Table, columns: tuple[str, ...]) -> ImageTable:
    """Check the images table: unique ``image_id``, ``subject_id``, label columns.

    Missing labels become :data:`audit.schema.UNKNOWN`; labels are strings.
    """
    frame = images.to_pandas() if isinstance(images, pa.Table) else images
    for column in ("image_id", "subject_id"):
        if column not in frame.columns:
            raise SchemaError(MISSING_IMAGE_COLUMN.format(column=column))
    ids = pd.Index(frame["image_id"].astype(str))
    if ids.has_duplicates:
        raise SchemaError(DUPLICATE_IMAGE.format(image_id=ids[ids.duplicated()][0]))
    labels = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for column in columns:
        values = frame[column].reset_index(drop=True)
        labels[column] = values.astype(object).where(values.notna(), UNKNOWN).astype(str)
    subject_ids = frame["subject_id"].astype(str).to_numpy(dtype=object)
    return ImageTable(ids=ids, subject_ids=subject_ids, labels=labels)


def check_grouping_columns(
    groupings: tuple[Grouping, ...], images: pd.DataFrame | pa.Table
) -> None:
    """Raise naming the first grouping column absent from the images table."""
    names = images.column_names if isinstance(images, pa.Table) else list(images.columns)
    for grouping in groupings:
        for column in grouping.sensitive + grouping.control:
            if column not in names:
                raise SchemaError(MISSING_COLUMN.format(column=column, grouping=grouping.name))


def check_scores_table(scores: pd.DataFrame | pa.Table) -> pa.Table:
    """Return the scores table as Arrow with :data:`audit.schema.SCORES` types, checked.

    A DataFrame's columns are cast to the schema's types (e.g. int64 ``fold``
    becomes int32) by :func:`audit.schema.coerce_table`. Raises naming the
    first offending row (0-based) on a null in a required column, an unknown
    ``trial_kind``, an infinite score, or a mated identification search with a
    score but no ``best_is_true_entry``.
    """
    try:
        table = coerce_table(scores, SCORES, "scores").select(SCORES.names)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise SchemaError(BAD_TYPE.format(error=error)) from None
    for field in SCORES:
        if not field.nullable and table[field.name].null_count:
            _fail_first(pc.is_null(table[field.name]), NULL_VALUE, column=field.name)
    kind = table["trial_kind"]
    bad_kind = index_in(kind, KINDS) < 0  # a dictionary column: once per value, not per row
    if bad_kind.any():
        row = int(np.flatnonzero(bad_kind)[0])
        raise ValueError(BAD_KIND.format(row=row, kind=kind[row].as_py()))
    score = table["score"].to_numpy()
    _fail_first(np.isinf(score), INFINITE)
    if table["best_is_true_entry"].null_count:
        searched = equal_text(kind, IDENTIFICATION) & table["mated"].to_numpy(
            zero_copy_only=False)
        scored = ~_mask(pc.is_null(table["score"]))
        _fail_first(searched & scored & _mask(pc.is_null(table["best_is_true_entry"])),
                    NO_TRUE_ENTRY_FLAG)
    return table


def present_kinds(scores: pa.Table) -> set[str]:
    """Trial kinds that occur in a checked scores table."""
    return set(pc.unique(scores["trial_kind"]).to_pylist())


def _mask(mask: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _fail_first(mask: pa.ChunkedArray | pa.Array | np.ndarray, message: str,
                **fields: str) -> None:
    mask = mask if isinstance(mask, np.ndarray) else _mask(mask)
    if mask.any():
        raise ValueError(message.format(row=int(np.flatnonzero(mask)[0]), **fields))


def check_fta(fta: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """Check the per-image FTA table: columns ``image_id`` and boolean ``fta``."""
    frame = fta.to_pandas() if isinstance(fta, pa.Table) else fta
    if not {"image_id", "fta"} <= set(frame.columns):
        raise SchemaError(FTA_COLUMNS)
    return pd.DataFrame(
        {"image_id": frame["image_id"].astype(str), "fta": frame["fta"].astype(bool)}
    ).reset_index(drop=True)


def subject_index(scores: pa.Table, images: ImageTable) -> pd.Index:
    """Every subject that can be resampled (probe and image subjects), sorted.

    Sorting makes every cluster sum independent of row order. Arrow finds and
    sorts the distinct names (its byte order is numpy's code-point order), so no
    Python string is made for each name seen twice.
    """
    probe_subjects = pc.unique(scores["probe_subject"])
    if pa.types.is_dictionary(probe_subjects.type):
        probe_subjects = probe_subjects.dictionary_decode()
    names = pc.unique(pa.concat_arrays([probe_subjects.cast(pa.string()),
                                        pa.array(images.subject_ids, pa.string())]))
    return pd.Index(names.take(pc.array_sort_indices(names)).to_numpy(zero_copy_only=False))

"""Arrow schemas of the tables that pipeline stages exchange.

Stages meet only through these tables (manifest -> faces -> scores -> metrics),
so each stage checks its input with :func:`check_table` and returns a new
table; nothing reaches into another stage's internals. Columns listed here are
required with exactly these types; extra columns are allowed only where a
stage documents them (demographic and condition columns of the manifest).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

#: Statuses a faces row can take. ``ok`` is the only one with an embedding.
FACE_STATUSES = ("ok", "no_face", "unreadable", "missing", "error", "timeout")

#: Value used for a demographic or condition label that is missing or conflicting.
UNKNOWN = "unknown"

MANIFEST = pa.schema(
    [
        pa.field("image_id", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("subject_id", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
    ]
)
"""Required manifest columns. Any other column must be a string column holding a
demographic label (``gender``, ``ethnicity``, ``age_band``...), a capture
condition, or a ``split``/``fold``; missing values are :data:`UNKNOWN`."""

#: One detected face's box (image pixels) and detector confidence.
FACE_BOX = pa.struct([pa.field("x", pa.int32()), pa.field("y", pa.int32()),
                      pa.field("w", pa.int32()), pa.field("h", pa.int32()),
                      pa.field("confidence", pa.float32())])

FACES = pa.schema(
    [
        pa.field("image_id", pa.string(), nullable=False),
        pa.field("content_hash", pa.string()),  # sha256 of the file bytes; null if missing
        pa.field("config_key", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("message", pa.string()),
        pa.field("n_faces", pa.int32()),
        pa.field("box_x", pa.int32()),
        pa.field("box_y", pa.int32()),
        pa.field("box_w", pa.int32()),
        pa.field("box_h", pa.int32()),
        pa.field("confidence", pa.float32()),
        pa.field("face_height_px", pa.int32()),
        pa.field("brightness", pa.float32()),
        pa.field("contrast", pa.float32()),
        pa.field("sharpness", pa.float32()),
        pa.field("yaw_deg", pa.float32()),
        pa.field("embedding", pa.list_(pa.float32())),
        pa.field("n_frames", pa.int32()),  # frames in the file (animated GIF, MPO); 1st used
        pa.field("face_boxes", pa.list_(FACE_BOX)),  # every face found, in detector order
        pa.field("face_index", pa.int32()),  # which of face_boxes is the box_* face
    ]
)
"""One row per image and pipeline configuration (per face with face selection
``all``, keyed by ``image_id`` and ``face_index``). ``embedding`` is null unless
``status == "ok"``; quality features are null when no face was found.
``face_boxes`` keeps every face the detector found and ``face_index`` the one
the configuration's face selection used, so another choice can be judged
from the table."""

SCORES = pa.schema(
    [
        pa.field("trial_kind", pa.string(), nullable=False),  # verification | identification
        pa.field("probe_id", pa.string(), nullable=False),
        pa.field("reference_id", pa.string()),  # image_id, or watchlist entry's image_id
        pa.field("probe_subject", pa.string(), nullable=False),
        pa.field("reference_subject", pa.string()),
        pa.field("score", pa.float64()),  # similarity, higher = more alike; null = FTA
        pa.field("mated", pa.bool_(), nullable=False),
        pa.field("fold", pa.int32()),  # protocol fold (LFW View 2), or draw for 1:N
        pa.field("rank", pa.int32()),  # 1:N: rank of the true entry, null if absent/FTA
        pa.field("best_is_true_entry", pa.bool_()),  # 1:N: top candidate is the mate
    ]
)
"""One row per comparison (1:1) or per search (1:N: ``score`` is the best
watchlist score). ``score`` is null when either side failed to acquire."""

#: Schema metadata keys of a scores table naming the distance its ``score``
#: column came from. Parquet keeps them, so a scores file says how it was made.
DISTANCE_KEY = b"lfr_audit.distance"
SIMILARITY_KEY = b"lfr_audit.similarity"

METRICS = pa.schema(
    [
        pa.field("metric", pa.string(), nullable=False),
        pa.field("grouping", pa.string(), nullable=False),  # e.g. "overall", "gender x ethnicity"
        pa.field("group", pa.string(), nullable=False),
        pa.field("threshold", pa.float64()),
        pa.field("value", pa.float64()),
        pa.field("ci_low", pa.float64()),
        pa.field("ci_high", pa.float64()),
        pa.field("ci_method", pa.string()),
        pa.field("n_trials", pa.int64()),
        pa.field("n_subjects", pa.int64()),
        pa.field("n_errors", pa.int64()),
        pa.field("sufficient", pa.bool_()),
    ]
)
"""Tidy metric rows: one rate for one group at one threshold, with its interval."""


class SchemaError(ValueError):
    """A table does not match the contract of the stage that reads it."""


def check_table(table: pa.Table, schema: pa.Schema, name: str) -> pa.Table:
    """Check that ``table`` has every column of ``schema`` with the same type.

    Returns the table with the required columns first, in schema order, and
    extra columns after them, so that downstream code can rely on the layout.
    Raises :class:`SchemaError` naming the first missing or mistyped column.
    """
    for field in schema:
        if field.name not in table.column_names:
            raise SchemaError(f"{name} table lacks column {field.name!r}")
        actual = table.schema.field(field.name).type
        if pa.types.is_dictionary(actual) and actual.value_type == field.type:
            continue  # dictionary-encoded text is text (score logs keep ids as codes)
        if actual != field.type:
            raise SchemaError(
                f"{name} table column {field.name!r} has type {actual}, expected {field.type}"
            )
    extra = [c for c in table.column_names if c not in schema.names]
    return table.select(schema.names + extra)


def coerce_table(table: pa.Table | pd.DataFrame, schema: pa.Schema, name: str) -> pa.Table:
    """Accept a pandas DataFrame or an Arrow table and check it against ``schema``.

    pandas cannot carry Arrow types (its strings come back as large_string, its
    float lists as float64), so a DataFrame's required columns are cast to the
    schema's types before :func:`check_table`; an Arrow table must already match.
    """
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
        for field in schema:
            if field.name in table.column_names:
                position = table.column_names.index(field.name)
                table = table.set_column(position, field.name,
                                         table.column(position).cast(field.type))
    return check_table(table, schema, name)


def json_value(value: object) -> object:
    """A metrics value (or a mapping or sequence of them) as strict JSON.

    NaN becomes None, an infinite value (a ratio over a zero rate) ``"inf"``
    or ``"-inf"``, numpy scalars Python ones.

    Examples
    --------
    >>> json_value({"a": [np.float64("nan"), float("inf")], "b": np.int64(3)})
    {'a': [None, 'inf'], 'b': 3}
    """
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value

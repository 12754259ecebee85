"""A score log's record beside its metrics table: written by ``metrics``, read by ``report``.

``lfr-audit metrics LOG`` writes ``metrics.about.json`` beside
``metrics.parquet``: plain JSON (never pickle), the score log's counterpart of
a run folder's ``provenance.json``. It holds what the user stated in an about
file (:mod:`audit.log_about`; ``about`` is null without one), the command's
options (thresholds, groupings, statistics, projection), the names of the
files read (names only: no folder of this machine is published), counts
taken from the log itself, what was read from each file (its SHA-256 and which
column was read as which key: ``inputs``), the about file's ``[policy]`` outcome
(``policy``, as a run's ``policy.json``), the date and package versions.
:mod:`audit.runs.log_info` turns it into the report's description. Nothing
here imports the report package, so ``metrics`` without ``--report`` never
loads it (matplotlib, Jinja2 and the report's figures).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.tables import package_versions, write_json

#: The record's file name is the metrics table's with this suffix (metrics.about.json).
SUFFIX = ".about.json"
FORMAT = 1
#: Packages whose versions computed a score log's metrics (no deepface: nothing was embedded).
LOG_PACKAGES = ("lfr-audit", "numpy", "pandas", "pyarrow", "scipy", "statsmodels", "fairlearn")
BAD_RECORD = "{path} is not a score log's record ({problem}); re-run lfr-audit metrics to write it"


def record_path(metrics_path: Path) -> Path:
    """``metrics.parquet`` -> ``metrics.about.json``, beside it."""
    return Path(metrics_path).with_suffix(SUFFIX)


#: Most values of a label column recorded (``label_values``); a column with more is left out.
MAX_LABEL_VALUES = 1_000


def label_values(images: pd.DataFrame) -> dict[str, list[str]]:
    """Each label column of ``images`` (not ``image_id``/``subject_id``) -> its distinct
    values, sorted, for columns of at most :data:`MAX_LABEL_VALUES`: the report names
    each column of a group of several columns with its value."""
    out = {}
    for column in images.columns.drop(["image_id", "subject_id"], errors="ignore"):
        values = pd.unique(images[column].dropna().astype(str))
        if len(values) <= MAX_LABEL_VALUES:
            out[str(column)] = sorted(values)
    return out


def log_counts(scores: pa.Table, images: pd.DataFrame) -> dict[str, Any]:
    """People, images, 1:1 comparisons and 1:N searches in a checked score log, and
    the values of its label columns (``label_values``, :func:`label_values`).

    ``images`` has one row per image the trials mention (``image_id``,
    ``subject_id``); a log without image ids lets each person stand for their
    images (image id = subject id): the number of images is then unknown (None).
    """
    kinds = pc.value_counts(scores.column("trial_kind").combine_chunks())
    by_kind = {str(k): int(n) for k, n in zip(kinds.field("values").to_pylist(),
                                              kinds.field("counts").to_pylist())}
    without_ids = images["image_id"].astype(str).equals(images["subject_id"].astype(str))
    return {
        "subjects": int(images["subject_id"].nunique()),
        "images": None if without_ids else len(images),
        "verification_trials": by_kind.get("verification", 0),
        "identification_searches": by_kind.get("identification", 0),
        "label_values": label_values(images),
    }


def write_record(metrics_path: Path, *, about: Mapping[str, Any] | None,
                 sources: Mapping[str, str], options: Mapping[str, Any],
                 counts: Mapping[str, Any],
                 inputs: Mapping[str, Any] | None = None,
                 policy: Mapping[str, Any] | None = None) -> Path:
    """Write the record beside ``metrics_path``; ``about`` is
    ``LogAbout.model_dump(mode="json")`` or None, ``sources`` role -> file name,
    ``inputs`` role -> what was read from that file (its SHA-256, which column was read
    as which key, the label columns), ``policy`` the about file's ``[policy]`` outcome as
    a run's ``policy.json`` holds it (``PolicyOutcome.to_json()``; None: not judged)."""
    record = {
        "format": FORMAT,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "about": dict(about) if about is not None else None,
        "sources": {role: Path(name).name for role, name in sources.items()},
        "options": dict(options),
        "counts": dict(counts),
        "inputs": dict(inputs or {}),
        "policy": None if policy is None else dict(policy),
        "versions": package_versions(LOG_PACKAGES),
    }
    return write_json(record_path(metrics_path), record)


def read_record(metrics_path: Path) -> dict[str, Any] | None:
    """The record beside a metrics table, or None when there is none."""
    path = record_path(metrics_path)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(BAD_RECORD.format(path=path, problem=f"not JSON: {error}")) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(BAD_RECORD.format(path=path, problem=f"no format {FORMAT}"))
    return record

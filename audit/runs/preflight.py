"""Checks that need the loaded manifest or the file system, made before any embedding.

The spec's own values are checked when it is read (:mod:`audit.config`);
what depends on the data comes here, in the first seconds of a run, before
deepface loads: every grouping names columns the manifest has (or measured
condition bands), and the run and cache folders can be written. A mistake
found after twenty minutes of embedding costs twenty minutes; found here, it
costs a line.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pyarrow as pa

from ..config import AuditSpec
from .layout import RunError

UNKNOWN_COLUMN = (
    "[{key}] {grouping!r} names column {column!r}, which the {dataset} manifest lacks; "
    "its columns: {available}"
)
BAD_GROUPING = "[{key}] {grouping!r}: {reason}"
NOT_WRITABLE = "cannot write to the {what} folder {folder} ({reason}); choose another with {fix}"


def check_groupings(spec: AuditSpec, manifest: pa.Table, dataset: str) -> None:
    """Every grouping of ``spec`` reads columns of ``manifest`` or measured bands.

    Raises :class:`~audit.runs.RunError` listing each unknown column once, with
    the columns that exist.
    """
    from ..metrics.conditions import FEATURES
    from ..metrics.trials import Grouping

    labels = [c for c in manifest.column_names if c not in ("image_id", "path")]
    bands = [band for band, _ in FEATURES.values()]
    problems = []
    named = [("groupings.sensitive", g) for g in spec.groupings.sensitive]
    named += [("groupings.conditions", g) for g in spec.groupings.conditions]
    for key, text in named:
        try:
            grouping = Grouping.parse(text)
        except ValueError as error:
            problems.append(BAD_GROUPING.format(key=key, grouping=text, reason=error))
            continue
        problems += [_unknown(key, text, c, dataset, labels + bands)
                     for c in (*grouping.sensitive, *grouping.control)
                     if c not in labels and c not in bands]
    problems += [_unknown("matching.pair_grouping", c, c, dataset, labels)
                 for c in spec.matching.pair_grouping if c not in labels]
    if problems:
        raise RunError("; ".join(dict.fromkeys(problems)))


def _unknown(key: str, grouping: str, column: str, dataset: str, available: list[str]) -> str:
    return UNKNOWN_COLUMN.format(key=key, grouping=grouping, column=column, dataset=dataset,
                                 available=", ".join(available))


def check_writable(folder: Path, what: str, fix: str) -> None:
    """``folder`` exists (or can be made) and takes a new file, else RunError."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=".lfr-audit-write-check-", dir=folder)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise RunError(NOT_WRITABLE.format(what=what, folder=folder, reason=reason,
                                           fix=fix)) from None

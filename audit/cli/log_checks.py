"""``metrics`` on a score log: what the attribute file's label columns must answer.

Each ``--grouping`` column and an about file's ``[watchlist] composition_by``
must be a label column of the attribute file: checked on the file's header,
before the log is read, and named with its label columns when not. Without
``--grouping`` no disparity is computed, and the terminal says so and how to
ask for one, rather than ending on overall rates alone.
"""

from __future__ import annotations

from pathlib import Path

from .common import UserError

NO_LABEL_COLUMN = ("{file}: no label column {column!r} for {what}; its label columns are "
                   "{labels}")
NO_DISPARITY = ("no disparity computed: no --grouping given; add --grouping COLUMN (label "
                "columns of {file}: {labels}) to compare groups")


def grouped_columns(groupings: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """Each ``--grouping`` as (its name, the label columns it reads); one line if malformed."""
    from ..metrics.trials import Grouping

    try:
        parsed = [Grouping.parse(g) for g in groupings]
    except ValueError as error:
        raise UserError(f"--grouping: {error}") from None
    return [(g.name, tuple(g.sensitive + g.control)) for g in parsed]


def label_columns(attributes: Path, mapping) -> list[str]:
    """The attribute file's group label columns, from its header alone: every column but
    those read as ``image_id``, ``subject_id`` and ``status``."""
    from ..metrics.log_format import ATTRIBUTE_KEYS
    from ..metrics.log_reading import LogReadError, column_names

    try:
        names = column_names(attributes)
    except LogReadError as error:
        raise UserError(str(error)) from None
    keys = {mapping.column(key) for key in ATTRIBUTE_KEYS}
    return [name for name in names if name not in keys]


def check_label_columns(grouped: list[tuple[str, tuple[str, ...]]], labels: list[str],
                        file: str, about=None) -> None:
    """Every --grouping column, and the about file's ``composition_by``, is a label column
    (checked on the header, before the log is read)."""
    wanted = [(column, f"--grouping {name!r}") for name, columns in grouped for column in columns]
    if about is not None and about.watchlist.composition_by:
        wanted.append((about.watchlist.composition_by, "[watchlist] composition_by"))
    for column, what in wanted:
        if column not in labels:
            raise UserError(NO_LABEL_COLUMN.format(file=file, column=column, what=what,
                                                   labels=", ".join(labels) or "none"))


def no_disparity_line(labels: list[str], file: str) -> str:
    """The line that says no disparity was computed, and how to ask for one."""
    return NO_DISPARITY.format(file=file, labels=", ".join(labels) or "none")

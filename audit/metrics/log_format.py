"""The score-log format: every column a trials or attribute file may hold, and its mapping.

This table is the single source of the format; ``docs/score-logs.md``
explains it with worked examples, and ``lfr-audit metrics --help`` points
there. A user's own column names are mapped onto these keys with
``--map KEY=COLUMN`` (repeatable) or a ``[columns]`` table in a TOML file
(``--columns FILE``), as Aequitas and Fairlearn take the user's names.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

TRIALS = "trials"
ATTRIBUTES = "attributes"


@dataclass(frozen=True)
class LogField:
    """One column of the format: where it lives, whether it is required, what it holds."""

    key: str
    file: str
    type: str
    required: str
    meaning: str


FIELDS = (
    LogField("trial_kind", TRIALS, "text", "always",
             "`verification` (one 1:1 comparison) or `identification` (one 1:N search)"),
    LogField("probe_subject", TRIALS, "text", "always", "the person in the probe"),
    LogField("probe_id", TRIALS, "text", "optional",
             "the probe image or capture; without it the subject stands for its images"),
    LogField("reference_subject", TRIALS, "text", "verification rows",
             "the person in the compared image"),
    LogField("reference_id", TRIALS, "text", "optional (verification)",
             "the compared image; given only together with `probe_id`"),
    LogField("score", TRIALS, "number", "column always; empty = FTA",
             "similarity, higher = more alike; 1:N: the best watchlist score"),
    LogField("mated", TRIALS, "boolean", "always",
             "1:1: same person (must agree with the subject columns); "
             "1:N: the probe's person is on the watchlist"),
    LogField("best_is_true_entry", TRIALS, "boolean", "mated 1:N rows with a score",
             "the top candidate is the probe's own watchlist entry"),
    LogField("rank", TRIALS, "integer", "optional", "1:N rank of the true entry"),
    LogField("fold", TRIALS, "integer", "optional", "protocol fold or watchlist draw"),
    LogField("image_id", ATTRIBUTES, "text", "per-image files",
             "the image (matches `probe_id` / `reference_id`)"),
    LogField("subject_id", ATTRIBUTES, "text", "per-subject files (optional per image)",
             "the person (matches `probe_subject` / `reference_subject`)"),
    LogField("status", ATTRIBUTES, "text", "optional, per-image files",
             "`ok`, or why no usable face was found (`no_face`, `unreadable`, `missing`, "
             "`error`, `timeout`): gives the FTA rate; never a group label"),
)
KEYS = {f.key: f for f in FIELDS}
#: Columns of a trials file that are checked and used; any other column is ignored.
TRIAL_KEYS = tuple(f.key for f in FIELDS if f.file == TRIALS)
#: Columns of an attribute file that are not group labels.
ATTRIBUTE_KEYS = tuple(f.key for f in FIELDS if f.file == ATTRIBUTES)
FORMAT_PAGE = "docs/score-logs.md"

BAD_MAP = "--map {text!r}: expected KEY=COLUMN, e.g. score=similarity"
UNKNOWN_KEY = "{where}: unknown key {key!r}; keys are {keys} (see " + FORMAT_PAGE + ")"
MAPPED_TWICE = "{where}: column {column!r} is mapped to both {first!r} and {second!r}"
BAD_COLUMNS_FILE = "{file}: {why}; expected a [columns] table of KEY = \"COLUMN\""


@dataclass(frozen=True)
class ColumnMap:
    """Which column of the user's files holds each key (identity when unmapped)."""

    columns: dict[str, str]

    def column(self, key: str) -> str:
        """The user's column name for ``key``."""
        return self.columns.get(key, key)

    def named(self, key: str) -> str:
        """How messages name ``key``'s column: the user's name, with the key when they
        differ (``genuine (mated)``), so a message points at a column the user knows."""
        column = self.column(key)
        return key if column == key else f"{column} ({key})"

    def hint(self, key: str) -> str:
        """How the user would point ``key`` at a column of another name."""
        return f"--map {key}=COLUMN"


def parse_mapping(items: list[str] | tuple[str, ...] = (), columns_file: Path | None = None
                  ) -> ColumnMap:
    """A :class:`ColumnMap` from a ``[columns]`` TOML table, then ``KEY=COLUMN`` items.

    Items given on the command line override the file's entries.

    Examples
    --------
    >>> parse_mapping(["score=similarity", "probe_subject = person"]).column("score")
    'similarity'
    """
    from_file = {} if columns_file is None else _columns_table(Path(columns_file))
    _check(from_file, where=str(columns_file))
    given: dict[str, str] = {}
    for text in items:
        key, equals, column = text.partition("=")
        if not equals or not key.strip() or not column.strip():
            raise ValueError(BAD_MAP.format(text=text))
        given[key.strip()] = column.strip()
    _check(given, where="--map")  # each source blamed for its own keys
    _check({**from_file, **given}, where="--map" if columns_file is None else
           f"{columns_file} with --map")
    return ColumnMap({**from_file, **given})


def _columns_table(path: Path) -> dict[str, str]:
    try:
        spec = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ValueError(BAD_COLUMNS_FILE.format(file=path, why=error)) from None
    table = spec.get("columns")
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ValueError(BAD_COLUMNS_FILE.format(file=path, why="no such table"))
    return dict(table)


def _check(mapping: dict[str, str], *, where: str) -> None:
    seen: dict[str, str] = {}
    for key, column in mapping.items():
        if key not in KEYS:
            raise ValueError(UNKNOWN_KEY.format(where=where, key=key, keys=", ".join(KEYS)))
        if column in seen and KEYS[seen[column]].file == KEYS[key].file:
            raise ValueError(MAPPED_TWICE.format(where=where, column=column, first=seen[column],
                                                 second=key))
        seen[column] = key


def absent_mapped(mapping: ColumnMap, file: str, names: list[str]) -> list[str]:
    """Keys of ``file`` (:data:`TRIALS` or :data:`ATTRIBUTES`) the user mapped explicitly onto
    a column ``names`` lacks: an error even for an optional key, never a silent default."""
    return [key for key, column in mapping.columns.items()
            if KEYS[key].file == file and column not in names]


def markdown_table(file: str) -> str:
    """The fields of one file as a Markdown table (the format page quotes it)."""
    lines = ["| column | type | required | meaning |", "|---|---|---|---|"]
    lines += [f"| `{f.key}` | {f.type} | {f.required} | {f.meaning} |"
              for f in FIELDS if f.file == file]
    return "\n".join(lines)

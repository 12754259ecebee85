"""Row checks of a manifest that no file system call may see first.

A path holding a NUL byte makes every ``os`` call raise, a name over 255
bytes makes it fail with ``ENAMETOOLONG``, and a control character in a label
breaks the XML of a report's figures. So these values are checked on their
text, vectorised over the whole manifest, before any path is resolved; each
problem names its row and shows the value (shortened, with its length, when
long), and all of them are reported at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

#: Longest file or folder name most file systems accept (bytes, UTF-8).
MAX_NAME_BYTES = 255
#: Longest path accepted (bytes, UTF-8): Linux's PATH_MAX.
MAX_PATH_BYTES = 4096
#: Characters of a value shown in a problem line.
SHOWN_CHARS = 60

#: C0 and C1 control characters, DEL, and the Unicode line and paragraph separators.
CONTROL = r"[\x00-\x1f\x7f-\x9f\u2028\u2029]"

CONTROL_CHARACTER = (
    "{column} {value} holds a control character ({which}); remove it from the manifest"
)
NAME_TOO_LONG = (
    "path {value} has a name of {size} bytes, over the {limit}-byte limit of file systems; "
    "rename the file"
)
PATH_TOO_LONG = "path {value} is {size} bytes long, over {limit}; move the files to shorter paths"
CONFLICTING = (
    "path {value} repeats row {first} with different labels ({differences}); "
    "keep one row per image, with its labels"
)


def shown(value: str) -> str:
    """``repr`` of ``value``, cut to :data:`SHOWN_CHARS` characters with its length when longer."""
    if len(value) <= SHOWN_CHARS:
        return repr(value)
    return f"{value[:SHOWN_CHARS]!r}... ({len(value):,} characters)"


def _which(value: str) -> str:
    import re

    character = re.search(CONTROL, value).group()
    return "NUL" if character == "\0" else f"U+{ord(character):04X}"


def control_characters(frame: pd.DataFrame) -> Iterator[tuple[int, str]]:
    """One problem per (row, column) whose value holds a control character."""
    for column in frame.columns:
        values = frame[column]
        for row in values.index[values.str.contains(CONTROL, regex=True)]:
            value = values[row]
            yield row, CONTROL_CHARACTER.format(column=column, value=shown(value),
                                                which=_which(value))


def long_paths(paths: pd.Series) -> Iterator[tuple[int, str]]:
    """Paths the file system would refuse for their length (rows with control
    characters excluded: they are reported already)."""
    for row, value in paths.items():
        encoded = value.encode("utf-8", "surrogatepass")
        if len(encoded) > MAX_PATH_BYTES:
            yield row, PATH_TOO_LONG.format(value=shown(value), size=len(encoded),
                                            limit=MAX_PATH_BYTES)
            continue
        longest = max((len(part) for part in encoded.split(b"/")), default=0)
        if longest > MAX_NAME_BYTES:
            yield row, NAME_TOO_LONG.format(value=shown(value), size=longest,
                                            limit=MAX_NAME_BYTES)


def conflicting_labels(frame: pd.DataFrame, paths: pd.Series,
                       labels: list[str]) -> Iterator[tuple[int, str]]:
    """Rows repeating an earlier row's path with other labels or another subject."""
    present = paths[paths != ""]
    first = pd.Series(present.index, index=present.index).groupby(present).transform("first")
    columns = ["subject_id", *labels]
    for row in present.index[present.duplicated()]:
        earlier = first[row]
        differences = [f"{c}: {shown(frame.at[earlier, c])} vs {shown(frame.at[row, c])}"
                       for c in columns if frame.at[row, c] != frame.at[earlier, c]]
        if differences:
            yield row, CONFLICTING.format(value=shown(present[row]), first=earlier,
                                          differences="; ".join(differences))

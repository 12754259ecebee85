"""Columns of a CSV or Parquet log, read lazily with pyarrow: text as codes, numbers as floats.

A text column becomes a :class:`Codes`: one integer code per row into its
distinct stripped values, so a 10-million-row log of 100,000 people keeps
100,000 strings, not 10 million, and checks, joins and duplicate searches
run on integers. Ids are parsed by Arrow as strings and coded by one hash
over the rows (probe and reference columns together, on one value table;
values of at most 8 bytes hashed as 64-bit integers, :mod:`.short_text`),
then their text is let go; subjects are coded through their images' codes
when each image has one person (:mod:`.keyed_text`), with no hash over their
rows, and each image's subject is kept (:attr:`Columns.by_key`); columns of a
few values (kinds, booleans) are parsed straight into dictionaries. Stripping
and checking words touch the distinct values only. Numbers are parsed by
Arrow; only when a file holds a value that is not a number is the column
re-read as text to find the rows. No Python object is made per row.
"""

from __future__ import annotations

import csv as python_csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.metrics.keyed_text import key_codes
from audit.metrics.short_text import packed_words, word_codes

NOT_FOUND = "{file}: no such file"
UNKNOWN_FORMAT = "{file}: unknown file type; use .csv, .parquet or .pq"
UNREADABLE = "{file}: cannot be read as {kind} ({error})"
#: How a CSV's columns of a few distinct values are read.
DICTIONARY = pa.dictionary(pa.int32(), pa.string())
#: Bytes of CSV parsed at a time: 16 MiB blocks cost about a sixth less CPU than Arrow's
#: default 1 MiB on a 10M-row log (fewer chunks to convert and to code), for the same memory.
CSV_BLOCK = 16 << 20
NUMBER = r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity)$"


class LogReadError(ValueError):
    """A file that cannot be read at all (missing, unknown type, not CSV/Parquet)."""


@dataclass(frozen=True)
class Codes:
    """A text column: ``values[codes[i]]`` is row *i*'s stripped text ("" when empty).

    Codes are int32 (four bytes a row; Arrow's own dictionary indices are int32 too)."""

    codes: np.ndarray
    values: pa.Array

    def text(self, row: int) -> str:
        """Row ``row``'s text (for messages)."""
        return self.values[int(self.codes[row])].as_py()

    def lowered(self) -> Codes:
        """The same column with every value in lower case (merging variants)."""
        return _recode(self.codes, pc.utf8_lower(self.values))

    def equal(self, word: str) -> np.ndarray:
        """Row mask: the text equals ``word``."""
        return self._rows(_value_mask(self.values, pc.equal(self.values, word)))

    def isin(self, words: frozenset[str] | tuple[str, ...]) -> np.ndarray:
        """Row mask: the text is one of ``words``."""
        return self._rows(values_in(self.values, words))

    def _rows(self, hit: np.ndarray) -> np.ndarray:
        """A mask over the values spread to the rows; when no value is hit (an empty id is
        rare), zeros the system maps lazily instead of a look-up per row."""
        return hit[self.codes] if hit.any() else np.zeros(len(self.codes), dtype=bool)


def values_in(values: pa.Array, words: frozenset[str] | tuple[str, ...]) -> np.ndarray:
    """Mask over ``values`` (not rows): the value is one of ``words``."""
    hit = pc.is_in(values, value_set=pa.array(sorted(words), pa.string()))
    return _value_mask(values, hit)


def on_one_table(columns: list[Codes]) -> list[Codes]:
    """The columns re-coded onto one value table, so equal codes mean equal text across them.

    Columns read together (:func:`read_columns` ``shared``) already are: then
    they are returned as they are, with no copy of their rows.
    """
    if all(c.values is columns[0].values for c in columns):
        return list(columns)
    merged = pa.concat_arrays([c.values for c in columns])
    offsets = np.cumsum([0] + [len(c.values) for c in columns[:-1]])
    shifted = np.concatenate([c.codes + np.int32(o) for c, o in zip(columns, offsets,
                                                                     strict=True)])
    return _parts(_recode(shifted, merged), [len(c.codes) for c in columns])


def _parts(column: Codes, sizes: list[int]) -> list[Codes]:
    """Consecutive parts of a column's rows (views), sharing its value table."""
    bounds = np.cumsum([0] + sizes)
    return [Codes(column.codes[a:b], column.values) for a, b in zip(bounds, bounds[1:])]


def _recode(codes: np.ndarray, values: pa.Array) -> Codes:
    """``codes`` into ``values`` re-coded onto the distinct values (rows untouched if all are)."""
    encoded = values.dictionary_encode()
    if len(encoded.dictionary) == len(values):  # already distinct, in first-occurrence order
        return Codes(codes, values)
    remap = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    return Codes(remap[codes], encoded.dictionary)


def _value_mask(values: pa.Array, mask: pa.Array) -> np.ndarray:
    return np.asarray(mask.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool) if len(
        values) else np.zeros(0, dtype=bool)


def column_names(path: Path) -> list[str]:
    """The file's columns, without reading its rows."""
    _check_path(path)
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return [name.strip() for name in next(python_csv.reader(handle), [])]
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowInvalid, OSError) as error:
        raise LogReadError(UNREADABLE.format(file=path.name, kind="Parquet", error=error)) from None


def _check_path(path: Path) -> None:
    if not path.is_file():
        raise LogReadError(NOT_FOUND.format(file=path))
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise LogReadError(UNKNOWN_FORMAT.format(file=path.name))


@dataclass(frozen=True)
class Columns:
    """What :func:`read_columns` read: text as :class:`Codes`, numbers as float64 (NaN empty).

    ``bad_numbers[name]`` marks rows whose cell was neither empty nor a number
    (``NaN`` included); ``number_text[name]``, when the column had to be read
    as text, holds that text, to show the values. ``by_key[name]``, for a column coded
    through its key columns (``keyed``), holds one code per value of the key's table: the
    text of that key (each row's code is ``by_key[name].codes[key code]``).
    """

    n_rows: int
    text: dict[str, Codes]
    numbers: dict[str, np.ndarray]
    bad_numbers: dict[str, np.ndarray]
    number_text: dict[str, Codes]
    by_key: dict[str, Codes] = field(default_factory=dict)


def read_columns(path: Path, text: list[str], numbers: list[str], *,
                 shared: tuple[tuple[str, ...], ...] = (), few: tuple[str, ...] = (),
                 keyed: dict[tuple[str, ...], tuple[str, ...]] | None = None) -> Columns:
    """Read the named columns (all present in the file) of one CSV or Parquet file.

    Each group of ``shared`` text columns (e.g. probe and reference ids) gets
    one value table, so equal codes mean equal text across the group. ``few``
    names text columns of a few distinct values (kinds, booleans): a CSV's are
    read as Arrow dictionaries, never as one string per row. ``keyed`` maps a
    shared group onto the group its text depends on, row by row (subjects onto
    their image ids): it is coded through that group's codes when it does.
    """
    try:
        table = _read(path, text, numbers, few, numbers_as_text=False)
        slow = []
    except pa.ArrowInvalid:  # a cell that is not a number: find it on the text
        table = _read(path, text, numbers, few, numbers_as_text=True)
        slow = numbers
    parsed: dict[str, np.ndarray] = {}
    bad: dict[str, np.ndarray] = {}
    shown: dict[str, Codes] = {}
    for name in (n for n in numbers if n not in slow):
        parsed[name], bad[name] = _numbers(table[name])
    spelled = [n for n in numbers if n not in slow and bad[n].any()]
    if spelled:  # a NaN Arrow parsed: the user's own spelling, for the message
        as_text = _read(path, [], spelled, (), numbers_as_text=True)
        shown.update((name, _encode([as_text[name]])) for name in spelled)
    for name in slow:
        shown[name] = _encode([table[name]])
        parsed[name], bad[name] = _parse_numbers(shown[name])
    n_rows, codes, keyed = table.num_rows, {}, keyed or {}
    groups = [*shared, *((name,) for name in text if not any(name in g for g in shared))]
    keys = {key: None for key in keyed.values()}
    # Key columns first: the columns keyed by them are coded through their codes.
    by_key: dict[str, Codes] = {}
    for group in [g for g in groups if g in keys] + [g for g in groups if g not in keys]:
        columns = [table[name] for name in group]
        key = keys.get(keyed.get(group))
        through = None if key is None else _through_key(columns, key)
        coded = _encode(columns) if through is None else Codes(through.codes[key.codes],
                                                               through.values)
        if group in keys and not _is_dictionary(columns):
            keys[group] = coded
        codes.update(zip(group, _parts(coded, [len(c) for c in columns]), strict=True))
        by_key.update((name, through) for name in group if through is not None)
        table = table.drop_columns(list(group))  # each group's text let go once it is coded
        del columns, key, coded
    del table, keys
    pa.default_memory_pool().release_unused()  # the text's memory back to the system, not kept
    return Columns(n_rows, {name: codes[name] for name in text}, parsed, bad, shown, by_key)


def _read(path: Path, text: list[str], numbers: list[str], few: tuple[str, ...], *,
          numbers_as_text: bool) -> pa.Table:
    """The columns as Arrow: text as strings or (``few``) dictionaries, numbers as floats.

    Ids are plain strings, not Arrow's CSV dictionaries: those get one
    dictionary per 1 MiB block, nearly as long as the block for ids, and
    unifying them costs more than :func:`_encode`'s one hash over the rows.
    """
    number_type = pa.string() if numbers_as_text else pa.float64()
    if path.suffix.lower() == ".csv":
        import pyarrow.csv as csv

        types = {**{n: DICTIONARY if n in few else pa.string() for n in text},
                 **{n: number_type for n in numbers}}
        options = csv.ConvertOptions(
            include_columns=[*text, *numbers], column_types=types, null_values=[""],
            strings_can_be_null=False, quoted_strings_can_be_null=False)
        try:
            # Arrow's thread pool parses on every core: 0.2-0.5 s more CPU on a 10M-row
            # log (memory faulted in per thread) than one thread, for a third less waiting.
            return csv.read_csv(path, read_options=csv.ReadOptions(block_size=CSV_BLOCK),
                                convert_options=options)
        except pa.ArrowInvalid as error:
            if numbers_as_text or "conversion error" not in str(error).lower():
                raise LogReadError(UNREADABLE.format(file=path.name, kind="CSV",
                                                     error=error)) from None
            raise
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=[*text, *numbers])
    if not numbers_as_text:
        for name in numbers:
            if not (pa.types.is_floating(table[name].type) or pa.types.is_integer(
                    table[name].type) or pa.types.is_null(table[name].type)):
                raise pa.ArrowInvalid(f"column {name} is not numeric")
    return table


def _encode(columns: list[pa.ChunkedArray]) -> Codes:
    """Stripped text codes of columns of any type, one value table for all of them: the
    columns' rows one after another (:func:`_parts` splits them).

    A null (Parquet) is an empty cell. Stripping, and merging values that
    strip alike, touch only the distinct values, never the rows.
    """
    if _is_dictionary(columns):
        return _from_dictionary(columns[0])
    chunks = [_as_text(chunk) for column in columns for chunk in column.chunks]
    words = packed_words(chunks)
    codes, distinct = _hashed(chunks) if words is None else word_codes(words)
    del words
    return _stripped(codes, distinct)


def _through_key(columns: list[pa.ChunkedArray], key: Codes) -> Codes | None:
    """The stripped text of each of ``key``'s values (one code per key code), when the
    columns' text is a function of ``key``, the codes of columns read alongside (rows of
    all columns one after another): :func:`audit.metrics.keyed_text.key_codes`, no hash
    over the rows. None otherwise (then :func:`_encode` codes them)."""
    if _is_dictionary(columns):
        return None
    chunks = [_as_text(chunk) for column in columns for chunk in column.chunks]
    coded = key_codes(key.codes, len(key.values), chunks)
    return None if coded is None else _stripped(*coded)


def _stripped(codes: np.ndarray, distinct: pa.Array) -> Codes:
    """Codes into distinct values (a null among them: the empty text), values stripped and
    those that strip alike merged."""
    stripped = pc.utf8_trim_whitespace(distinct.fill_null(""))
    if stripped.equals(distinct):  # no null, nothing to strip: the values stay distinct
        return Codes(codes, distinct)
    return _recode(codes, stripped)


def _is_dictionary(columns: list[pa.ChunkedArray]) -> bool:
    """One dictionary column: coded from its dictionary, not in order of first occurrence."""
    return len(columns) == 1 and pa.types.is_dictionary(columns[0].type)


def _hashed(chunks: list[pa.Array]) -> tuple[np.ndarray, pa.Array]:
    """Codes and distinct values (a null among them) of text of any length, by Arrow's hash."""
    encoded = pc.dictionary_encode(pa.chunked_array(chunks, pa.string()), null_encoding="encode")
    if not encoded.num_chunks:
        return np.zeros(0, dtype=np.int32), pa.array([], pa.string())
    combined = encoded.combine_chunks()  # the chunks share one dictionary: this copies codes
    codes = combined.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return codes, combined.dictionary


def _from_dictionary(column: pa.ChunkedArray) -> Codes:
    """Codes of an Arrow dictionary column: its chunks' dictionaries unified, then stripped."""
    if not column.num_chunks:
        return Codes(np.zeros(0, dtype=np.int32), pa.array([], pa.string()))
    unified = column.unify_dictionaries()  # one dictionary; indices copied into one array
    values = _as_text(unified.chunk(0).dictionary)
    codes = np.empty(len(column), dtype=np.int32)
    start = 0
    for chunk in unified.chunks:
        indices = chunk.indices.fill_null(len(values)) if chunk.null_count else chunk.indices
        codes[start:start + len(chunk)] = indices.to_numpy(zero_copy_only=False)
        start += len(chunk)
    values = pa.concat_arrays([values, pa.array([""], pa.string())])  # a null cell
    return _recode(codes, pc.utf8_trim_whitespace(values.fill_null("")))


def _as_text(chunk: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(chunk.type):
        chunk = chunk.dictionary_decode()
    return chunk if pa.types.is_string(chunk.type) else pc.cast(chunk, pa.string())


def _numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN when empty) and the rows that held a NaN value rather than an empty cell."""
    floats = pc.cast(column, pa.float64())
    value = floats.to_numpy()  # one copy: a null becomes NaN on the way
    return value, np.isnan(value) & ~np.asarray(pc.is_null(floats).to_numpy(), dtype=bool)


def _parse_numbers(text: Codes) -> tuple[np.ndarray, np.ndarray]:
    """Float of every row (NaN when empty or bad) and the rows that are not numbers."""
    good = pc.match_substring_regex(text.values, NUMBER, ignore_case=True)
    empty = pc.equal(text.values, "")
    parsed = pc.cast(pc.if_else(good, text.values, pa.scalar(None, pa.string())), pa.float64())
    value = parsed.fill_null(np.nan).to_numpy(zero_copy_only=False)
    bad = ~_value_mask(text.values, good) & ~_value_mask(text.values, empty)
    return value[text.codes], bad[text.codes]

"""Per-row answers about a text column, computed once per distinct value of a dictionary.

The score-log reader gives ids and trial kinds as dictionary-encoded columns
(:func:`audit.metrics.score_logs.read_score_logs`): ten million rows of a
hundred thousand ids. Asking Arrow per row would first decode every string
(about 150 MiB for ``trial_kind``, which its allocator keeps after the call);
asking once per distinct value and spreading the answers by the codes costs a
hundred thousand look-ups. Plain text columns are asked directly. Positions
of short text (ids of at most 8 bytes) are looked up as packed 64-bit words
(:mod:`.short_text`), which Arrow hashes several times faster than strings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.metrics.short_text import packed_words


def index_in(values: pa.ChunkedArray | pa.Array, value_set: pa.Array) -> np.ndarray:
    """Position of each text value in ``value_set`` (int32), -1 where absent or null."""
    set_words = _words(value_set)
    return _per_value(values, lambda text: _positions(text, value_set, set_words),
                      np.int32(-1))  # an int32 -1: a Python -1 would widen to int64


def mapped_in(values: pa.ChunkedArray | pa.Array, value_set: pa.Array, mapped: np.ndarray,
              absent: np.generic) -> np.ndarray:
    """``mapped[k]`` for each text value at position ``k`` of ``value_set``, ``absent`` (of
    ``mapped``'s type) where it is absent or null: :func:`index_in` and a gather in one
    pass over the rows, the gather made once per distinct value of a dictionary."""
    set_words = _words(value_set)

    def answer(text: pa.Array) -> np.ndarray:
        found = _positions(text, value_set, set_words)
        return np.where(found >= 0, mapped[found], absent)

    return _per_value(values, answer, absent)


def _positions(text: pa.Array, value_set: pa.Array, set_words: np.ndarray | None) -> np.ndarray:
    """Arrow's ``index_in``, on packed words when both sides are short text: packing is
    one-to-one on text without NUL bytes, so the positions are the same."""
    words = None if set_words is None else _words(text)
    if words is None:
        return _found(pc.index_in(text, value_set=value_set))
    return _found(pc.index_in(pa.array(words), value_set=pa.array(set_words)))


def _words(values: pa.Array) -> np.ndarray | None:
    """Packed words of short text with no null (a null is not the empty text here), else None."""
    if not isinstance(values, pa.Array) or values.null_count:
        return None
    return packed_words([values])


def equal_text(values: pa.ChunkedArray | pa.Array, text: str) -> np.ndarray:
    """Whether each value equals ``text`` (False where null), as a numpy mask."""
    return _per_value(values, lambda column: _mask(pc.equal(column, text)), np.False_)


def _per_value(values: pa.ChunkedArray | pa.Array, answer: Callable[[pa.Array], np.ndarray],
               at_null: np.generic) -> np.ndarray:
    """``answer`` for each row, asked once per distinct value of a dictionary chunk."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    parts = []
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            per_value = np.append(answer(chunk.dictionary), at_null)  # last entry: null rows
            codes = chunk.indices.fill_null(len(per_value) - 1) if chunk.null_count else (
                chunk.indices)
            parts.append(per_value[codes.to_numpy(zero_copy_only=False)])
        else:
            parts.append(answer(chunk))
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([np.zeros(0, dtype=np.asarray(at_null).dtype), *parts])


def _mask(hits: pa.Array) -> np.ndarray:
    return hits.fill_null(False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _found(positions: pa.Array) -> np.ndarray:
    return positions.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)

"""Codes of short text (at most 8 bytes a value) from its bytes read as one 64-bit integer.

Coding a 10-million-row id column means hashing every row. Arrow hashes a
string by its bytes and then compares them with the stored value: on a
10M-row log of 300,000 ids that costs about twice as much as hashing 64-bit
integers. Ids and subjects are often short ("s12345_1", "P0007"), so a value
of at most 8 bytes is read as the little-endian integer of its bytes, zero
padded, and the integers are coded by Arrow's ``dictionary_encode``. With no
NUL byte in the text, two values give the same integer only when their bytes
are equal, so the codes (first-occurrence order) and the distinct values are
exactly those of coding the text itself. Any other column (a longer value, a
NUL byte, a big-endian machine) returns None and the caller hashes the text.
"""

from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WIDTH = 8
#: ``KEEP[n]`` keeps the low ``n`` bytes of a 64-bit word (the first ``n`` of the text).
KEEP = np.array([(1 << (8 * n)) - 1 for n in range(WIDTH)] + [(1 << 64) - 1], dtype=np.uint64)


def packed_words(chunks: list[pa.Array]) -> np.ndarray | None:
    """Each row's text as one uint64 (its bytes, first lowest, zero padded; a null is 0), the
    chunks one after another; None when a value is long, holds a NUL byte or is not a string."""
    if sys.byteorder != "little":
        return None
    words = np.empty(sum(len(chunk) for chunk in chunks), dtype=np.uint64)
    start = 0
    for chunk in chunks:  # packed into one array: no chunk of it left behind on the heap
        if not _packed(chunk, words[start:start + len(chunk)]):
            return None
        start += len(chunk)
    return words


def word_codes(words: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """int32 codes of packed words (:func:`packed_words`) into their distinct values' text,
    in first-occurrence order (as :func:`pyarrow.compute.dictionary_encode` gives them; a
    null is the empty text).

    Examples
    --------
    >>> codes, values = word_codes(packed_words([pa.array(["ab", "c", "ab", None])]))
    >>> codes.tolist(), values.to_pylist()
    ([0, 1, 0, 2], ['ab', 'c', ''])
    >>> packed_words([pa.array(["a much longer id"])]) is None
    True
    """
    # As int64: Arrow hashes the same bits about a fifth faster than as uint64.
    encoded = pc.dictionary_encode(pa.array(words.view(np.int64)))
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return codes, _unpacked(encoded.dictionary.to_numpy(zero_copy_only=False).view(np.uint64))


def _packed(chunk: pa.Array, out: np.ndarray) -> bool:
    """Each value's bytes as one uint64 (first byte lowest) into ``out``; False if a value
    is too long or holds a NUL byte.

    Every byte position of the data starts an (unaligned) 8-byte word: each value's word is
    read where it starts, in Arrow's own buffer, and its bytes past the value masked off.
    Only the values starting in the last 7 bytes are read from a zero-padded copy.
    """
    if chunk.type != pa.string():
        return False
    _, offset_buffer, data_buffer = chunk.buffers()
    if offset_buffer is None:  # an empty chunk
        return True
    offsets = np.frombuffer(offset_buffer, dtype=np.int32, count=len(chunk) + 1,
                            offset=chunk.offset * 4)
    length = np.diff(offsets)
    if chunk.null_count:
        length[~np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool)] = 0
    start, end = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(data_buffer, dtype=np.uint8) if end > start else None
    if length.max(initial=0) > WIDTH or data is not None and not data[start:end].min():
        return False  # too long, or a NUL byte
    if data is None:
        out[:] = 0
        return True
    in_place = int(np.searchsorted(offsets[:-1], data.size - WIDTH, side="right"))
    if in_place:
        _read_words(data, offsets[:in_place], length[:in_place], out[:in_place])
    if in_place < len(chunk):
        first = int(offsets[in_place])
        tail = np.zeros(end - first + WIDTH, dtype=np.uint8)
        tail[:end - first] = data[first:end]
        _read_words(tail, offsets[in_place:-1] - first, length[in_place:], out[in_place:])
    return True


def _read_words(data: np.ndarray, starts: np.ndarray, length: np.ndarray, out: np.ndarray
                ) -> None:
    """The 8 bytes at each start (all within ``data``) as a uint64, past ``length`` zeroed."""
    windows = np.ndarray(shape=(data.size - WIDTH + 1,), dtype=np.uint64, buffer=data,
                         strides=(1,))
    np.bitwise_and(windows[starts], KEEP[length], out=out)


def _unpacked(words: np.ndarray) -> pa.Array:
    """The text of each packed word: its non-zero bytes (the text holds no NUL)."""
    data = words.view(np.uint8).reshape(-1, WIDTH)
    present = data != 0
    offsets = np.zeros(len(words) + 1, dtype=np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(words),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(data[present])])

"""Short text coded by its packed bytes gives exactly the codes of Arrow's hash of the text."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from audit.metrics.short_text import packed_words, word_codes

WORDS = [None, "", "a", "ab", " x", "é", "ééé", "12345678", "1234567", "zz€", "ab ", "b"]


def short_text_codes(chunks: list[pa.Array]) -> tuple[np.ndarray, pa.Array] | None:
    """What the reader does with short text: pack it, then code the words (None: not short)."""
    words = packed_words(chunks)
    return None if words is None else word_codes(words)


def arrow_codes(chunks: list[pa.Array]) -> tuple[list[int], list[str]]:
    """The independent answer: Arrow's dictionary encoding of the text, a null as ''."""
    encoded = pc.dictionary_encode(pa.chunked_array(chunks, pa.string()).fill_null(""))
    combined = encoded.combine_chunks()
    return combined.indices.to_pylist(), combined.dictionary.to_pylist()


@pytest.mark.parametrize("seed", range(40))
def test_codes_and_values_equal_arrows_on_random_sliced_chunks(seed):
    rng = np.random.default_rng(seed)
    values = [WORDS[i] for i in rng.integers(0, len(WORDS), rng.integers(0, 60))]
    whole = pa.array(values, pa.string())
    a, b = sorted(rng.integers(0, len(whole) + 1, 2))
    chunks = [whole.slice(0, a), whole.slice(a, b - a), whole.slice(b)]  # offsets not at 0
    codes, distinct = short_text_codes(chunks)
    assert codes.dtype == np.int32
    assert (codes.tolist(), distinct.to_pylist()) == arrow_codes(chunks)


def test_a_null_with_bytes_behind_it_is_empty():
    """A null slot may span bytes (Arrow allows it): they are not its text."""
    data = pa.py_buffer(b"abcd")
    offsets = pa.py_buffer(np.array([0, 2, 4], dtype=np.int32))
    validity = pa.py_buffer(np.packbits([1, 0], bitorder="little"))
    chunk = pa.Array.from_buffers(pa.string(), 2, [validity, offsets, data], null_count=1)
    codes, distinct = short_text_codes([chunk])
    assert (codes.tolist(), distinct.to_pylist()) == ([0, 1], ["ab", ""])


@pytest.mark.parametrize("value", ["123456789", "a\x00b", "\x00"])
def test_long_text_or_a_nul_byte_is_left_to_the_text_hash(value):
    assert short_text_codes([pa.array(["short", value])]) is None


def test_no_rows():
    codes, distinct = short_text_codes([pa.array([], pa.string())])
    assert codes.size == 0 and len(distinct) == 0


@pytest.mark.parametrize("seed", range(40))
def test_ascii_chunks_without_nulls_packed_as_any_other(seed):
    """Chunks of short ASCII text (the common ids) take a faster path: same codes; a longer
    value, a NUL byte or a non-ASCII character in one chunk leaves it to the general one."""
    rng = np.random.default_rng(seed)
    ascii_words = ["", "a", "ab", " x", "12345678", "1234567", "ab ", "b", "zzzzzzz"]
    odd = ["123456789", "é", "\x00", "a\x00"][seed % 4]
    values = [ascii_words[i] for i in rng.integers(0, len(ascii_words), rng.integers(1, 60))]
    whole = pa.array(values + ([odd] if seed % 2 else []), pa.string())
    a = int(rng.integers(0, len(whole) + 1))
    chunks = [whole.slice(0, a), whole.slice(a)]  # offsets not at 0
    coded = short_text_codes(chunks)
    if seed % 2 and odd != "é":
        assert coded is None
    else:
        assert (coded[0].tolist(), coded[1].to_pylist()) == arrow_codes(chunks)

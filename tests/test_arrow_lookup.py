"""Per-value look-ups against Arrow asked row by row on the decoded text."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from audit.metrics.arrow_lookup import equal_text, index_in

SHORT = ["", "a", "b", "ab", "12345678", " a", "é", "zz€"]
ODD = ["123456789", "a\x00", None]  # long, a NUL byte, a null: looked up as text


def random_column(rng: np.random.Generator, words: list) -> pa.ChunkedArray:
    """Plain or dictionary chunks (with or without nulls), offsets not at 0."""
    values = pa.array([words[i] for i in rng.integers(0, len(words), rng.integers(0, 40))],
                      pa.string())
    a = int(rng.integers(0, len(values) + 1))
    chunks = [values.slice(0, a), values.slice(a)]
    if rng.random() < 0.6:
        chunks = [chunk.dictionary_encode() for chunk in chunks]
    return pa.chunked_array(chunks, chunks[0].type)


def row_by_row(column: pa.ChunkedArray, value_set: pa.Array) -> list[int]:
    """The independent answer: Arrow's index_in on the decoded text, a null as -1."""
    text = column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
    return pc.index_in(text, value_set=value_set).fill_null(-1).to_pylist()


@pytest.mark.parametrize("seed", range(200))
def test_index_in_equals_arrows_on_the_text(seed):
    rng = np.random.default_rng(seed)
    words = SHORT + (ODD[:int(rng.integers(0, 4))] if seed % 3 else [])
    column = random_column(rng, words)
    texts = [w for w in words if w is not None]  # value sets are ids: never null
    value_set = pa.array([texts[i] for i in rng.integers(0, len(texts), rng.integers(0, 9))],
                         pa.string())
    found = index_in(column, value_set)
    assert found.dtype == np.int32
    assert found.tolist() == row_by_row(column, value_set)


@pytest.mark.parametrize("seed", range(50))
def test_equal_text_equals_arrows_on_the_text(seed):
    rng = np.random.default_rng(seed)
    column = random_column(rng, SHORT + ODD)
    word = str(rng.choice(SHORT))
    text = column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
    assert equal_text(column, word).tolist() == pc.equal(text, word).fill_null(False).to_pylist()

"""Dictionary columns (a CSV's few-valued columns, Parquet dictionaries) coded as their text."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from audit.metrics import log_reading

WORDS = ["true", "false", " true", "", "verification", "1"]


@pytest.mark.parametrize("seed", range(30))
def test_chunks_with_their_own_dictionaries_and_nulls_read_as_the_stripped_text(seed):
    rng = np.random.default_rng(seed)
    chunks, rows = [], []
    narrow = seed % 2  # int8 indices, as a Parquet file may give
    for _ in range(int(rng.integers(1, 4))):
        text = [None if rng.random() < 0.2 else str(rng.choice(WORDS))
                for _ in range(int(rng.integers(0, 12)))]
        chunk = pa.array(text, pa.string()).dictionary_encode()  # each its own dictionary
        if narrow:
            chunk = pa.DictionaryArray.from_arrays(chunk.indices.cast(pa.int8()),
                                                   chunk.dictionary)
        chunks.append(chunk)
        rows += ["" if t is None else t.strip() for t in text]
    column = pa.chunked_array(chunks, pa.dictionary(chunks[0].type.index_type, pa.string()))
    coded = log_reading._encode([column])
    assert coded.codes.dtype == np.int32
    values = coded.values.to_pylist()
    assert len(set(values)) == len(values)  # variants that strip alike are merged
    assert [values[c] for c in coded.codes] == rows

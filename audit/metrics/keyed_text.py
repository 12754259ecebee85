"""Text coded through the codes of another column it depends on: subjects through image ids.

A score log names each trial's images and their people: ``probe_id`` and
``probe_subject``, ``reference_id`` and ``reference_subject``. When every
image belongs to one person (as it must: :mod:`.score_logs` reports an image
with two), the subject of a row is a function of its image, so coding the
subjects needs no hash over their ten million rows: their packed words
(:mod:`.short_text`) are spread onto the image codes, checked against every
row, and only the few hundred thousand images' words are coded.

The codes are exactly those of coding the subjects themselves. Image codes
number the images in order of first occurrence, so the first image of each
person comes with that person's first row: coding the images' words in code
order numbers the people in order of first occurrence too.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from audit.metrics.short_text import packed_words, word_codes

def key_codes(key: np.ndarray, n_keys: int, chunks: list[pa.Array]
              ) -> tuple[np.ndarray, pa.Array] | None:
    """The code of each key's text (int32, one per key) and the distinct values, from text
    ``chunks`` (rows one after another); None when the text is not a function of ``key``
    or is not short (:func:`audit.metrics.short_text.packed_words`).

    ``key`` holds a code per row in ``[0, n_keys)``, every code occurring, numbered in
    order of first occurrence (as :func:`pyarrow.compute.dictionary_encode` numbers);
    ``codes[key]`` are then the codes :func:`audit.metrics.short_text.word_codes` gives
    the rows' text. Each chunk is packed and checked on its own, so no packed copy of all
    the rows is made.

    Examples
    --------
    >>> codes, values = key_codes(np.array([0, 1, 2, 1]), 3, [pa.array(["A", "B", "A", "B"])])
    >>> codes[[0, 1, 2, 1]].tolist(), values.to_pylist()
    ([0, 1, 0, 1], ['A', 'B'])
    >>> key_codes(np.array([0, 1, 1, 0]), 2, [pa.array(["A", "B", "A", "B"])]) is None
    True
    """
    if len(key) != sum(len(chunk) for chunk in chunks):
        return None
    return _per_key(key, n_keys, (packed_words([chunk]) for chunk in chunks))


def _per_key(key: np.ndarray, n_keys: int, blocks: Iterable[np.ndarray | None]
             ) -> tuple[np.ndarray, pa.Array] | None:
    """Codes of each key's word and the distinct values, from the words of consecutive
    blocks of rows; None when a block is None (not short text) or a key has two words.

    A key's word is taken from the block where the key first occurs (its code is then
    at least the count of codes seen before: codes number first occurrences) and every
    row is compared with it, in its block, while the block is in cache.
    """
    if not len(key):
        return None
    per_key = np.zeros(n_keys, dtype=np.uint64)
    start = seen = 0
    for words in blocks:
        if words is None:
            return None
        block = key[start:start + len(words)]
        start += len(words)
        if not len(block):
            continue
        first = block >= seen  # rows of keys not in earlier blocks
        per_key[block[first]] = words[first]
        if not np.array_equal(per_key[block], words):
            return None
        seen = max(seen, int(block.max()) + 1)
    return word_codes(per_key)

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

import numpy as np
import pyarrow as pa

from audit.metrics.short_text import word_codes

#: Rows compared at a time: a 10M-row gather of 64-bit words would be 80 MB of fresh pages.
BLOCK = 1 << 20


def through_key(key: np.ndarray, n_keys: int, words: np.ndarray
                ) -> tuple[np.ndarray, pa.Array] | None:
    """int32 codes and distinct values of packed ``words``, or None when they are not a
    function of ``key``.

    Parameters
    ----------
    key : int array
        A code per row in ``[0, n_keys)``; every code occurs, numbered in order of
        first occurrence (as :func:`pyarrow.compute.dictionary_encode` numbers).
    n_keys : int
    words : uint64 array
        The text of each row, packed (:func:`audit.metrics.short_text.packed_words`).

    Returns
    -------
    codes, values : int32 array and string array, or None
        As :func:`audit.metrics.short_text.word_codes` gives for ``words``.

    Examples
    --------
    >>> from audit.metrics.short_text import packed_words
    >>> words = packed_words([pa.array(["A", "B", "A", "B"])])
    >>> codes, values = through_key(np.array([0, 1, 2, 1]), 3, words)
    >>> codes.tolist(), values.to_pylist()
    ([0, 1, 0, 1], ['A', 'B'])
    >>> through_key(np.array([0, 1, 1, 0]), 2, words) is None  # image 1 is B and A
    True
    """
    if len(key) != len(words) or not len(key):
        return None
    per_key = np.zeros(n_keys, dtype=np.uint64)
    per_key[key] = words
    for start in range(0, len(key), BLOCK):
        if not np.array_equal(per_key[key[start:start + BLOCK]], words[start:start + BLOCK]):
            return None
    codes, values = word_codes(per_key)
    return codes[key], values

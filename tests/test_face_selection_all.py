"""Face selection ``all`` through the real pipeline: one faces row per face.

Two LFW faces side by side make a frame with two people. With ``all`` it has
a row per face, and each row is, column for column, the row ``centre`` or
``largest`` gives when it picks that face (the cache key aside): ``all``
changes which faces are embedded, not how.
"""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pyarrow as pa
import pytest

from audit.pipeline.config import PipelineConfig, config_key
from audit.pipeline.run import embed_manifest

pytestmark = pytest.mark.integration


def _without_key(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "config_key"}


def test_every_face_gets_its_own_row(lfw_root, lfw_rows, weights_home, tmp_path):
    first, second = lfw_rows(2, 1)
    left, right = (cv2.imread(str(lfw_root / r["path"])) for r in (first, second))
    cv2.imwrite(str(tmp_path / "pair.png"), np.hstack([left, right]))
    (tmp_path / "one").mkdir()
    shutil.copyfile(lfw_root / first["path"], tmp_path / "one" / "single.jpg")
    manifest = pa.Table.from_pylist([
        {"image_id": "pair", "path": "pair.png", "subject_id": "x", "dataset": "toy"},
        {"image_id": "single", "path": "one/single.jpg", "subject_id": "y", "dataset": "toy"},
    ])
    runs = {}
    for selection in ("all", "centre", "largest"):
        faces, _ = embed_manifest(manifest, tmp_path, PipelineConfig(face_selection=selection),
                                  cache_dir=tmp_path / "cache")
        runs[selection] = faces.to_pylist()
    every = runs["all"]
    pair = [row for row in every if row["image_id"] == "pair"]
    assert len(pair) == pair[0]["n_faces"] >= 2
    assert [row["face_index"] for row in pair] == list(range(len(pair)))
    assert all(row["status"] == "ok" and row["face_boxes"] == pair[0]["face_boxes"]
               for row in pair)
    assert len({tuple(row["embedding"]) for row in pair}) == len(pair)
    for selection in ("centre", "largest"):
        chosen = {row["image_id"]: row for row in runs[selection]}
        used = pair[chosen["pair"]["face_index"]]
        assert _without_key(used) == _without_key(chosen["pair"])
        single = [row for row in every if row["image_id"] == "single"]
        assert [_without_key(r) for r in single] == [_without_key(chosen["single"])]
    assert config_key(PipelineConfig(face_selection="all")) != config_key(PipelineConfig())

    again, stats = embed_manifest(manifest, tmp_path, PipelineConfig(face_selection="all"),
                                  cache_dir=tmp_path / "cache")
    assert stats.n_computed == 0 and again.to_pylist() == every  # the cache keeps every face

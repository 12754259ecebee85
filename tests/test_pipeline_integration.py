"""The real deepface pipeline on a small real LFW subset (tens of people).

Checks what the audit relies on: every image gets a status, embeddings have
the model's size, same-person pairs score higher than different-person pairs,
a second run computes nothing, and a killed run resumes without redoing work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audit.pipeline.config import PipelineConfig
from audit.pipeline.run import embed_manifest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def subset_run(lfw_root, lfw_rows, weights_home, tmp_path_factory):
    manifest = pa.Table.from_pylist(lfw_rows(24, 3))
    # one missing file and one file that is not an image, as rows not crashes
    broken = tmp_path_factory.mktemp("broken")
    root = broken / "root"
    root.mkdir()
    (root / "images").symlink_to(lfw_root / "images")
    (root / "junk.jpg").write_bytes(b"this is not a jpeg")
    extra = pa.Table.from_pylist([
        {"image_id": "gone", "path": "images/Nobody/Nobody_0001.jpg", "subject_id": "Nobody",
         "dataset": "lfw"},
        {"image_id": "junk", "path": "junk.jpg", "subject_id": "Junk", "dataset": "lfw"},
    ])
    manifest = pa.concat_tables([manifest, extra])
    cache_dir = tmp_path_factory.mktemp("cache")
    faces, stats = embed_manifest(manifest, root, PipelineConfig(), cache_dir=cache_dir)
    return manifest, root, cache_dir, faces, stats


def test_every_image_gets_a_status(subset_run):
    manifest, _, _, faces, stats = subset_run
    frame = faces.to_pandas().set_index("image_id")
    assert list(frame.index) == manifest.column("image_id").to_pylist()
    assert frame.loc["gone", "status"] == "missing"
    assert frame.loc["junk", "status"] == "unreadable"
    real = frame.drop(index=["gone", "junk"])
    assert (real.status == "ok").mean() > 0.9
    assert set(real.status) <= {"ok", "no_face"}
    assert stats.n_missing == 1 and stats.n_computed == len(frame) - 1


def test_ok_rows_have_128_d_embeddings_and_quality_features(subset_run):
    frame = subset_run[3].to_pandas()
    ok = frame[frame.status == "ok"]
    embeddings = np.stack(ok.embedding.to_numpy())
    assert embeddings.shape == (len(ok), 128) and embeddings.dtype == np.float32
    assert np.isfinite(embeddings).all()
    assert (ok.face_height_px > 20).all() and ok.brightness.between(0, 255).all()
    assert (ok.sharpness > 0).all() and ok.yaw_deg.abs().lt(90).all()
    assert frame[frame.status != "ok"].embedding.isna().all()


def test_mated_pairs_score_higher_than_non_mated(subset_run):
    manifest, _, _, faces, _ = subset_run
    frame = faces.to_pandas().merge(manifest.to_pandas()[["image_id", "subject_id"]])
    ok = frame[frame.status == "ok"]
    vectors = np.stack(ok.embedding.to_numpy()).astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ vectors.T
    same = ok.subject_id.to_numpy()[:, None] == ok.subject_id.to_numpy()[None, :]
    upper = np.triu(np.ones_like(same), k=1).astype(bool)
    mated, nonmated = similarity[same & upper], similarity[~same & upper]
    assert mated.mean() > nonmated.mean() + 0.05
    # ranking quality: most mated pairs beat most non-mated ones
    auc = (mated[:, None] > nonmated[None, :]).mean()
    assert auc > 0.95


def test_second_run_computes_nothing_and_gives_the_same_rows(subset_run):
    manifest, root, cache_dir, faces, _ = subset_run
    again, stats = embed_manifest(manifest, root, PipelineConfig(), cache_dir=cache_dir)
    assert stats.n_computed == 0
    assert again.equals(faces)


def test_killed_run_resumes_without_redoing_finished_batches(lfw_root, lfw_rows, weights_home,
                                                             tmp_path):
    """Kill a real run (SIGKILL) after some batches, then finish it."""
    manifest = pa.Table.from_pylist(lfw_rows(16, 3))
    manifest_path = tmp_path / "manifest.parquet"
    pq.write_table(manifest, manifest_path)
    cache_dir = tmp_path / "cache"
    script = (
        "import sys, pyarrow.parquet as pq; from pathlib import Path\n"
        "from audit.pipeline.run import embed_manifest\n"
        "from audit.pipeline.config import PipelineConfig\n"
        "m = pq.read_table(sys.argv[1])\n"
        "embed_manifest(m, Path(sys.argv[2]), PipelineConfig(), cache_dir=Path(sys.argv[3]),"
        " batch_size=4)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(manifest_path), str(lfw_root),
                              str(cache_dir)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(cache_dir.glob("*/part-*.parquet"))) < 3:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    parts = list(cache_dir.glob("*/part-*.parquet"))
    assert len(parts) >= 3, "the child wrote no batches before it was killed"
    done = sum(pq.read_table(p).num_rows for p in parts)
    assert done < manifest.num_rows, "killed too late to test resuming"

    faces, stats = embed_manifest(manifest, lfw_root, PipelineConfig(), cache_dir=cache_dir,
                                  batch_size=4)
    assert stats.n_cached == done
    assert stats.n_computed == manifest.num_rows - done
    assert faces.num_rows == manifest.num_rows
    fresh, _ = embed_manifest(manifest, lfw_root, PipelineConfig(), cache_dir=tmp_path / "new")
    assert faces.drop_columns(["embedding"]).equals(fresh.drop_columns(["embedding"]))
    for a, b in zip(faces.column("embedding").to_pylist(), fresh.column("embedding").to_pylist(),
                    strict=True):
        assert (a is None and b is None) or np.array_equal(a, b)


def test_two_workers_give_the_same_rows_as_one(subset_run, tmp_path):
    manifest, root, _, faces, _ = subset_run
    parallel, stats = embed_manifest(manifest, root, PipelineConfig(), cache_dir=tmp_path,
                                     workers=2, batch_size=8)
    assert stats.n_computed == manifest.num_rows - 1
    assert parallel.equals(faces)

"""The real pipeline on Dask LocalClusters, on a small real LFW subset.

What the scale-out relies on: the faces table is the same, bit for bit, as
the local executor's; models load once per worker; a worker killed mid-run
loses nothing and doubles nothing; a killed client resumes without redoing
finished batches; a worker without the weights stops the run in seconds,
named; a lost scheduler is one error and the cache keeps what finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import distributed
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audit.pipeline import workers
from audit.pipeline.cache import FacesCache
from audit.pipeline.config import PipelineConfig, config_key
from audit.execution import cluster as clusters
from audit.execution.choice import ExecutorError
from audit.pipeline.run import embed_manifest
from audit.pipeline.weights import WeightsError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def subset(lfw_root, lfw_rows, tmp_path_factory):
    """12 real images (4 people x 3), one missing file and one file that is not an image."""
    rows = lfw_rows(4, 3)
    root = tmp_path_factory.mktemp("data") / "root"
    root.mkdir()
    (root / "images").symlink_to(lfw_root / "images")
    (root / "junk.jpg").write_bytes(b"this is not a jpeg")
    rows += [
        {"image_id": "gone", "path": "images/Nobody/Nobody_0001.jpg", "subject_id": "Nobody",
         "dataset": "lfw"},
        {"image_id": "junk", "path": "junk.jpg", "subject_id": "Junk", "dataset": "lfw"},
    ]
    return pa.Table.from_pylist(rows), root


@pytest.fixture(scope="module")
def reference(subset, weights_home, tmp_path_factory):
    """The local executor's faces table (in this process)."""
    manifest, root = subset
    faces, stats = embed_manifest(manifest, root, PipelineConfig(),
                                  cache_dir=tmp_path_factory.mktemp("cache"), executor="local")
    assert stats.n_computed == manifest.num_rows - 1
    return faces


@pytest.fixture(scope="module")
def cluster(weights_home):
    """A LocalCluster of 2 spawned worker processes, 1 thread each, shared by tests."""
    with clusters.kept_environ(), clusters.start_local_cluster(2) as local, \
            distributed.Client(local) as client:
        yield client


def _counting():
    counts = []
    return counts, counts.append


def test_killed_worker_loses_nothing_and_doubles_nothing(subset, reference, weights_home,
                                                         tmp_path, monkeypatch):
    """dask-local with 2 worker processes; SIGKILL one while it runs a batch.

    First in this module on purpose: it runs before the shared ``cluster``
    fixture opens a second synchronous Client in this process, which made
    distributed's event-loop handling flaky around the killed worker.
    """
    manifest, root = subset
    started, counts, killed = [], [], []
    omp = os.environ.get("OMP_NUM_THREADS")
    start = clusters.start_local_cluster
    monkeypatch.setattr(clusters, "start_local_cluster",
                        lambda n: started.append(start(n)) or started[-1])

    def on_batch(n):
        counts.append(n)
        if killed:
            return
        local = started[0]  # the cluster dask-local started
        busy = {a for a, w in local.scheduler.workers.items() if w.processing}
        nanny = next(n for n in local.workers.values() if n.worker_address in busy)
        os.kill(nanny.process.pid, signal.SIGKILL)
        killed.append(nanny.worker_address)

    faces, stats = embed_manifest(manifest, root, PipelineConfig(), cache_dir=tmp_path,
                                  batch_size=1, executor="dask-local", workers=2,
                                  on_batch=on_batch)
    assert killed, "no worker was killed"
    assert os.environ.get("OMP_NUM_THREADS") == omp  # the nanny's variables are undone
    assert started[0].status.name == "closed"  # dask-local stopped its cluster
    assert faces.equals(reference)
    assert faces.column("image_id").to_pylist() == manifest.column("image_id").to_pylist()
    assert sum(counts) == len(counts) == stats.n_computed == manifest.num_rows - 1
    cached = FacesCache(tmp_path, config_key(PipelineConfig())).load()
    assert cached.num_rows == len(set(cached.column("content_hash").to_pylist())) == 13


def test_dask_gives_the_local_faces_table_bit_for_bit(subset, reference, cluster, tmp_path):
    manifest, root = subset
    counts, on_batch = _counting()
    faces, stats = embed_manifest(manifest, root, PipelineConfig(), cache_dir=tmp_path / "a",
                                  batch_size=2, executor=cluster, on_batch=on_batch)
    assert faces.equals(reference)  # embeddings compared as float32, bit for bit
    assert stats.n_computed == sum(counts) == manifest.num_rows - 1
    assert stats.executor.startswith("Dask cluster at tcp://")
    # models loaded once per worker: 7 batches, one build in each worker process
    key = config_key(PipelineConfig())
    builds = cluster.run(lambda: workers.BUILDS.get(key, 0))
    assert sorted(builds.values()) == [1, 1]
    # the same through an fsspec URL root, read by the workers
    faces, _ = embed_manifest(manifest, root.as_uri(), PipelineConfig(),
                              cache_dir=tmp_path / "b", batch_size=4, executor=cluster)
    assert faces.equals(reference)


def test_killed_client_resumes_without_recomputing(subset, reference, cluster, tmp_path):
    manifest, root = subset
    manifest_path = tmp_path / "manifest.parquet"
    pq.write_table(manifest, manifest_path)
    cache_dir = tmp_path / "cache"
    address = cluster.scheduler.address
    script = (
        "import sys, pyarrow.parquet as pq; from pathlib import Path\n"
        "from audit.pipeline.run import embed_manifest\n"
        "from audit.pipeline.config import PipelineConfig\n"
        "embed_manifest(pq.read_table(sys.argv[1]), Path(sys.argv[2]), PipelineConfig(),"
        " cache_dir=Path(sys.argv[3]), batch_size=1, executor=sys.argv[4])\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(manifest_path), str(root),
                              str(cache_dir), address], start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(list(cache_dir.glob("*/part-*.parquet"))) < 2:
        time.sleep(0.02)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    parts = list(cache_dir.glob("*/part-*.parquet"))
    assert len(parts) >= 2, "the client wrote no batches before it was killed"
    done = sum(pq.read_table(p).num_rows for p in parts)
    assert done < manifest.num_rows - 1, "killed too late to test resuming"

    counts, on_batch = _counting()
    faces, stats = embed_manifest(manifest, root, PipelineConfig(), cache_dir=cache_dir,
                                  batch_size=1, executor=address, on_batch=on_batch)
    assert stats.n_cached == done
    assert stats.n_computed == sum(counts) == manifest.num_rows - 1 - done
    assert faces.equals(reference)


def test_worker_without_weights_stops_the_run_in_seconds(weights_home, tmp_path, monkeypatch):
    """One worker sees the weights, the other's DEEPFACE_HOME is empty: named, before any work."""
    good, bad = tmp_path / "good", tmp_path / "bad"
    (good / ".deepface" / "weights").mkdir(parents=True)
    (good / ".deepface" / "weights" / "facenet_weights.h5").write_bytes(b"stand-in")
    bad.mkdir()
    monkeypatch.setenv("DEEPFACE_HOME", str(good))
    image = tmp_path / "a.jpg"
    image.write_bytes(b"x")
    manifest = pa.Table.from_pylist([{"image_id": "a", "path": "a.jpg", "subject_id": "s",
                                      "dataset": "toy"}])
    workers = {
        "good": {"cls": distributed.Nanny, "options": {"nthreads": 1}},
        "bad": {"cls": distributed.Nanny, "options": {"nthreads": 1,
                                                      "env": {"DEEPFACE_HOME": str(bad)}}},
    }
    scheduler = {"cls": distributed.Scheduler, "options": {"dashboard_address": None}}
    with clusters.kept_environ(), \
            distributed.SpecCluster(workers=workers, scheduler=scheduler) as spec, \
            distributed.Client(spec) as client:
        client.wait_for_workers(2)
        addresses = {name: w.worker_address for name, w in spec.workers.items()}
        start = time.monotonic()
        with pytest.raises(WeightsError) as caught:
            embed_manifest(manifest, tmp_path, PipelineConfig(model="Facenet", detector="opencv"),
                           cache_dir=tmp_path / "cache", executor=client)
        assert time.monotonic() - start < 10
    message = str(caught.value)
    assert f"Dask worker {addresses['bad']}" in message and "facenet_weights.h5" in message
    assert str(bad) in message and addresses["good"] not in message
    assert not list((tmp_path / "cache").glob("*/part-*.parquet"))


def _dask_command(*args: str, log: Path) -> subprocess.Popen:
    """``dask scheduler`` or ``dask worker`` in its own process group, output to ``log``."""
    dask = Path(sys.executable).with_name("dask")
    with log.open("wb") as out:
        return subprocess.Popen([str(dask), *args], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def test_lost_scheduler_is_one_error_and_the_cache_keeps_what_finished(subset, weights_home,
                                                                        tmp_path):
    """A `dask scheduler` process, SIGKILLed once the first batch is cached."""
    manifest, root = subset
    file = tmp_path / "scheduler.json"
    scheduler = _dask_command("scheduler", "--host", "127.0.0.1", "--port", "0",
                              "--no-dashboard", "--scheduler-file", str(file),
                              log=tmp_path / "scheduler.log")
    worker = None
    try:
        deadline = time.monotonic() + 30
        while not file.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        worker = _dask_command("worker", "--scheduler-file", str(file), "--nthreads", "1",
                               "--no-dashboard", log=tmp_path / "worker.log")
        address = json.loads(file.read_text())["address"]

        def on_batch(n):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(scheduler.pid, signal.SIGKILL)

        with pytest.raises(ExecutorError, match=f"lost the Dask scheduler at {address}") as caught:
            embed_manifest(manifest, root, PipelineConfig(), cache_dir=tmp_path / "cache",
                           batch_size=2, executor=address, on_batch=on_batch)
    finally:
        for process in (scheduler, worker):
            if process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    assert "\n" not in str(caught.value) and "run again" in str(caught.value)
    cached = FacesCache(tmp_path / "cache", config_key(PipelineConfig())).load()
    assert 2 <= cached.num_rows < manifest.num_rows - 1

"""Executor choice, worker checks and the Dask path of 1:N search (no deepface needed)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from toy_tables import make_tables

from audit.matching.identification import identification_scores, search_watchlist
from audit.pipeline import executors, workers
from audit.pipeline.config import PipelineConfig, config_key, software_versions
from audit.execution import cluster as clusters
from audit.execution.choice import ExecutorChoice, ExecutorError, parse_executor
from audit.pipeline.run import image_locations
from audit.schema import FACES


@pytest.mark.parametrize(("text", "workers", "expected"), [
    ("local", 1, ExecutorChoice("local", 1)),
    ("local", 4, ExecutorChoice("local", 4)),
    (" dask-local ", 2, ExecutorChoice("dask-local", 2)),
    ("tcp://10.0.0.5:8786", 1, ExecutorChoice("dask", 1, "tcp://10.0.0.5:8786")),
    ("tls://scheduler:8786", 3, ExecutorChoice("dask", 3, "tls://scheduler:8786")),
])
def test_executor_strings(text, workers, expected):
    assert parse_executor(text, workers) == expected


@pytest.mark.parametrize("text", ["", "dask", "Local", "http://host:8786", "tcp://", "host:8786"])
def test_bad_executor_strings_say_what_is_accepted(text):
    with pytest.raises(ExecutorError, match="'local', 'dask-local' or a Dask scheduler address"):
        parse_executor(text)


def test_workers_must_be_positive():
    with pytest.raises(ExecutorError, match="at least 1"):
        parse_executor("local", 0)


def test_unreachable_scheduler_is_one_line(monkeypatch):
    monkeypatch.setattr(clusters, "CONNECT_TIMEOUT", 1)
    unreachable = r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9 \("
    with pytest.raises(ExecutorError, match=unreachable) as caught:
        with executors.open_executor(parse_executor("tcp://127.0.0.1:9")):
            pass
    assert "\n" not in str(caught.value)


def test_scheduler_client_only_for_addresses():
    with clusters.scheduler_client(parse_executor("local")) as client:
        assert client is None
    with clusters.scheduler_client(parse_executor("dask-local")) as client:
        assert client is None


def test_a_typo_in_the_executor_fails_before_any_work(tmp_path):
    from audit.pipeline.run import embed_manifest

    manifest = pa.Table.from_pylist([{"image_id": "a", "path": "a.jpg", "subject_id": "s",
                                      "dataset": "toy"}])
    with pytest.raises(ExecutorError, match="'dask' is not one of"):
        embed_manifest(manifest, tmp_path, PipelineConfig(), cache_dir=tmp_path / "cache",
                       executor="dask")
    assert not (tmp_path / "cache").exists()


def test_a_failed_batch_is_error_rows_not_a_failed_run():
    from audit.pipeline.embed import ImageTask, embed_batch

    class Broken:
        key = "k"

        def run(self, tasks):
            raise MemoryError("model ran out of memory")

    tasks = [ImageTask("a", "h1", "/x/a.jpg"), ImageTask("b", "h2", "/x/b.jpg")]
    rows = embed_batch(Broken(), tasks)
    assert [(r["image_id"], r["content_hash"], r["status"]) for r in rows] == [
        ("a", "h1", "error"), ("b", "h2", "error")]
    assert rows[0]["message"] == "batch failed: MemoryError: model ran out of memory"


def test_worker_check_names_missing_weights_versions_and_unseen_data(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    config = PipelineConfig(model="Facenet", detector="opencv")
    versions = dict(software_versions(), numpy="0.0.0-client")
    problems = dict(workers.worker_problems(config, "not-the-key", versions,
                                              str(tmp_path / "nowhere.jpg")))
    assert set(problems) == {"weights", "versions", "data"}
    assert "facenet_weights.h5" in problems["weights"] and str(tmp_path) in problems["weights"]
    assert "numpy" in problems["versions"] and "0.0.0-client on the client" in problems["versions"]
    assert "nowhere.jpg" in problems["data"]


def test_worker_check_passes_when_the_worker_matches(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))  # Dlib files seeded from their package
    config = PipelineConfig()
    image = tmp_path / "a.jpg"
    image.write_bytes(b"x")
    assert workers.worker_problems(config, config_key(config), software_versions(),
                                     image.as_uri()) == []


def test_url_roots_keep_paths_inside_the_root():
    from audit.datasets import UnsafePathError

    assert image_locations("s3://bucket/lfw/", ["images/a.jpg"]) == ["s3://bucket/lfw/images/a.jpg"]
    for bad in ("../secret.jpg", "/etc/passwd", "images/../../x.jpg"):
        with pytest.raises(UnsafePathError):
            image_locations("s3://bucket/lfw", [bad])


# -- 1:N search as Dask tasks -----------------------------------------------------

@pytest.fixture(scope="module")
def small_cluster():
    """Two worker processes (spawned), one thread each, as for the pipeline."""
    import distributed

    with clusters.kept_environ(), clusters.start_local_cluster(2) as cluster, \
            distributed.Client(cluster) as client:
        yield client


@pytest.mark.parametrize("distance", ["cosine", "euclidean_l2"])
@pytest.mark.parametrize("chunk_size", [7, None])
def test_search_on_dask_equals_single_machine(small_cluster, distance, chunk_size):
    rng = np.random.default_rng(3)
    watchlist = rng.normal(size=(40, 16)).astype(np.float32)
    probes = rng.normal(size=(101, 16)).astype(np.float32)
    probes[::5] = watchlist[rng.integers(0, 40, size=21)]  # exact ties with entries
    true_entry = rng.integers(-1, 40, size=101)
    here = search_watchlist(probes, watchlist, true_entry=true_entry, distance=distance,
                            chunk_size=chunk_size)
    there = search_watchlist(probes, watchlist, true_entry=true_entry, distance=distance,
                             chunk_size=chunk_size, client=small_cluster)
    for name in ("best_score", "best_entry", "rank"):
        assert np.array_equal(getattr(here, name), getattr(there, name)), name
    assert there.best_score.dtype == np.float32


def test_search_on_dask_is_bit_identical_at_blas_sizes(small_cluster):
    """Large enough that OpenBLAS's thread count changes float32 bits (Dask workers run
    1 BLAS thread by default; the tasks use the client's count)."""
    rng = np.random.default_rng(3)
    watchlist = rng.normal(size=(1000, 128)).astype(np.float32)
    probes = rng.normal(size=(4000, 128)).astype(np.float32)
    true_entry = rng.integers(-1, 1000, size=4000)
    here = search_watchlist(probes, watchlist, true_entry=true_entry, chunk_size=1000)
    there = search_watchlist(probes, watchlist, true_entry=true_entry, chunk_size=1000,
                             client=small_cluster)
    assert np.array_equal(here.best_score, there.best_score)
    assert np.array_equal(here.rank, there.rank)


def test_identification_table_on_dask_is_identical(small_cluster):
    rng = np.random.default_rng(5)
    subjects = np.repeat(np.arange(30), 3).astype(str)
    centres = rng.normal(size=(30, 8))
    embeddings = centres[np.repeat(np.arange(30), 3)] + 0.3 * rng.normal(size=(90, 8))
    status = ["ok"] * 90
    status[4] = status[50] = "no_face"
    manifest, faces = make_tables(subjects, embeddings, status=status)
    kwargs = dict(watchlist_size=12, n_draws=3, seed=9, chunk_size=10)
    here = identification_scores(faces, manifest, **kwargs)
    there = identification_scores(faces, manifest, client=small_cluster, **kwargs)
    assert there.equals(here)


def test_faces_table_is_taken_from_the_cache_in_manifest_order(tmp_path):
    """Rows come from the cache's Arrow table, plus the rows it does not keep."""
    from audit.pipeline.cache import FacesCache
    from audit.pipeline.decode import ImageProblem
    from audit.pipeline.embed import empty_row
    from audit.pipeline.run import _faces_table

    cache = FacesCache(tmp_path, "k")
    ok = empty_row("first-name", "h1", "k", "ok")
    ok.update(n_faces=1, embedding=[1.0, 2.0])
    cache.write_batch([ok])
    errors = {"h2": empty_row("other-name", "h2", "k", "error", "boom")}
    problems = {1: ImageProblem("missing", "file not found")}
    table = _faces_table(["a", "b", "c", "d"], ["h1", None, "h2", "h1"], problems, cache.load(),
                         errors, "k")
    assert table.schema.equals(FACES, check_metadata=True)
    rows = table.select(["image_id", "content_hash", "status", "message", "embedding"])
    assert rows.to_pylist() == [
        {"image_id": "a", "content_hash": "h1", "status": "ok", "message": None,
         "embedding": [1.0, 2.0]},
        {"image_id": "b", "content_hash": None, "status": "missing",
         "message": "file not found", "embedding": None},
        {"image_id": "c", "content_hash": "h2", "status": "error", "message": "boom",
         "embedding": None},
        {"image_id": "d", "content_hash": "h1", "status": "ok", "message": None,
         "embedding": [1.0, 2.0]},
    ]

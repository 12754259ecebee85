"""Faces cache and cache keys: atomic parts, deduplication, what is (not) cached."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from audit.pipeline import config as config_module
from audit.pipeline.cache import FacesCache
from audit.pipeline.config import PipelineConfig, Preprocess, config_key
from audit.pipeline.embed import empty_row


def _ok_row(digest: str, key: str = "k", value: float = 1.0) -> dict:
    row = empty_row(f"img-{digest}", digest, key, "ok")
    row.update(n_faces=1, box_x=0, box_y=0, box_w=10, box_h=10, embedding=[value, 0.0])
    return row


def test_batches_round_trip_and_first_written_wins(tmp_path):
    cache = FacesCache(tmp_path, "k", {"config": {}})
    cache.write_batch([_ok_row("a", value=1.0), _ok_row("b")])
    cache.write_batch([_ok_row("a", value=9.0)])  # same content computed twice
    rows = {r["content_hash"]: r for r in cache.load().to_pylist()}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["embedding"] == [1.0, 0.0]


def test_error_rows_are_not_cached_so_they_are_retried(tmp_path):
    cache = FacesCache(tmp_path, "k")
    written = cache.write_batch([empty_row("x", "x", "k", "error", "boom"),
                                 empty_row("y", "y", "k", "no_face"),
                                 empty_row("z", "z", "k", "unreadable")])
    assert written == 2
    assert sorted(cache.load().column("content_hash").to_pylist()) == ["y", "z"]


def test_partial_files_from_a_killed_write_are_ignored(tmp_path):
    cache = FacesCache(tmp_path, "k")
    cache.write_batch([_ok_row("a")])
    (cache.folder / ".part-dead.parquet.123.partial").write_bytes(b"PAR1 truncated")
    assert cache.load().num_rows == 1


def test_compact_merges_parts_without_losing_rows(tmp_path):
    cache = FacesCache(tmp_path, "k")
    for digest in "abc":
        cache.write_batch([_ok_row(digest)])
    assert len(cache.parts()) == 3
    cache.compact()
    assert len(cache.parts()) == 1
    assert sorted(pq.read_table(cache.parts()[0]).column("content_hash").to_pylist()) == [
        "a", "b", "c"]


@pytest.mark.parametrize("change", [
    {"model": "ArcFace"}, {"detector": "opencv"}, {"align": False},
    {"preprocess": Preprocess.no_border}, {"normalization": "raw"},
])
def test_every_config_field_changes_the_key(change):
    assert config_key(PipelineConfig(**change)) != config_key(PipelineConfig())


def test_key_is_stable_and_changes_with_library_versions(monkeypatch):
    key = config_key(PipelineConfig())
    assert key == config_key(PipelineConfig())
    real = config_module.software_versions
    monkeypatch.setattr(config_module, "software_versions",
                        lambda: {**real(), "deepface": "0.0.999"})
    assert config_key(PipelineConfig()) != key


def test_dlib_chip_is_refused_for_other_models():
    with pytest.raises(ValueError, match="dlib's recipe for the Dlib model"):
        PipelineConfig(model="ArcFace", preprocess="dlib-chip")

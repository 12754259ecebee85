"""A stuck image is its own ``timeout`` row: the rest of its batch and finished work survive.

The time limit itself is tested on both of its mechanisms (``SIGALRM`` on a
main thread, an asynchronous exception on any other thread); the pipeline is
tested with a decoder made to hang on one file (monkeypatched), beside real
LFW faces in the same batch.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time

import pyarrow as pa
import pytest

import audit.pipeline.embed as embed_module
from audit.pipeline.cache import FacesCache
from audit.pipeline.config import PipelineConfig, config_key
from audit.pipeline.run import embed_manifest
from audit.pipeline.time_limit import ImageTimeout, time_limit

#: Seconds the injected decoder hangs: far past any limit used here.
HANG_SECONDS = 120


def test_alarm_interrupts_a_blocking_call_on_the_main_thread():
    assert threading.current_thread() is threading.main_thread()
    started = time.monotonic()
    with pytest.raises(ImageTimeout):
        with time_limit(0.2):
            time.sleep(HANG_SECONDS)
    assert time.monotonic() - started < HANG_SECONDS / 2  # cut short, not slept through


def test_alarm_is_cancelled_and_the_previous_handler_restored():
    def mine(signum, frame):
        raise AssertionError("the previous handler ran")

    previous = signal.signal(signal.SIGALRM, mine)
    try:
        with time_limit(0.2):
            pass  # ends well within the limit
        time.sleep(0.4)  # past it: nothing may fire now
        assert signal.getsignal(signal.SIGALRM) is mine
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    finally:
        signal.signal(signal.SIGALRM, previous)


def _in_thread(work) -> dict:
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = work()
        except ImageTimeout:
            outcome["timeout"] = True

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=HANG_SECONDS)
    assert not thread.is_alive()
    return outcome


def test_watchdog_stops_python_work_on_another_thread():
    def stuck():
        with time_limit(0.2):
            for _ in range(HANG_SECONDS * 100):  # Python-level work (a Dask worker thread)
                time.sleep(0.01)
        return "finished"

    assert _in_thread(stuck) == {"timeout": True}


def test_watchdog_never_fires_after_its_block():
    def quick():
        with time_limit(0.2):
            total = sum(range(1000))
        for _ in range(40):  # 0.4 s of later work, past the limit
            time.sleep(0.01)
        return total

    assert _in_thread(quick) == {"value": sum(range(1000))}


def test_no_limit_when_none():
    with time_limit(None):
        time.sleep(0.05)


# -- the pipeline --------------------------------------------------------------

MARKER = b"lfr-audit: hang here"


@pytest.mark.integration
def test_a_hanging_decoder_gives_one_timeout_row(lfw_root, lfw_rows, weights_home, tmp_path,
                                                monkeypatch):
    real = lfw_rows(2, 2)
    for row in real:
        (tmp_path / row["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lfw_root / row["path"], tmp_path / row["path"])
    # A real face with a marker appended: it would decode, but the decoder hangs on it.
    (tmp_path / "stuck.jpg").write_bytes((lfw_root / real[0]["path"]).read_bytes() + MARKER)
    stuck = {"image_id": "stuck", "path": "stuck.jpg", "subject_id": "stuck", "dataset": "lfw"}
    config = PipelineConfig(image_timeout=5)

    alone, _ = embed_manifest(pa.Table.from_pylist(real), tmp_path, config,
                              cache_dir=tmp_path / "alone")

    real_decode = embed_module.decode_image
    hung = []

    def decode(data: bytes, *args, **kwargs):
        if data.endswith(MARKER):
            hung.append(len(data))
            time.sleep(HANG_SECONDS)
        return real_decode(data, *args, **kwargs)

    monkeypatch.setattr(embed_module, "decode_image", decode)
    mixed = pa.Table.from_pylist(real[:2] + [stuck] + real[2:])
    cache = tmp_path / "mixed"
    started = time.monotonic()
    faces, stats = embed_manifest(mixed, tmp_path, config, cache_dir=cache,
                                  batch_size=mixed.num_rows)  # one batch
    assert time.monotonic() - started < HANG_SECONDS / 2
    assert hung, "the hanging decoder was never reached"
    rows = {row["image_id"]: row for row in faces.to_pylist()}
    assert rows["stuck"]["status"] == "timeout"
    assert rows["stuck"]["message"] == (
        "reading, decoding and detection took longer than the 5 s limit per image")
    assert rows["stuck"]["content_hash"] is not None and rows["stuck"]["embedding"] is None
    for image in alone.to_pylist():  # the batch's other images: every column unchanged
        assert rows[image["image_id"]] == image
    # The others are cached; the stuck image is not, so the next run retries it.
    cached = FacesCache(cache, config_key(config)).load().column("content_hash").to_pylist()
    assert rows["stuck"]["content_hash"] not in cached
    assert {r["content_hash"] for r in alone.to_pylist()} <= set(cached)
    again, stats = embed_manifest(mixed, tmp_path, config, cache_dir=cache)
    assert (stats.n_cached, stats.n_computed, len(hung)) == (len(real), 1, 2)

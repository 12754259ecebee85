"""Bad input never blocks an audit: broken, odd and hostile files beside real faces.

Every case of :mod:`tests.bad_images` is put in one batch with real LFW
images, run through the real pipeline, and must give its own status, while
every real image's row is exactly what it is when run without them. The whole
run must finish within :data:`RUN_SECONDS` (a FIFO or a bomb must not block
it); the bound is a hang detector, about 10 times the run's time here.
"""

from __future__ import annotations

import shutil
import threading

import pyarrow as pa
import pytest

from audit.pipeline.config import PipelineConfig
from audit.pipeline.run import embed_manifest
from tests.bad_images import CASES, write_cases

pytestmark = pytest.mark.integration

#: Seconds the mixed run may take before it counts as blocked.
RUN_SECONDS = 300


def _within(seconds: float, work):
    """``work()``'s result, or a failure if it has not returned after ``seconds``."""
    answer = {}
    runner = threading.Thread(target=lambda: answer.update(value=work()), daemon=True)
    runner.start()
    runner.join(timeout=seconds)
    assert not runner.is_alive(), f"the run did not finish within {seconds} s"
    return answer["value"]


def _manifest(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows)


@pytest.fixture(scope="module")
def runs(lfw_root, lfw_rows, weights_home, tmp_path_factory):
    """Faces of the real images alone, and of the same images mixed with every case."""
    root = tmp_path_factory.mktemp("bad-inputs")
    real = lfw_rows(3, 3)
    for row in real:
        (root / row["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lfw_root / row["path"], root / row["path"])
    face_jpeg = (lfw_root / real[0]["path"]).read_bytes()
    paths = write_cases(root / "bad", face_jpeg)
    bad = [{"image_id": f"case-{name}", "path": f"bad/{path}", "subject_id": f"case-{name}",
            "dataset": "lfw"} for name, path in paths.items()]
    mixed = real[:4] + bad + real[4:]  # real images on both sides of the cases, one batch
    config = PipelineConfig()
    alone, _ = embed_manifest(_manifest(real), root, config,
                              cache_dir=tmp_path_factory.mktemp("cache-alone"))
    together, stats = _within(RUN_SECONDS, lambda: embed_manifest(
        _manifest(mixed), root, config, cache_dir=tmp_path_factory.mktemp("cache-mixed"),
        batch_size=len(mixed)))
    by_id = {row["image_id"]: row for row in together.to_pylist()}
    return real, alone.to_pylist(), by_id, stats


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_case_gets_its_own_status(runs, case):
    _, _, together, _ = runs
    _, status, fragment = CASES[case]
    row = together[f"case-{case}"]
    assert row["status"] == status, row["message"]
    if fragment is not None:
        assert fragment in row["message"]
    if row["message"] is not None:
        assert "\n" not in row["message"] and "Traceback" not in row["message"]
    if status == "ok":
        assert len(row["embedding"]) == 128 and row["n_frames"] >= 1


def test_no_real_image_changed(runs):
    real, alone, together, _ = runs
    assert len(alone) == len(real)
    for image in alone:
        assert together[image["image_id"]] == image  # every column, embedding bit for bit


def test_formats_that_decode_give_the_face_of_the_original(runs):
    """The same face stored as CMYK, palette, 16-bit grey, a GIF frame, a PNG under
    a .jpg name, with no extension, or turned with an EXIF tag, is found in
    about the same place (the source face's box, within a few pixels)."""
    real, _, together, _ = runs
    source = together[real[0]["image_id"]]
    for case in ("cmyk_jpeg", "palette_png", "animated_gif", "png_named_jpg", "no_extension",
                 "exif_rotated", "grey_16_bit_png"):
        row = together[f"case-{case}"]
        assert abs(row["box_x"] - source["box_x"]) <= 8, case
        assert abs(row["box_y"] - source["box_y"]) <= 8, case
    assert together["case-animated_gif"]["n_frames"] == 2
    assert together["case-no_extension"]["embedding"] == source["embedding"]


def test_unreadable_files_are_counted_not_cached(runs):
    _, _, together, stats = runs
    unhashable = {"folder_as_jpg", "fifo_as_jpg", "symlink_loop", "dangling_symlink",
                  "name_too_long", "nul_in_path"}
    for case in unhashable:
        assert together[f"case-{case}"]["content_hash"] is None
    assert stats.n_missing == 1  # the dangling symlink

"""Reading and decoding single files (audit.pipeline.decode): limits, content over
extension, and what a viewer would show, checked against Pillow and numpy."""

from __future__ import annotations

import io
import os
import threading

import numpy as np
import pytest
from PIL import Image

from audit.pipeline.decode import (
    MAX_PIXELS,
    Decoded,
    ImageProblem,
    decode_image,
    read_image_bytes,
)
from tests.bad_images import png_bomb


def _picture() -> Image.Image:
    """A 40 x 60 RGB image of smooth ramps (so JPEG keeps it close), one per
    channel and direction, so that any rotation or flip shows."""
    rows, columns = np.mgrid[0:40, 0:60]
    values = np.stack([rows * 6, columns * 4, 255 - rows * 3 - columns * 2], axis=-1)
    return Image.fromarray(values.astype(np.uint8))


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _bgr(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))[:, :, ::-1]


def test_png_decodes_exactly_whatever_its_name_says():
    decoded = decode_image(_encoded(_picture(), "PNG"))
    assert isinstance(decoded, Decoded) and decoded.format == "PNG" and decoded.n_frames == 1
    np.testing.assert_array_equal(decoded.image, _bgr(_picture()))


def test_gif_gives_its_first_frame_and_counts_frames():
    first = _picture().quantize(64)
    frames = [Image.new("RGB", first.size, colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = _encoded(first, "GIF", save_all=True, append_images=frames)
    decoded = decode_image(data)
    assert decoded.n_frames == 3 and decoded.format == "GIF"
    np.testing.assert_array_equal(decoded.image, _bgr(first))


def test_palette_png_is_expanded_to_its_colours():
    palette = _picture().quantize(32)
    np.testing.assert_array_equal(decode_image(_encoded(palette, "PNG")).image, _bgr(palette))


def test_sixteen_bit_grey_is_scaled_to_eight_bits():
    grey = np.array([[0, 257, 65535], [32896, 1000, 65280]], dtype=np.uint16)
    decoded = decode_image(_encoded(Image.fromarray(grey), "PNG")).image
    assert decoded.dtype == np.uint8 and decoded.shape == (2, 3, 3)
    np.testing.assert_array_equal(decoded[:, :, 0], (grey >> 8).astype(np.uint8))


@pytest.mark.parametrize(("orientation", "transpose"), [
    (6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270),
    (3, Image.Transpose.ROTATE_180)])
def test_exif_orientation_is_applied(orientation, transpose):
    upright = _picture()
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encoded(upright.transpose(transpose), "JPEG", quality=100, exif=exif)
    decoded = decode_image(data).image
    assert decoded.shape == (40, 60, 3)
    assert np.abs(decoded.astype(int) - _bgr(upright).astype(int)).mean() < 4  # JPEG loss only


def test_cmyk_jpeg_decodes_to_three_channels():
    decoded = decode_image(_encoded(_picture().convert("CMYK"), "JPEG", quality=100)).image
    assert decoded.shape == (40, 60, 3)
    assert np.abs(decoded.astype(int) - _bgr(_picture()).astype(int)).mean() < 8


@pytest.mark.parametrize(("data", "fragment"), [
    (b"", "empty file"),
    (b"plain text, not pixels", "not an image format"),
    (png_bomb(MAX_PIXELS // 1000 + 1, 1000), "megapixel limit"),
])
def test_what_does_not_decode_is_a_problem_not_an_exception(data, fragment):
    problem = decode_image(data)
    assert isinstance(problem, ImageProblem) and problem.status == "unreadable"
    assert fragment in problem.message and "\n" not in problem.message


@pytest.mark.parametrize(("fmt", "keep"), [("PNG", 60), ("PNG", 0.5), ("JPEG", 0.6)])
def test_a_truncated_file_is_a_problem(fmt, keep):
    data = _encoded(_picture(), fmt)
    cut = data[:keep] if isinstance(keep, int) else data[: int(len(data) * keep)]
    problem = decode_image(cut)
    assert isinstance(problem, ImageProblem) and problem.status == "unreadable"


def test_a_truncated_file_is_a_problem_after_weasyprint_is_imported(monkeypatch):
    """WeasyPrint turns on Pillow's process-wide LOAD_TRUNCATED_IMAGES when imported
    (the report stage runs in the same process as embedding); decoding still refuses a
    cut-off file, and leaves the flag as it found it."""
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = _encoded(_picture(), "PNG")
    problem = decode_image(data[: len(data) // 2])
    assert isinstance(problem, ImageProblem) and problem.status == "unreadable"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


@pytest.mark.parametrize(("side", "message"), [
    (7_000, "7000 x 7000 pixels, above the 40-megapixel limit"),
    (20_000, "over 178 million pixels, above the 40-megapixel limit"),  # Pillow's check first
])
def test_pixel_limit_is_checked_before_decoding(side, message):
    assert decode_image(png_bomb(side, side)) == ImageProblem("unreadable", message)


def test_reading_refuses_non_regular_files_without_blocking(tmp_path):
    (tmp_path / "folder.jpg").mkdir()
    os.mkfifo(tmp_path / "pipe.jpg")
    answers = {}
    reader = threading.Thread(target=lambda: answers.update(
        folder=read_image_bytes(tmp_path / "folder.jpg"),
        pipe=read_image_bytes(tmp_path / "pipe.jpg")), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert answers["folder"] == ImageProblem("unreadable", "not a regular file: a folder")
    assert answers["pipe"] == ImageProblem("unreadable", "not a regular file: a FIFO (named pipe)")


def test_reading_names_path_problems(tmp_path):
    os.symlink("b.jpg", tmp_path / "a.jpg")
    os.symlink("a.jpg", tmp_path / "b.jpg")
    assert read_image_bytes(tmp_path / "a.jpg").message == "cannot read the file: symlink loop"
    assert read_image_bytes(tmp_path / ("x" * 300)).message == (
        "cannot read the file: file name too long")
    assert read_image_bytes(f"{tmp_path}/a\0.jpg").message == (
        "cannot read the file: NUL byte in its path")
    assert read_image_bytes(tmp_path / "none.jpg") == ImageProblem("missing", "file not found")


def test_reading_stops_at_the_size_limit(tmp_path):
    (tmp_path / "big.jpg").write_bytes(b"\0" * 2049)
    (tmp_path / "fits.jpg").write_bytes(b"\0" * 2048)
    assert isinstance(read_image_bytes(tmp_path / "big.jpg", max_bytes=2048), ImageProblem)
    assert read_image_bytes(tmp_path / "fits.jpg", max_bytes=2048) == b"\0" * 2048

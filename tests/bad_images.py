"""Generated broken and odd image files, for the bad-input tests.

Each case is written by a function of (folder, a real face image's bytes)
into the folder and returns the file's path relative to it. ``EXPECTED``
names the status each case must get and a fragment its message must hold
(None: any message). Nothing here is downloaded or stored in the repository.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image


def _face(jpeg: bytes) -> Image.Image:
    return Image.open(io.BytesIO(jpeg)).convert("RGB")


def _save(folder: Path, name: str, image: Image.Image, fmt: str, **options) -> str:
    image.save(folder / name, fmt, **options)
    return name


def _write(folder: Path, name: str, data: bytes) -> str:
    (folder / name).write_bytes(data)
    return name


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` grey pixels, with a few
    compressed rows of zeros: tiny on disk, gigabytes if decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (width + 1) * 16, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(
        b"IEND", b"")


def exif_rotated(folder: Path, jpeg: bytes) -> str:
    """The face stored turned 90 degrees, with the EXIF tag that turns it back upright."""
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90 degrees counter-clockwise to view": stored turned clockwise
    stored = _face(jpeg).transpose(Image.Transpose.ROTATE_270)
    return _save(folder, "exif_rotated.jpg", stored, "JPEG", quality=95, exif=exif)


def animated_gif(folder: Path, jpeg: bytes) -> str:
    face = _face(jpeg)
    other = Image.new("RGB", face.size, (200, 30, 30))
    return _save(folder, "animated.gif", face, "GIF", save_all=True, append_images=[other])


def sixteen_bit(folder: Path, jpeg: bytes) -> str:
    grey = np.asarray(_face(jpeg).convert("L"), dtype=np.uint16) * 257
    return _save(folder, "grey16.png", Image.fromarray(grey), "PNG")


def symlink_loop(folder: Path, jpeg: bytes) -> str:
    os.symlink("loop_b.jpg", folder / "loop_a.jpg")
    os.symlink("loop_a.jpg", folder / "loop_b.jpg")
    return "loop_a.jpg"


def fifo(folder: Path, jpeg: bytes) -> str:
    os.mkfifo(folder / "fifo.jpg")
    return "fifo.jpg"


def folder_named_like_image(folder: Path, jpeg: bytes) -> str:
    (folder / "folder.jpg").mkdir()
    return "folder.jpg"


#: name -> (writer, expected status, fragment of the message or None)
CASES: dict[str, tuple[Callable[[Path, bytes], str], str, str | None]] = {
    "zero_bytes": (lambda d, j: _write(d, "zero.jpg", b""), "unreadable", "empty file"),
    "truncated_header": (lambda d, j: _write(d, "truncated.jpg", j[:120]), "unreadable",
                         "does not decode"),
    "truncated_half": (lambda d, j: _write(d, "half.jpg", j[: len(j) // 2]), "unreadable",
                       "truncated"),
    "text_as_jpg": (lambda d, j: _write(d, "text.jpg", b"GIF89a? no, just text\n" * 20),
                    "unreadable", None),
    "html_as_jpg": (lambda d, j: _write(d, "page.jpg", b"<html><body>hi</body></html>"),
                    "unreadable", "not an image format"),
    "folder_as_jpg": (folder_named_like_image, "unreadable", "a folder"),
    "fifo_as_jpg": (fifo, "unreadable", "FIFO"),
    "symlink_loop": (symlink_loop, "unreadable", "symlink loop"),
    "dangling_symlink": (lambda d, j: (os.symlink("nowhere.jpg", d / "dangling.jpg"),
                                       "dangling.jpg")[1], "missing", "not found"),
    "png_bomb": (lambda d, j: _write(d, "bomb.png", png_bomb(30_000, 30_000)), "unreadable",
                 "megapixel limit"),
    "png_bomb_as_jpg": (lambda d, j: _write(d, "bomb.jpg", png_bomb(100_000, 1_000)),
                        "unreadable", "megapixel limit"),
    "name_too_long": (None, "unreadable", "file name too long"),  # path only, no file
    "nul_in_path": (None, "unreadable", "NUL byte"),  # path only, no file
    "cmyk_jpeg": (lambda d, j: _save(d, "cmyk.jpg", _face(j).convert("CMYK"), "JPEG"),
                  "ok", None),
    "grey_16_bit_png": (sixteen_bit, "ok", None),
    "palette_png": (lambda d, j: _save(d, "palette.png", _face(j).quantize(256), "PNG"),
                    "ok", None),
    "animated_gif": (animated_gif, "ok", None),
    "exif_rotated": (exif_rotated, "ok", None),
    "png_named_jpg": (lambda d, j: _save(d, "png_inside.jpg", _face(j), "PNG"), "ok", None),
    "no_extension": (lambda d, j: _write(d, "no_extension", j), "ok", None),
}

#: Paths of the cases that have no file.
PATH_ONLY = {"name_too_long": "x" * 300 + ".jpg", "nul_in_path": "nul\0byte.jpg"}


def write_cases(folder: Path, jpeg: bytes) -> dict[str, str]:
    """Write every case into ``folder``; return case name -> path relative to it."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (writer, _, _) in CASES.items():
        paths[name] = PATH_ONLY[name] if writer is None else writer(folder, jpeg)
    return paths

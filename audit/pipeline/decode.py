"""Reading and decoding one image file, with limits, so that no file can block a run.

An evaluator's folder may hold anything: folders or FIFOs named like images,
symlink loops, zero-byte or truncated files, decompression bombs, animated
GIFs, PNGs under a ``.jpg`` name, 16-bit or palette images, phone photos
stored sideways with an EXIF orientation tag. Each of these is either decoded
the way a viewer would show it or becomes an :class:`ImageProblem` (one line,
the image's row status), never an exception that reaches another image.

- **Reading** (:func:`read_image_bytes`) opens only regular files, without
  blocking (``O_NONBLOCK``: a FIFO swapped in after the check cannot hang the
  read), and refuses files above :data:`MAX_FILE_BYTES`. Folders, FIFOs and
  devices are never opened.
- **Decoding** (:func:`decode_image`) goes by content, never by extension:
  Pillow reads the header (format, size, frame count) and the pixel limit
  :data:`MAX_PIXELS` is checked before any pixel is decoded; Pillow then
  decodes the first frame in full, so that a truncated file is refused
  (OpenCV would fill the missing part with grey or black). OpenCV decodes
  the formats it reads (JPEG, PNG, BMP, WebP, TIFF, PNM), with the EXIF
  orientation applied, as the pipeline always did, so embeddings of those
  files do not change; anything else Pillow reads (GIF: first frame) goes
  through Pillow, with the orientation applied too.

The limits bound memory: a 40-megapixel image is 120 MB as 8-bit BGR, and
deepface's detection border makes at most 2.25 times that.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

#: Largest image file read (bytes); a camera JPEG is a few MB.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Largest image decoded (width x height): a 7,300 x 5,500 frame.
MAX_PIXELS = 40_000_000
#: Formats OpenCV decodes (Pillow's names); others go through Pillow.
OPENCV_FORMATS = frozenset({"JPEG", "PNG", "BMP", "WEBP", "TIFF", "PPM", "MPO"})

_KINDS = {
    stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
}


@dataclass(frozen=True)
class ImageProblem:
    """Why one image yields no face: its row's ``status`` and a one-line ``message``."""

    status: str  # "missing" or "unreadable"
    message: str


@dataclass(frozen=True)
class Decoded:
    """A decoded image: 8-bit BGR pixels, the container's format and its frame count."""

    image: np.ndarray
    format: str
    n_frames: int


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    return "not a regular file: " + _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _os_problem(error: OSError) -> ImageProblem:
    if isinstance(error, FileNotFoundError):
        return ImageProblem("missing", "file not found")
    reasons = {errno.ELOOP: "symlink loop", errno.ENAMETOOLONG: "file name too long",
               errno.EACCES: "permission denied", errno.ENOTDIR: "a parent is not a folder"}
    reason = reasons.get(error.errno, f"{type(error).__name__}: {error.strerror or error}")
    return ImageProblem("unreadable", f"cannot read the file: {reason}")


def read_image_bytes(path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES
                     ) -> bytes | ImageProblem:
    """The bytes of the regular file at ``path``, or the problem that prevents reading it.

    Never opens a folder, FIFO, socket or device, never blocks, never reads
    more than ``max_bytes`` (+1, to see that a file grew past the limit).
    """
    try:
        if problem := _not_regular(os.stat(path).st_mode):
            return ImageProblem("unreadable", problem)
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except (OSError, ValueError) as error:  # ValueError: a NUL byte in the path
        if isinstance(error, ValueError):
            return ImageProblem("unreadable", "cannot read the file: NUL byte in its path")
        return _os_problem(error)
    with os.fdopen(descriptor, "rb") as handle:
        try:
            if problem := _not_regular(os.fstat(descriptor).st_mode):  # swapped since the check
                return ImageProblem("unreadable", problem)
            data = handle.read(max_bytes + 1)
        except OSError as error:
            return _os_problem(error)
    if len(data) > max_bytes:
        return ImageProblem("unreadable", f"file larger than the {max_bytes // 2**20} MB limit")
    return data


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> Decoded | ImageProblem:
    """8-bit BGR pixels of the image in ``data``, judged by content, or the problem."""
    import io

    from PIL import Image, ImageFile, UnidentifiedImageError

    if not data:
        return ImageProblem("unreadable", "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's bomb warning: the limit is ours
            with Image.open(io.BytesIO(data)) as header:
                width, height = header.size
                kind, frames = header.format or "unknown", getattr(header, "n_frames", 1)
                if width * height > max_pixels:
                    return ImageProblem("unreadable", f"{width} x {height} pixels, above the "
                                        f"{max_pixels / 1e6:g}-megapixel limit")
                _load_strictly(header, ImageFile)
                image = (_opencv(data) if kind in OPENCV_FORMATS else None)
                if image is None:
                    image = _pillow(header)
    except UnidentifiedImageError:
        return ImageProblem("unreadable", "not an image format that can be read")
    except Image.DecompressionBombError:  # Pillow's own check, above 178.9 megapixels
        return ImageProblem("unreadable", "over 178 million pixels, above the "
                            f"{max_pixels / 1e6:g}-megapixel limit")
    except (OSError, ValueError, SyntaxError, EOFError, cv2.error) as error:
        return ImageProblem("unreadable", f"does not decode ({type(error).__name__}: {error})")
    if image is None or image.size == 0:
        return ImageProblem("unreadable", "does not decode as an image")
    return Decoded(image=image, format=kind, n_frames=int(frames))


def _load_strictly(image, image_file) -> None:
    """Decode ``image`` in full, so that a truncated file raises, whatever OpenCV would
    make of it. WeasyPrint sets Pillow's process-wide ``LOAD_TRUNCATED_IMAGES`` when it
    is imported (as the report stage does), which would let a cut-off file through as
    grey or black pixels: the flag is off for this load and restored after."""
    lenient = image_file.LOAD_TRUNCATED_IMAGES
    image_file.LOAD_TRUNCATED_IMAGES = False
    try:
        image.load()
    finally:
        image_file.LOAD_TRUNCATED_IMAGES = lenient


def _opencv(data: bytes) -> np.ndarray | None:
    """OpenCV's decoding (EXIF orientation applied, 16-bit scaled to 8), or None."""
    return cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)


def _pillow(header) -> np.ndarray:
    """The first frame through Pillow, EXIF orientation applied, as 8-bit BGR."""
    from PIL import ImageOps

    header.seek(0)
    frame = ImageOps.exif_transpose(header)
    if frame.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grey: scale to 8 bits
        grey = np.asarray(frame, dtype=np.float64)
        peak = 65535.0 if frame.mode.startswith("I;16") else max(float(grey.max()), 1.0)
        return cv2.cvtColor(np.clip(grey / peak * 255.0, 0, 255).astype(np.uint8),
                            cv2.COLOR_GRAY2BGR)
    rgb = np.asarray(frame.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])

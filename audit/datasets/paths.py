"""Keep every dataset path inside its dataset root.

Manifests come from evaluators and archives from the network. A path such as
``../../etc/passwd``, an absolute path, or a symlink pointing elsewhere would let
a crafted manifest or tarball make the tool read (or, when extracting, write)
outside the folder the evaluator chose. Every adapter goes through
:func:`resolve_inside` or :func:`list_files`, which refuse all three.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePath, PurePosixPath

from audit.datasets.errors import DatasetError

EMPTY = "path is empty; give the file's path relative to the dataset root"
ABSOLUTE = "path {path!r} is absolute; write it relative to the dataset root {root}"
CLIMBS_OUT = (
    "path {path!r} contains '..', which could leave the dataset root {root}; "
    "write it relative to the root without '..'"
)
SYMLINK_OUTSIDE = (
    "path {path!r} resolves through a symlink to {target}, outside the dataset root {root}; "
    "copy the file into the root, or use the real folder as the root"
)
SYMLINKED_FOLDER = (
    "{path!r} is a symlinked folder, which is not followed (it could loop or list images twice); "
    "replace it with a real folder"
)


class UnsafePathError(DatasetError):
    """A path would lead outside its dataset root."""


def normalise_relative(relative: str | PurePath, root: str | Path = "the root") -> str:
    """Return ``relative`` as a normalised POSIX path, refusing unsafe forms.

    Only the text is checked: empty, absolute and ``..`` paths are refused
    (even ``a/../b``, which stays inside, since such a path usually means a
    manifest was written for another folder). ``./a//b.jpg`` becomes ``a/b.jpg``.
    """
    text = str(relative)
    if not text.strip():
        raise UnsafePathError(EMPTY)
    pure = PurePosixPath(text)
    if pure.is_absolute():
        raise UnsafePathError(ABSOLUTE.format(path=text, root=root))
    if ".." in pure.parts:
        raise UnsafePathError(CLIMBS_OUT.format(path=text, root=root))
    return pure.as_posix()


def resolve_inside(root: str | Path, relative: str | PurePath) -> Path:
    """Return the real location of ``root/relative``, which must stay inside ``root``.

    Raises :class:`UnsafePathError` for an empty, absolute or ``..`` path, and
    for a path whose symlinks (anywhere along it) resolve outside the real
    ``root``. The file need not exist: a missing image is the pipeline's
    ``missing`` status, not a path-safety problem.
    """
    real_root = Path(os.path.realpath(root))
    rel = normalise_relative(relative, real_root)
    target = Path(os.path.realpath(real_root / rel))
    if not target.is_relative_to(real_root):
        raise UnsafePathError(SYMLINK_OUTSIDE.format(path=rel, target=target, root=real_root))
    return target


def list_files(root: str | Path, subdir: str) -> list[str]:
    """List every file under ``root/subdir`` as sorted POSIX paths relative to ``root``.

    Regular files found by walking the real root are inside it by construction,
    so only symlinks are resolved (resolving all 13k LFW paths would cost about
    half a second): a symlinked file must resolve inside ``root`` and is listed
    even when dangling (the pipeline then reports it ``missing``); a symlinked
    folder is refused rather than silently skipped. Sorting makes manifests
    identical across file systems.
    """
    real_root = Path(os.path.realpath(root))
    start = resolve_inside(real_root, subdir)
    return sorted(_walk(real_root, start))


def _walk(real_root: Path, folder: Path) -> Iterator[str]:
    with os.scandir(folder) as entries:
        for entry in entries:
            rel = Path(entry.path).relative_to(real_root).as_posix()
            if entry.is_symlink():
                if resolve_inside(real_root, rel).is_dir():
                    raise UnsafePathError(SYMLINKED_FOLDER.format(path=rel))
                yield rel
            elif entry.is_dir(follow_symlinks=False):
                yield from _walk(real_root, Path(entry.path))
            else:
                yield rel

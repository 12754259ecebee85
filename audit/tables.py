"""Reading and writing stage tables and run files, atomically: the one writer.

Every file lfr-audit writes for later reading (stage tables, cache parts, run
records, reports, copied weights) goes through :func:`atomic_path`: written
beside its final name, then renamed into place, so a reader sees the old file
or the complete new one and an interrupted run leaves no truncated file.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` on success,
    removed on failure. Permissions follow the umask like any new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_table(table: pa.Table, path: Path) -> Path:
    """Write a stage table as Parquet; readers see the old file or the complete new one."""
    with atomic_path(path) as partial:
        pq.write_table(table, partial)
    return Path(path)


def read_table(path: Path) -> pa.Table:
    return pq.read_table(Path(path))


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as partial:
        partial.write_bytes(data)
    return Path(path)


def write_json(path: Path, data: object) -> Path:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    return write_bytes(path, json.dumps(data, indent=2, sort_keys=True, default=str).encode())


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed version of each distribution, ``absent`` when not installed."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions

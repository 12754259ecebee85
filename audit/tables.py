"""Reading and writing stage tables as Parquet, atomically."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .pipeline.cache import write_parquet_atomic


def write_table(table: pa.Table, path: Path) -> Path:
    """Write a stage table; readers see the old file or the complete new one."""
    write_parquet_atomic(table, Path(path))
    return Path(path)


def read_table(path: Path) -> pa.Table:
    return pq.read_table(Path(path))

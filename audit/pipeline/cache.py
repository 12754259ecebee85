"""Faces cache: Parquet files keyed by image content hash and configuration.

Layout: ``<cache_dir>/<config_key>/`` holds ``config.json`` (the configuration
and versions the key stands for) and Parquet parts of faces rows. Each finished
batch is written as its own part through a temporary file and an atomic
rename, so a killed run loses at most the batches in flight and never leaves a
truncated file; the next run reads every complete part and computes the rest.
:meth:`FacesCache.compact` merges parts into one file after a run.

Rows are keyed by the SHA-256 of the image bytes, not by path or id: a renamed
copy reuses its embedding, an edited file never does. Rows with status
``error`` are not cached, so that a transient failure is retried next time.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..schema import FACES
from ..tables import write_json, write_table

CACHED_STATUSES = ("ok", "no_face", "unreadable")
_PART_GLOB = "part-*.parquet"


class FacesCache:
    """The cached faces rows of one pipeline configuration."""

    def __init__(self, cache_dir: Path, key: str, description: dict | None = None) -> None:
        self.folder = Path(cache_dir) / key
        self.key = key
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "config.json"
        if description is not None and not meta.exists():
            write_json(meta, description)

    def parts(self) -> list[Path]:
        return sorted(self.folder.glob(_PART_GLOB))

    def load(self) -> pa.Table:
        """Every cached row, one per content hash and face (several faces only with
        face selection ``all``); the first written wins, so a row never changes
        once cached."""
        parts = self.parts()
        if not parts:
            return FACES.empty_table()
        table = pa.concat_tables(pq.read_table(p, schema=FACES) for p in parts)
        keys = zip(table.column("content_hash").to_pylist(),
                   table.column("face_index").to_pylist(), strict=True)
        seen: set[tuple] = set()
        keep = [not (k in seen or seen.add(k)) for k in keys]
        return table.filter(pa.array(keep, pa.bool_()))

    def write_batch(self, rows: list[dict]) -> int:
        """Append the cacheable rows of one finished batch; returns how many."""
        rows = [r for r in rows if r["status"] in CACHED_STATUSES]
        if rows:
            table = pa.Table.from_pylist(rows, schema=FACES)
            write_table(table, self._new_part())
        return len(rows)

    def _new_part(self) -> Path:
        """A part name that sorts in write order (nanosecond clock, then a random tail)."""
        return self.folder / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"

    def compact(self) -> None:
        """Merge all parts into one; safe to interrupt (duplicates are dropped on load)."""
        parts = self.parts()
        if len(parts) <= 1:
            return
        write_table(self.load(), self._new_part())
        for part in parts:
            part.unlink()

"""Toy manifest and faces tables for matching tests (no images, no deepface)."""

from __future__ import annotations

import pyarrow as pa

from audit.schema import FACES


def make_tables(subjects, embeddings, *, status=None, **labels):
    """Manifest and faces tables of toy images ``img0000``, ``img0001``, ...

    ``status`` defaults to ``ok`` everywhere; images that are not ``ok`` get no
    embedding. ``labels`` become manifest label columns.
    """
    n = len(subjects)
    ids = [f"img{i:04d}" for i in range(n)]
    status = list(status) if status is not None else ["ok"] * n
    manifest = pa.table(
        {
            "image_id": ids,
            "path": [f"{i}.jpg" for i in ids],
            "subject_id": list(subjects),
            "dataset": ["toy"] * n,
            **{k: list(v) for k, v in labels.items()},
        }
    )
    columns = {f.name: pa.nulls(n, f.type) for f in FACES}
    columns["image_id"] = pa.array(ids)
    columns["config_key"] = pa.array(["cfg"] * n)
    columns["status"] = pa.array(status)
    columns["embedding"] = pa.array(
        [list(map(float, e)) if s == "ok" else None for e, s in zip(embeddings, status)],
        pa.list_(pa.float32()),
    )
    return manifest, pa.table(columns, schema=FACES)

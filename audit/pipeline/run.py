"""Manifest -> faces: detection and embedding of every image, cached and resumable.

:func:`embed_manifest` checks weights before any work, hashes every image,
takes what the cache already holds, hands the rest in batches to worker
processes (each loads the model once) and writes each finished batch to the
cache as it arrives. Its result is the faces table of DESIGN.md with one row
per manifest row, in manifest order.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ..schema import FACES, MANIFEST, check_table
from .cache import FacesCache
from .config import PipelineConfig, config_key, software_versions
from .embed import FaceEmbedder, ImageTask, empty_row, init_worker, run_batch
from .weights import require

#: Images per batch: large enough for the model's batched forward pass and to
#: keep per-batch overhead small, small enough that a killed run loses little.
DEFAULT_BATCH_SIZE = 16


@dataclass(frozen=True)
class EmbedStats:
    """What a run did: how many images came from the cache and how many were computed."""

    n_images: int
    n_cached: int
    n_computed: int
    n_missing: int


def content_hash(path: Path) -> str | None:
    """SHA-256 of the file's bytes, or None when the file does not exist."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _batches(tasks: list[ImageTask], size: int) -> Iterator[list[ImageTask]]:
    for start in range(0, len(tasks), size):
        yield tasks[start: start + size]


def _run_in_process(config: PipelineConfig, key: str, batches: list[list[ImageTask]]):
    embedder = FaceEmbedder(config, key)
    for batch in batches:
        yield embedder.run(batch)


def _run_in_workers(config: PipelineConfig, key: str, batches: list[list[ImageTask]],
                    workers: int):
    """Yield each batch's rows as it finishes; at most 2 batches queued per worker."""
    context = multiprocessing.get_context("spawn")  # no state inherited from the CLI
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=init_worker, initargs=(config, key)) as pool:
        pending = set()
        queue = iter(batches)
        for batch in queue:
            pending.add(pool.submit(run_batch, batch))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)


def embed_manifest(
    manifest: pa.Table,
    root: Path,
    config: PipelineConfig,
    *,
    cache_dir: Path,
    workers: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[pa.Table, EmbedStats]:
    """Faces rows for every manifest row, computing only what the cache lacks.

    ``on_start(n_to_compute)`` is called once the work is known and
    ``on_batch(n_images)`` after each finished batch, for progress display.
    Raises :class:`~audit.pipeline.weights.WeightsError` before any work when
    the model or detector cannot run here.
    """
    manifest = check_table(manifest, MANIFEST, "manifest")
    require(config.model, config.detector,
            needs_landmarks=config.detector != "skip")
    key = config_key(config)
    cache = FacesCache(cache_dir, key, {"config": config.as_dict(),
                                        "versions": software_versions()})
    cached = {row["content_hash"]: row for row in cache.load().to_pylist()}

    ids = manifest.column("image_id").to_pylist()
    paths = [Path(root) / p for p in manifest.column("path").to_pylist()]
    hashes = [content_hash(p) for p in paths]

    todo: dict[str, ImageTask] = {}
    for image_id, path, digest in zip(ids, paths, hashes, strict=True):
        if digest is not None and digest not in cached and digest not in todo:
            todo[digest] = ImageTask(image_id, digest, str(path))
    if on_start:
        on_start(len(todo))

    batches = list(_batches(list(todo.values()), batch_size))
    results = (_run_in_process(config, key, batches) if workers <= 1
               else _run_in_workers(config, key, batches, workers))
    computed: dict[str, dict] = {}
    for rows in results:
        cache.write_batch(rows)
        computed.update((row["content_hash"], row) for row in rows)
        if on_batch:
            on_batch(len(rows))
    cache.compact()

    out = []
    for image_id, digest in zip(ids, hashes, strict=True):
        if digest is None:
            out.append(empty_row(image_id, None, key, "missing", "file not found"))
            continue
        row = dict(cached.get(digest) or computed[digest])
        row["image_id"] = image_id
        out.append(row)
    stats = EmbedStats(
        n_images=len(ids),
        n_cached=sum(1 for d in hashes if d is not None and d in cached),
        n_computed=len(todo),
        n_missing=sum(1 for d in hashes if d is None),
    )
    return pa.Table.from_pylist(out, schema=FACES), stats

"""Manifest -> faces: detection and embedding of every image, cached and resumable.

:func:`embed_manifest` checks weights before any work, hashes every image,
takes what the cache already holds, hands the rest in batches to an executor
(local worker processes or a Dask cluster, :mod:`audit.pipeline.executors`;
each worker loads the model once) and writes each finished batch to the cache
as it arrives. Its result is the faces table of DESIGN.md with one row per
manifest row, in manifest order, identical whichever executor ran it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..schema import FACES, MANIFEST, check_table
from .cache import CACHED_STATUSES, FacesCache
from .config import PipelineConfig, config_key, software_versions
from .decode import ImageProblem
from .embed import ImageTask, empty_row, is_url, read_location
from ..choices import LOCAL
from ..execution.choice import ExecutorChoice, parse_executor
from .executors import Executor, open_executor
from .weights import require

#: Images per batch. A batch takes about 2 s of one worker with the default Dlib
#: configuration, against 4-11 ms of Dask's own cost per task (0.6%,
#: ``benchmarks/results_executors.md``); a killed worker or client loses at most
#: the batches in flight, 2 per worker; and the Dlib model embeds image by image,
#: so larger batches gain nothing and leave workers idle at the end of a run.
DEFAULT_BATCH_SIZE = 16
#: Threads hashing image files on the client (I/O bound; hashlib releases the GIL).
HASH_THREADS = 8


@dataclass(frozen=True)
class EmbedStats:
    """What a run did: how many images came from the cache and how many were computed."""

    n_images: int
    n_cached: int
    n_computed: int
    n_missing: int
    executor: str = "local (in this process)"  # what computed the rows (none if all cached)


def content_hash(path: Path | str) -> str | ImageProblem:
    """SHA-256 of the file's bytes (a path or an fsspec URL), or why it cannot be read
    (:func:`~audit.pipeline.embed.read_location`: missing, not a regular file,
    too large; never blocks on a FIFO)."""
    data = read_location(path)
    return data if isinstance(data, ImageProblem) else hashlib.sha256(data).hexdigest()


def image_locations(root: Path | str, paths: list[str]) -> list[Path | str]:
    """Where each manifest path is read from: ``root / path``.

    ``root`` is a folder, or an fsspec URL that every Dask worker can read
    too (``file:///data/lfw``; ``s3://bucket/lfw`` once s3fs is installed on
    the client and every worker). Manifest paths were checked against a folder root by
    the dataset stage; under a URL root, where symlinks cannot be resolved,
    they are checked here by their text (no absolute path, no ``..``).
    """
    if not is_url(root):
        base = Path(root).absolute()  # workers may run in another folder
        return [base / p for p in paths]
    from ..datasets.paths import normalise_relative

    base = str(root).rstrip("/")
    return [f"{base}/{normalise_relative(p, base)}" for p in paths]


def _batches(tasks: list[ImageTask], size: int) -> Iterator[list[ImageTask]]:
    for start in range(0, len(tasks), size):
        yield tasks[start: start + size]


def embed_manifest(
    manifest: pa.Table,
    root: Path | str,
    config: PipelineConfig,
    *,
    cache_dir: Path,
    workers: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    executor: str | ExecutorChoice | Executor | Any = LOCAL,
) -> tuple[pa.Table, EmbedStats]:
    """Faces rows for every manifest row, computing only what the cache lacks.

    ``root`` is the dataset folder or an fsspec URL (:func:`image_locations`).
    ``executor`` chooses where batches run: a parsed
    :class:`~audit.execution.choice.ExecutorChoice` (its own worker count), or a
    string read here with ``workers`` (:func:`~audit.execution.choice.parse_executor`):
    ``"local"`` with ``workers`` processes (1 = this process), ``"dask-local"``
    (a LocalCluster of ``workers`` processes, started and stopped here), a
    Dask scheduler address such as ``"tcp://host:8786"``, or an open
    ``distributed.Client``. The rows are the same whichever runs them, and
    no executor is started when the cache holds every image.

    ``on_start(n_to_compute)`` is called once the work is known and
    ``on_batch(n_images)`` after each finished batch (written to the cache),
    for progress display. Raises :class:`~audit.pipeline.weights.WeightsError`
    before any work when the model or detector cannot run here or on any
    Dask worker, and :class:`~audit.pipeline.executors.ExecutorError` when the
    cluster cannot be reached or is lost (what finished stays cached).
    """
    manifest = check_table(manifest, MANIFEST, "manifest")
    if isinstance(executor, str):  # a typo fails now, even when all is cached
        executor = parse_executor(executor, workers)
    require(config.model, config.detector,
            needs_landmarks=config.detector != "skip")
    key = config_key(config)
    cache = FacesCache(cache_dir, key, {"config": config.as_dict(),
                                        "versions": software_versions()})
    cached = set(cache.load().column("content_hash").to_pylist())

    ids = manifest.column("image_id").to_pylist()
    paths = image_locations(root, manifest.column("path").to_pylist())
    hashes, problems = _hashed(paths)
    todo = _to_compute(ids, paths, hashes, cached)
    if on_start:
        on_start(len(todo))

    batches = list(_batches(list(todo.values()), batch_size))
    ran_on, not_cached = _compute(batches, executor, config, key, cache, on_batch)
    cache.compact()

    stats = EmbedStats(
        n_images=len(ids),
        n_cached=sum(1 for d in hashes if d is not None and d in cached),
        n_computed=len(todo),
        n_missing=sum(1 for p in problems.values() if p.status == "missing"),
        executor=ran_on,
    )
    return _faces_table(ids, hashes, problems, cache.load(), not_cached, key), stats


def _hashed(paths: list) -> tuple[list[str | None], dict[int, ImageProblem]]:
    """Every image's content hash (the cache key), read on threads because reading is
    I/O-bound; an image that cannot be read becomes a problem row, not an error."""
    with ThreadPoolExecutor(HASH_THREADS) as pool:
        hashed = list(pool.map(content_hash, paths))
    problems = {i: h for i, h in enumerate(hashed) if isinstance(h, ImageProblem)}
    hashes = [None if i in problems else h for i, h in enumerate(hashed)]
    return hashes, problems


def _to_compute(ids: list[str], paths: list, hashes: list[str | None],
                cached: set[str]) -> dict[str, ImageTask]:
    """One task per distinct content the cache lacks: a copy of an image under another
    name is embedded once."""
    todo: dict[str, ImageTask] = {}
    for image_id, path, digest in zip(ids, paths, hashes, strict=True):
        if digest is not None and digest not in cached and digest not in todo:
            todo[digest] = ImageTask(image_id, digest, str(path))
    return todo


def _compute(batches: list, executor, config: PipelineConfig, key: str, cache: FacesCache,
             on_batch: Callable[[int], None] | None) -> tuple[str, dict[str, dict]]:
    """Run the batches on the executor, each written to the cache as it finishes (so a
    lost run keeps what finished); returns where they ran and this run's rows the
    cache does not keep (errors, retried next time)."""
    not_cached: dict[str, dict] = {}  # this run's rows the cache does not keep (errors)
    ran_on = "none (all cached)"
    if batches:
        with open_executor(executor) as runner:
            ran_on = runner.description
            for rows in runner.map_batches(config, key, batches):
                cache.write_batch(rows)  # the client is the only writer (executors.py)
                not_cached.update((row["content_hash"], row) for row in rows
                                  if row["status"] not in CACHED_STATUSES)
                if on_batch:
                    on_batch(len(rows))
    return ran_on, not_cached


def _faces_table(ids: list[str], hashes: list[str | None], problems: dict[int, ImageProblem],
                 stored: pa.Table, not_cached: dict[str, dict], key: str) -> pa.Table:
    """One faces row per manifest row, in manifest order, taken from the cache's
    Arrow table (no Python object per embedding value, so a million rows fit)
    plus the rows the cache does not keep (``missing``, ``error``, and files
    that could not be read to hash them)."""
    position = {h: i for i, h in enumerate(stored.column("content_hash").to_pylist())}
    others: list[dict] = []
    take = []
    for number, (image_id, digest) in enumerate(zip(ids, hashes, strict=True)):
        if digest in position:
            take.append(position[digest])
            continue
        problem = problems.get(number)
        row = (dict(not_cached[digest]) if problem is None
               else empty_row(image_id, None, key, problem.status, problem.message))
        take.append(stored.num_rows + len(others))
        others.append(row)
    table = pa.concat_tables([stored, pa.Table.from_pylist(others, schema=FACES)])
    table = table.take(pa.array(take, pa.int64()))
    column = FACES.get_field_index("image_id")
    return table.set_column(column, FACES.field("image_id"), pa.array(ids, pa.string()))

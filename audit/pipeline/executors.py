"""Where embedding batches run: local worker processes or a Dask cluster, same rows either way.

:func:`~audit.pipeline.run.embed_manifest` makes the batches (lists of
:class:`~audit.pipeline.embed.ImageTask`) and hands them to an executor, which
yields each batch's faces rows as the batch finishes. One string chooses it
(:func:`parse_executor`):

- ``local`` (default): ``workers`` spawned worker processes on this machine
  (1 = in this process). Needs no Dask at run time.
- ``dask-local``: a Dask ``LocalCluster`` of ``workers`` processes with one
  thread each, started and stopped by the tool.
- a scheduler address such as ``tcp://host:8786``: an existing Dask cluster,
  however it was started (``dask scheduler`` + ``dask worker``,
  dask-jobqueue on SLURM/PBS, dask-kubernetes). From Python, an open
  ``distributed.Client`` is accepted too.

**Same rows whichever executor.** Every executor runs the same batches,
made by the client, through the same function (:func:`~audit.pipeline.embed.embed_batch` on a
:class:`~audit.pipeline.embed.FaceEmbedder`), so a batch's rows do not depend on where it ran.
Before any work is sent, every Dask worker is checked
(:func:`~audit.pipeline.workers.worker_problems`): its weights folder must
hold the files the configuration needs, its library versions must give the
client's cache key, and it must see the images; a worker that fails any check stops the run in seconds, named by its address.
A worker that joins later is checked the same way before its first batch.

**Models load once per worker**, not once per batch: each worker process
keeps its embedders in a per-process cache keyed by configuration
(:func:`~audit.pipeline.workers.process_embedder`), built on the first batch it runs and dropped at
the end of the run. The local executor fills the same cache from its pool
initializer. deepface and dlib objects are built where they are used and never
pickled; a task carries only the configuration and image paths.

**The client writes the cache.** Workers return rows (about 22 kB per batch
of 16) and the client writes each finished batch as it arrives, one atomic
Parquet part (:class:`~audit.pipeline.cache.FacesCache`). Why the client and
not the workers: workers need no write access to the cache folder, nor a file
system shared with it (Kubernetes pods, cloud workers); the client sees each
task's result once, so a batch that Dask re-runs after losing a worker is
still written once; and a write is a few milliseconds against about 2 s of
work per batch, so one writer is never the bottleneck. A lost worker loses
only its unfinished batches (Dask runs them elsewhere); a lost client or
scheduler loses only batches not yet returned, and the next run computes
exactly those.

**Failures.** One image's failure is a row with a status (:mod:`.embed`), a
whole batch's failure is ``error`` rows (:func:`~audit.pipeline.embed.embed_batch`), and a batch
that killed the workers running it ``distributed.scheduler.allowed-failures``
times is ``error`` rows too; none is cached, so the next run retries them. A
worker that cannot work (weights, versions, data, model) and a lost
scheduler stop the run with one line (:class:`ExecutorError`, or
:class:`~audit.pipeline.weights.WeightsError`); what finished stays cached.

"Bit for bit" assumes the workers have the client's kind of CPU: float32
libraries pick kernels per CPU, which may change last bits elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from audit.choices import LOCAL
from audit.execution.choice import ExecutorChoice, ExecutorError
from audit.execution.cluster import Cluster, open_cluster
from audit.execution.local import describe_local, map_in_processes

from .config import PipelineConfig, software_versions
from .embed import ImageTask, embed_batch, empty_row
from .weights import WeightsError
from .workers import (
    WorkerNotReady,
    process_embedder,
    release_embedder,
    worker_problems,
)

#: Seconds to wait for a first worker on an existing cluster (a batch queue may be slow).
WORKER_TIMEOUT = 600

_NO_WORKERS = (
    "no Dask worker joined the scheduler at {address} within {timeout} s; start workers "
    "(README, 'Running on a cluster')"
)
_SCHEDULER_LOST = (
    "lost the Dask scheduler at {address} ({reason}); {done} of {total} batches finished "
    "and are in the cache: run again to compute the rest"
)
_WORKER_FAILED = "a Dask worker failed a batch outside any image: {error}"
_BATCH_LOST = (
    "batch lost: Dask workers died {times} times while running it (KilledWorker); not "
    "cached, so the next run retries it"
)
logger = logging.getLogger(__name__)


class Executor(Protocol):
    """Runs batches; yields each batch's rows (in the batch's order) as the batch finishes."""

    description: str

    def map_batches(self, config: PipelineConfig, key: str,
                    batches: Sequence[list[ImageTask]]) -> Iterator[list[dict]]: ...


# -- local: a spawn process pool, or this process ---------------------------------

def _init_process(config: PipelineConfig, key: str) -> None:
    process_embedder(config, key)


def _process_batch(config: PipelineConfig, key: str, tasks: list[ImageTask]) -> list[dict]:
    embedder, lock = process_embedder(config, key)
    with lock:
        return embed_batch(embedder, tasks)


class LocalExecutor:
    """``workers`` spawned processes on this machine (1 = this process)."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self.description = describe_local(workers)

    def map_batches(self, config: PipelineConfig, key: str,
                    batches: Sequence[list[ImageTask]]) -> Iterator[list[dict]]:
        yield from map_in_processes(_process_batch, batches, self.workers, args=(config, key),
                                    initializer=_init_process)
        if self.workers <= 1:
            release_embedder(key)


# -- Dask -----------------------------------------------------------------------

#: Per-process record of configuration keys whose checks passed here (Dask workers).
_CHECKED: set[str] = set()


def _dask_batch(config: PipelineConfig, key: str, versions: dict[str, str],
                tasks: list[ImageTask]) -> list[dict]:
    """A Dask task: one batch's rows, on whichever worker runs it.

    The first batch a worker process runs checks the worker (as the client did
    for the workers present at the start; this covers workers that joined
    later, or were restarted) and builds its embedder.
    """
    from distributed import get_worker

    if key not in _CHECKED:
        problems = worker_problems(config, key, versions, tasks[0].path)
        if problems:
            address = get_worker().address
            kinds = [kind for kind, _ in problems]
            raise WorkerNotReady("weights" if "weights" in kinds else kinds[0],
                                 "; ".join(f"Dask worker {address}: {m}" for _, m in problems))
        _CHECKED.add(key)
    try:
        embedder, lock = process_embedder(config, key)
    except Exception as error:  # cannot build the model at all: stop the run, say where
        raise WorkerNotReady("model", f"Dask worker {get_worker().address} cannot load "
                             f"{config.describe()}: {type(error).__name__}: {error}") from None
    with lock:
        return embed_batch(embedder, tasks)


def _check_on_worker(config, key, versions, sample, dask_worker=None):
    problems = worker_problems(config, key, versions, sample)
    if not problems:
        _CHECKED.add(key)
    return problems


def _release_on_worker(key: str, dask_worker=None) -> bool:
    _CHECKED.discard(key)
    return release_embedder(key)


def _task_key(key: str, batch: list[ImageTask]) -> str:
    """A stable Dask key per batch: the same images and configuration, the same task."""
    digest = hashlib.sha256("".join(t.content_hash for t in batch).encode()).hexdigest()
    return f"lfr-audit-embed-{key}-{digest[:20]}"


class DaskExecutor:
    """Batches as tasks on an open Dask cluster (:class:`~audit.execution.cluster.Cluster`)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.client = cluster.client
        self.address = cluster.client.scheduler.address
        self.description = cluster.description
        self._slots = (0.0, 1)  # (when counted, worker threads)

    def _worker_threads(self) -> int:
        counted_at, threads = self._slots
        if time.monotonic() - counted_at > 2.0:
            with contextlib.suppress(OSError, TimeoutError):  # a lost scheduler shows below
                threads = max(1, sum(self.client.nthreads().values()))
            self._slots = (time.monotonic(), threads)
        return threads

    def _check_workers(self, config, key, versions, sample) -> None:
        """Every current worker must pass :func:`worker_problems`, else stop now."""
        try:
            self.client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
        except TimeoutError:
            raise ExecutorError(_NO_WORKERS.format(address=self.address,
                                                   timeout=WORKER_TIMEOUT)) from None
        answers = self.client.run(_check_on_worker, config, key, versions, sample,
                                  on_error="return")
        weights, other = [], []
        for address, answer in sorted(answers.items()):
            if isinstance(answer, BaseException):
                other.append(f"Dask worker {address}: check failed: "
                             f"{type(answer).__name__}: {answer}")
                continue
            for kind, message in answer:
                (weights if kind == "weights" else other).append(
                    f"Dask worker {address}: {message}")
        if weights:
            raise WeightsError("; ".join(weights + other))
        if other:
            raise ExecutorError("; ".join(other))

    def _lost(self, reason: str, done: int, total: int) -> None:
        self.cluster.lost = True
        raise ExecutorError(_SCHEDULER_LOST.format(address=self.address, reason=reason,
                                                   done=done, total=total))

    def map_batches(self, config: PipelineConfig, key: str,
                    batches: Sequence[list[ImageTask]]) -> Iterator[list[dict]]:
        from distributed import as_completed
        from distributed.client import FutureCancelledError

        if not batches:
            return
        versions = software_versions()
        self._check_workers(config, key, versions, batches[0][0].path)
        client = self.client
        queue = iter(batches)
        running = as_completed()
        submitted: dict[str, list[ImageTask]] = {}
        done = 0

        def top_up() -> None:
            # Keep about two batches per worker thread in flight: enough to keep
            # every worker busy, few enough that the scheduler holds little.
            while running.count() < max(4, 2 * self._worker_threads()):
                batch = next(queue, None)
                if batch is None:
                    return
                task_key = _task_key(key, batch)
                submitted[task_key] = batch
                running.add(client.submit(_dask_batch, config, key, versions, batch,
                                          key=task_key, retries=0))

        try:
            top_up()
            for future in running:
                batch = submitted.pop(future.key)
                try:
                    rows = future.result()
                except FutureCancelledError as error:
                    self._lost(error.reason, done, len(batches))
                except Exception as error:
                    if future.status != "error":  # no answer from the cluster, not a task's error
                        self._lost(f"{type(error).__name__}: {error}", done, len(batches))
                    rows = _failed_batch(error, batch, key)
                future.release()
                done += 1
                yield rows
                top_up()
        finally:
            if not self.cluster.lost:
                for future in list(running.futures):
                    future.cancel()
                if not self.cluster.owned:  # a shared cluster: free the workers' memory
                    with contextlib.suppress(Exception):
                        client.run(_release_on_worker, key, on_error="ignore")


def _failed_batch(error: Exception, batch: list[ImageTask], key: str) -> list[dict]:
    """Rows for a batch whose task raised: a batch that kept killing workers is
    ``error`` rows (the run goes on); a worker that cannot work stops the run."""
    from distributed.scheduler import KilledWorker

    if isinstance(error, KilledWorker):
        logger.warning("batch lost on the cluster: %s", error)
        message = _BATCH_LOST.format(times=_allowed_failures())
        return [empty_row(t.image_id, t.content_hash, key, "error", message) for t in batch]
    if isinstance(error, WorkerNotReady):
        raise (WeightsError(str(error)) if error.kind == "weights"
               else ExecutorError(str(error))) from None
    raise ExecutorError(_WORKER_FAILED.format(error=f"{type(error).__name__}: {error}")) from None


def _allowed_failures() -> int:
    import dask

    return int(dask.config.get("distributed.scheduler.allowed-failures"))


@contextlib.contextmanager
def open_executor(executor: ExecutorChoice | Executor | Any) -> Iterator[Executor]:
    """The executor ``executor`` names, open for the duration of the ``with`` block.

    ``executor`` is a parsed choice (:func:`~audit.execution.choice.parse_executor`),
    an executor already open (used as is), or a ``distributed.Client`` (used,
    not closed). A Dask cluster is opened and closed by
    :func:`~audit.execution.cluster.open_cluster`.
    """
    if hasattr(executor, "map_batches"):
        yield executor
        return
    if not isinstance(executor, ExecutorChoice):  # a distributed.Client the caller manages
        yield DaskExecutor(Cluster(executor, f"Dask cluster at {executor.scheduler.address}"))
        return
    if executor.kind == LOCAL:
        yield LocalExecutor(executor.workers)
        return
    with open_cluster(executor) as cluster:
        yield DaskExecutor(cluster)

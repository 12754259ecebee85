"""Dask cluster lifecycle: start a LocalCluster, connect to a scheduler, close both.

Used by the pipeline's executors (embedding batches) and by the 1:N search
(:func:`scheduler_client`). Dask is imported only inside the functions, so
importing this module costs nothing for runs that never use it. Closing after
a lost scheduler is quiet: distributed's reconnection tracebacks would bury
the one-line error that says what happened.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from audit.choices import DASK, DASK_LOCAL

from .choice import ExecutorChoice, ExecutorError

#: Seconds to reach a scheduler before giving up.
CONNECT_TIMEOUT = 30

_UNREACHABLE = (
    "cannot reach the Dask scheduler at {address} ({error}); check the address and that "
    "the scheduler is running"
)

@contextlib.contextmanager
def quiet_distributed() -> Iterator[None]:
    """Silence distributed's own loggers while tearing down after a lost scheduler
    (they print reconnection tracebacks; the one-line error says it all)."""
    loggers = [logging.getLogger(name) for name in ("distributed", "tornado")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)



#: LocalCluster options: no dashboard, and the scheduler's HTTP server on any free
#: port (it still starts one, by default on 8787, which another cluster may hold).
LOCAL_CLUSTER_OPTIONS: dict[str, Any] = {
    "threads_per_worker": 1, "processes": True, "dashboard_address": None,
    "scheduler_kwargs": {"dashboard": False, "dashboard_address": ":0"},
}


def start_local_cluster(workers: int) -> Any:
    """A Dask LocalCluster of ``workers`` processes (spawned), one thread each.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which
    makes glibc hand memory back after every decoded image: 6% more CPU per
    image here (``benchmarks/results_executors.md``). These workers start
    without it, as local worker processes do. Call inside
    :func:`kept_environ`: the nanny sets its worker variables in the process
    that starts it.
    """
    import dask
    from distributed import LocalCluster

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    environ["MALLOC_TRIM_THRESHOLD_"] = None  # None: not set (distributed's convention)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return LocalCluster(n_workers=workers, **LOCAL_CLUSTER_OPTIONS)


@contextlib.contextmanager
def kept_environ() -> Iterator[None]:
    """Restore, on exit, the environment variables Dask's nanny sets.

    The nanny writes its worker variables (``OMP_NUM_THREADS=1``,
    ``PYTHONHASHSEED``...) into the environment of the process that runs it,
    the client's for a LocalCluster, where every process started later would
    inherit them.
    """
    import dask

    names = {*dask.config.get("distributed.nanny.pre-spawn-environ"), "PYTHONHASHSEED"}
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def connect(address: str) -> Any:
    from distributed import Client

    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as error:
        raise ExecutorError(_UNREACHABLE.format(address=address, error=error)) from None


@contextlib.contextmanager
def scheduler_client(choice: ExecutorChoice) -> Iterator[Any]:
    """A ``distributed.Client`` when ``choice`` is a scheduler address, else None.

    For stages that can use an existing cluster but are not worth starting one
    for, such as the 1:N search (``identification_scores(..., client=...)``).
    """
    if choice.kind != DASK:
        yield None
        return
    client = connect(choice.address)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=CONNECT_TIMEOUT)


@dataclass
class Cluster:
    """An open connection to a Dask cluster, and whether this process started it."""

    client: Any
    description: str
    local: Any = None  # the LocalCluster started for this run, if any
    lost: bool = False  # set when the scheduler went away mid-run: close quietly, fast

    @property
    def owned(self) -> bool:
        return self.local is not None

    def close(self) -> None:
        timeout = 5 if self.lost else 30
        with quiet_distributed() if self.lost else contextlib.nullcontext():
            with contextlib.suppress(Exception):
                self.client.close(timeout=timeout)
            if self.local is not None:
                with contextlib.suppress(Exception):
                    self.local.close(timeout=timeout)


@contextlib.contextmanager
def open_cluster(choice: ExecutorChoice) -> Iterator[Cluster]:
    """The Dask cluster ``choice`` names, for the duration of the ``with`` block.

    ``dask-local``: a LocalCluster of ``choice.workers`` processes, started
    here and stopped on exit (the client's environment restored, see
    :func:`kept_environ`); a scheduler address: a connection, closed on exit.
    """
    if choice.kind not in (DASK, DASK_LOCAL):
        raise ValueError(f"{choice} is not a Dask executor")
    if choice.kind == DASK_LOCAL:
        from distributed import Client

        with kept_environ():
            local = start_local_cluster(choice.workers)
            cluster = Cluster(Client(local), f"dask-local ({choice.workers} worker processes)",
                              local)
            try:
                yield cluster
            finally:
                cluster.close()
        return
    client = connect(choice.address)
    cluster = Cluster(client, f"Dask cluster at {client.scheduler.address}")
    try:
        yield cluster
    finally:
        cluster.close()

"""Batches through worker processes on this machine, or in this process.

The default executor: ``workers`` spawned processes (nothing inherited from
the CLI's state), at most two batches queued per worker so that an
interrupted run has little in flight, results yielded as batches finish.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any


def describe_local(workers: int) -> str:
    """How a run's report names this executor."""
    return f"local ({workers} worker processes)" if workers > 1 else "local (in this process)"


def map_in_processes(task: Callable[..., Any], batches: Iterable[Any], workers: int, *,
                     args: tuple = (), initializer: Callable[..., None] | None = None,
                     ) -> Iterator[Any]:
    """``task(*args, batch)`` for every batch, yielded as each finishes.

    With ``workers`` <= 1 the batches run here, in order. Otherwise ``task``
    and ``initializer`` (called once per process with ``args``, e.g. to load
    a model) must be importable module-level functions, and ``args`` picklable.
    """
    if workers <= 1:
        for batch in batches:
            yield task(*args, batch)
        return
    context = multiprocessing.get_context("spawn")  # no state inherited from the CLI
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=initializer, initargs=args) as pool:
        pending = set()
        for batch in batches:  # at most 2 batches queued per worker
            pending.add(pool.submit(task, *args, batch))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)

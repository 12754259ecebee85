"""The executor string, read once: ``local``, ``dask-local`` or a scheduler address.

The spec and the CLI turn the string into an :class:`ExecutorChoice` here, at
the edge; every stage after that takes the typed choice. Nothing heavy is
imported, so validating a spec costs no Dask, OpenCV or deepface.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from audit.choices import ADDRESS_SCHEMES, DASK, DASK_LOCAL, LOCAL

_BAD_EXECUTOR = (
    "executor {text!r} is not one of 'local', 'dask-local' or a Dask scheduler address "
    "such as tcp://host:8786"
)


class ExecutorError(RuntimeError):
    """The executor cannot start or finish the run; the message says what to do."""


@dataclass(frozen=True)
class ExecutorChoice:
    """A parsed executor string."""

    kind: str  # LOCAL, DASK_LOCAL or DASK
    workers: int = 1  # worker processes (LOCAL, DASK_LOCAL); the cluster's own for DASK
    address: str | None = None

    def with_workers(self, workers: int) -> ExecutorChoice:
        """The same choice with ``workers`` processes (checked as on parsing)."""
        _check_workers(workers)
        return replace(self, workers=workers)

    def __str__(self) -> str:
        """The string it was read from (``tcp://...`` for a scheduler address)."""
        return self.address if self.kind == DASK else self.kind


def _check_workers(workers: int) -> None:
    if workers < 1:
        raise ExecutorError(f"workers must be at least 1, got {workers}")


def parse_executor(text: str, workers: int = 1) -> ExecutorChoice:
    """Read ``local``, ``dask-local`` or a scheduler address (``tcp://host:8786``).

    ``workers`` is the number of worker processes for ``local`` and
    ``dask-local``; an existing cluster has its own workers.

    >>> parse_executor("tcp://10.0.0.5:8786")
    ExecutorChoice(kind='dask', workers=1, address='tcp://10.0.0.5:8786')
    >>> str(parse_executor(" dask-local ", workers=2))
    'dask-local'
    """
    _check_workers(workers)
    text = text.strip()
    if text in (LOCAL, DASK_LOCAL):
        return ExecutorChoice(text, workers)
    if text.startswith(ADDRESS_SCHEMES) and len(text) > text.index("://") + 3:
        return ExecutorChoice(DASK, workers, text)
    raise ExecutorError(_BAD_EXECUTOR.format(text=text))

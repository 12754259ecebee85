"""What runs inside a worker process: its embedders, built once, and its readiness checks.

Local pool workers and Dask workers alike keep their embedders in a
per-process cache keyed by configuration (:func:`process_embedder`), built on
the first batch and dropped at the end of a run. Before a Dask worker gets a
batch it must pass :func:`worker_problems`: the weights the configuration
needs, library versions that give the client's cache key, and a view of the
images. :mod:`.executors` hands batches to these workers.
"""

from __future__ import annotations

import os
import threading

from .config import PipelineConfig, config_key, software_versions
from .embed import FaceEmbedder, is_url
from .weights import WeightsError, require

_NOT_VISIBLE = (
    "cannot see {path}: put the images on a file system every worker mounts at the same "
    "path, or give the dataset root as a URL every worker can read (fsspec: file://, or a "
    "protocol whose fsspec package every worker has)"
)
_VERSIONS_DIFFER = (
    "its software versions give another cache key than the client's ({differences}); "
    "install the same lfr-audit and pinned stack on every worker"
)


class WorkerNotReady(RuntimeError):
    """Raised on a worker that cannot compute rows identical to the client's.

    ``args`` are (kind, message), kind being ``weights``, ``versions``, ``data``
    or ``model``, so the client can re-raise a weights problem as
    :class:`~audit.pipeline.weights.WeightsError`.
    """

    @property
    def kind(self) -> str:
        return self.args[0]

    def __str__(self) -> str:
        return self.args[1]


_EMBEDDERS: dict[str, tuple[FaceEmbedder, threading.Lock]] = {}
_EMBEDDERS_LOCK = threading.Lock()
#: How many embedders this process has built, by configuration key (tests read it).
BUILDS: dict[str, int] = {}


def process_embedder(config: PipelineConfig, key: str) -> tuple[FaceEmbedder, threading.Lock]:
    """This process's embedder for ``key`` (built on first use) and the lock that
    serialises its use (a Dask worker may run several threads; deepface and dlib
    objects are not documented as thread-safe)."""
    with _EMBEDDERS_LOCK:
        entry = _EMBEDDERS.get(key)
        if entry is None:
            entry = _EMBEDDERS[key] = (FaceEmbedder(config, key), threading.Lock())
            BUILDS[key] = BUILDS.get(key, 0) + 1
    return entry


def release_embedder(key: str) -> bool:
    """Drop this process's embedder for ``key``; True if there was one."""
    with _EMBEDDERS_LOCK:
        return _EMBEDDERS.pop(key, None) is not None


def _exists(location: str) -> bool:
    if is_url(location):
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(location)
        return fs.exists(path)
    return os.path.exists(location)


def worker_problems(config: PipelineConfig, key: str, versions: dict[str, str],
                    sample: str | None) -> list[tuple[str, str]]:
    """What stops this process from computing the client's rows, as (kind, message) pairs.

    Checks, without importing deepface: the weights and packages the
    configuration needs (:func:`~audit.pipeline.weights.require`, which also
    seeds the Dlib files from their PyPI package here), that this process's
    library versions give the client's cache key ``key``, and that it can see
    ``sample`` (one image of the run).
    """
    problems = []
    try:
        require(config.model, config.detector, needs_landmarks=config.detector != "skip")
    except WeightsError as error:
        problems.append(("weights", str(error)))
    if config_key(config) != key:
        mine = software_versions()
        differences = ", ".join(
            f"{name} {mine.get(name, 'absent')} here, {theirs} on the client"
            for name, theirs in sorted(versions.items()) if mine.get(name) != theirs
        ) or "versions agree, so lfr-audit itself differs"
        problems.append(("versions", _VERSIONS_DIFFER.format(differences=differences)))
    if sample is not None and not _exists(sample):
        problems.append(("data", _NOT_VISIBLE.format(path=sample)))
    return problems

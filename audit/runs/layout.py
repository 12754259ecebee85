"""Audit runs: spec -> dataset -> faces -> scores -> metrics -> report, in a run folder.

A run folder (``runs/<UTC timestamp>-<spec hash>/``) holds the spec as run,
``provenance.json``, the stage tables (Parquet), ``metrics.json`` (summary),
``policy.json`` and the report. It is assembled in a hidden ``.partial-``
folder and renamed into place only when complete, so a failed or interrupted
run never leaves a folder that looks finished.

Reuse: each stage's table is also kept in ``<cache_dir>/stages/``, keyed by the
hash of the spec parts it depends on (:meth:`AuditSpec.stage_inputs`) and the
dataset fingerprint. A spec that changes only thresholds, policy or report
options restarts from the cached scores; deepface is never loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..tables import package_versions, write_table
from .provenance import Provenance

if TYPE_CHECKING:  # the report package is heavy; a user mistake must not wait for it
    from ..report.policy_outcome import PolicyOutcome

#: Packages whose versions every run records.
RECORDED_PACKAGES = ("lfr-audit", "deepface", "dlib-bin", "tensorflow", "numpy", "pandas",
                     "pyarrow", "scipy", "fairlearn", "opencv-contrib-python-headless",
                     "jinja2", "weasyprint", "matplotlib")
#: Stage tables in a run folder.
MANIFEST_FILE, FACES_FILE = "manifest.parquet", "faces.parquet"
SCORES_FILE, METRICS_FILE = "scores.parquet", "metrics.parquet"
PARTIAL_PREFIX = ".partial-"


class RunError(RuntimeError):
    """A run cannot start or finish; the message says why."""


@dataclass
class StageClock:
    """Wall-clock seconds per stage, and which stages came from the cache."""

    seconds: dict[str, float] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)

    def timed(self, stage: str, work: Callable):
        start = time.perf_counter()
        try:
            return work()
        finally:
            self.seconds[stage] = round(time.perf_counter() - start, 3)


def versions() -> dict[str, str]:
    return package_versions(RECORDED_PACKAGES)


def host_info() -> dict[str, object]:
    """The machine, without user or host names (they identify people)."""
    return {"python": platform.python_version(), "system": platform.system(),
            "machine": platform.machine(), "cpus": os.cpu_count()}


def run_id(spec_text: str, now: datetime) -> str:
    digest = hashlib.sha256(spec_text.encode()).hexdigest()[:8]
    return f"{now:%Y%m%d-%H%M%S}-{digest}"


class StageCache:
    """Stage tables kept between runs, keyed by their inputs' hash."""

    def __init__(self, cache_dir: Path) -> None:
        self.folder = Path(cache_dir) / "stages"

    def path(self, stage: str, key: str) -> Path:
        return self.folder / f"{stage}-{key}.parquet"

    def get(self, stage: str, key: str) -> pa.Table | None:
        path = self.path(stage, key)
        return pq.read_table(path) if path.is_file() else None

    def put(self, stage: str, key: str, table: pa.Table) -> None:
        write_table(table, self.path(stage, key))


def publish(partial: Path, final: Path) -> Path:
    """Rename a finished run folder into place (atomic on one file system)."""
    os.replace(partial, final)
    return final


def discard(partial: Path) -> None:
    shutil.rmtree(partial, ignore_errors=True)


def is_run_folder(path: Path) -> bool:
    return (path.is_dir() and not path.name.startswith(PARTIAL_PREFIX)
            and (path / "provenance.json").is_file())


def list_runs(runs_dir: Path) -> list[Path]:
    """Finished run folders, oldest first (names start with their UTC timestamp)."""
    if not Path(runs_dir).is_dir():
        return []
    return sorted(p for p in Path(runs_dir).iterdir() if is_run_folder(p))


@dataclass(frozen=True)
class RunRecord:
    """A finished run's JSON records, typed: provenance, metrics digest, policy outcome."""

    provenance: Provenance
    summary: Mapping[str, Any]  # audit.metrics.summarize_metrics (a digest for listings)
    policy_record: Mapping[str, Any] | None  # policy.json as written; None: not recorded

    @property
    def policy(self) -> PolicyOutcome | None:
        from ..report.policy_outcome import PolicyOutcome

        return None if self.policy_record is None else PolicyOutcome.from_json(self.policy_record)


def read_run(folder: Path) -> RunRecord:
    """A finished run's records (``provenance.json`` required, the others optional)."""
    folder = Path(folder)
    if not (folder / "provenance.json").is_file():  # a run being written counts too
        raise RunError(f"{folder} is not a finished lfr-audit run folder (no provenance.json)")
    found = {name: json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
             for name in ("provenance", "summary", "policy")
             if (folder / f"{name}.json").is_file()}
    return RunRecord(Provenance.from_json(found["provenance"], run_id=folder.name),
                     found.get("summary", {}), found.get("policy"))

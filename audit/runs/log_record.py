"""A score log's record beside its metrics table, and the report's description from it.

``lfr-audit metrics LOG`` writes ``metrics.about.json`` beside
``metrics.parquet``: plain JSON (never pickle), the score log's counterpart of
a run folder's ``provenance.json``. It holds what the user stated in an about
file (:mod:`audit.log_about`; ``about`` is null without one), the command's
options (thresholds, groupings, statistics, projection), the names of the
files read (names only: no folder of this machine is published), counts
taken from the log itself, the date and package versions.
:func:`run_info_from_record` turns it into the report's
:class:`~audit.report.inputs.RunInfo`, so a score log's report states its
system, data and labels as a run's report does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.report.inputs import (
    OTHER,
    PERCEIVED,
    SELF_REPORTED,
    UNKNOWN_SOURCE,
    DatasetInfo,
    ProjectionInputs,
    RunInfo,
    StatisticsInfo,
    SystemUnderTest,
    ThresholdInfo,
    WatchlistDesign,
)
from audit.tables import package_versions, write_json

#: The record's file name is the metrics table's with this suffix (metrics.about.json).
SUFFIX = ".about.json"
FORMAT = 1
#: Packages whose versions computed a score log's metrics (no deepface: nothing was embedded).
LOG_PACKAGES = ("lfr-audit", "numpy", "pandas", "pyarrow", "scipy", "statsmodels", "fairlearn")
BAD_RECORD = "{path} is not a score log's record ({problem}); re-run lfr-audit metrics to write it"


def record_path(metrics_path: Path) -> Path:
    """``metrics.parquet`` -> ``metrics.about.json``, beside it."""
    return Path(metrics_path).with_suffix(SUFFIX)


def log_counts(scores: pa.Table, images: pd.DataFrame) -> dict[str, int | None]:
    """People, images, 1:1 comparisons and 1:N searches in a checked score log.

    ``images`` has one row per image the trials mention (``image_id``,
    ``subject_id``); a log without image ids lets each person stand for their
    images (image id = subject id): the number of images is then unknown (None).
    """
    kinds = pc.value_counts(scores.column("trial_kind").combine_chunks())
    by_kind = {str(k): int(n) for k, n in zip(kinds.field("values").to_pylist(),
                                              kinds.field("counts").to_pylist())}
    without_ids = images["image_id"].astype(str).equals(images["subject_id"].astype(str))
    return {
        "subjects": int(images["subject_id"].nunique()),
        "images": None if without_ids else len(images),
        "verification_trials": by_kind.get("verification", 0),
        "identification_searches": by_kind.get("identification", 0),
    }


def write_record(metrics_path: Path, *, about: Mapping[str, Any] | None,
                 sources: Mapping[str, str], options: Mapping[str, Any],
                 counts: Mapping[str, int | None]) -> Path:
    """Write the record beside ``metrics_path``; ``about`` is
    ``LogAbout.model_dump(mode="json")`` or None, ``sources`` role -> file name."""
    record = {
        "format": FORMAT,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "about": dict(about) if about is not None else None,
        "sources": {role: Path(name).name for role, name in sources.items()},
        "options": dict(options),
        "counts": dict(counts),
        "versions": package_versions(LOG_PACKAGES),
    }
    return write_json(record_path(metrics_path), record)


def read_record(metrics_path: Path) -> dict[str, Any] | None:
    """The record beside a metrics table, or None when there is none."""
    path = record_path(metrics_path)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(BAD_RECORD.format(path=path, problem=f"not JSON: {error}")) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(BAD_RECORD.format(path=path, problem=f"no format {FORMAT}"))
    return record


def run_info_from_record(record: Mapping[str, Any] | None, *, run_id: str,
                         about: Mapping[str, Any] | None = None) -> RunInfo:
    """The report's description of a score log's metrics table.

    ``record`` is :func:`read_record`'s (None: a bare metrics table);
    ``about``, a ``LogAbout`` dump, replaces the record's own (``report --about``).
    Without an about that states anything, ``described`` is False and the
    report says how to add one.
    """
    record = record or {}
    about = about if about is not None else (record.get("about") or {})
    options, counts = record.get("options", {}), record.get("counts", {})
    report, system = about.get("report", {}), about.get("system", {})
    stats = options.get("statistics", {})
    return RunInfo(
        run_id=str(record.get("sources", {}).get("trials") or run_id),
        date=str(record.get("created_utc", "")),
        title=str(report.get("title", "")),
        spec={"about": about, "options": options} if record or about else {},
        provenance=_provenance(record),
        system=_system(system, options.get("thresholds", ())),
        watchlist=_watchlist(about.get("watchlist", {}), options.get("projection") or {}),
        datasets=_datasets(about.get("dataset", {}), counts),
        projection=_projection(options.get("projection")),
        statistics=StatisticsInfo(interval=stats.get("interval"),
                                  min_subjects=stats.get("min_subjects"),
                                  min_trials=stats.get("min_trials")),
        score_log=bool(record),
        described=_states_anything(about),
    )


def _states_anything(about: Mapping[str, Any]) -> bool:
    """Whether an about dump has any non-empty value (its defaults are empty)."""
    return any(value not in (None, "", {}) for section in about.values()
               if isinstance(section, Mapping) for value in section.values())


def _provenance(record: Mapping[str, Any]) -> dict[str, Any]:
    if not record:
        return {}
    return {"versions": record.get("versions", {}), "sources": record.get("sources", {}),
            "counts": record.get("counts", {})}


def _system(system: Mapping[str, Any], thresholds) -> SystemUnderTest:
    """The stated system; deployment thresholds carry the stated origin, when given."""
    origin = str(system.get("threshold_origin", ""))
    return SystemUnderTest(
        vendor=str(system.get("vendor", "")), product=str(system.get("product", "")),
        version=str(system.get("version", "")), model=str(system.get("model", "")),
        detector=str(system.get("detector", "")), score_note=str(system.get("score", "")),
        thresholds=tuple(ThresholdInfo(float(t), "deployment", OTHER, origin)
                         for t in thresholds) if origin else (),
    )


def _watchlist(watchlist: Mapping[str, Any], projection: Mapping[str, Any]) -> WatchlistDesign:
    """The stated watchlist; its size, when unstated, is the ``--audit-watchlist`` of a
    projection (the size the searches were made against, which the projection's rates
    hold for)."""
    size = watchlist.get("size") or projection.get("audit_watchlist")
    return WatchlistDesign(size=size, draws=watchlist.get("draws"),
                           description=str(watchlist.get("description", "")),
                           composition=dict(watchlist.get("composition") or {}),
                           composition_by=str(watchlist.get("composition_by", "")))


def _datasets(dataset: Mapping[str, Any], counts: Mapping[str, Any]) -> tuple[DatasetInfo, ...]:
    """The stated dataset (a built-in one's card fills what is left empty), with the
    people and images counted from the log; none when nothing describes it."""
    from audit.datasets.cards import described

    name = str(dataset.get("name", ""))
    if not any(dataset.get(k) for k in dataset) and not counts:
        return ()
    card = described(name, **{k: str(dataset.get(k) or "") for k in
                              ("description", "label_origin", "citation", "licence")})
    provenance = dataset.get("label_provenance") or (
        PERCEIVED if name in ("lfw", "utkface") else UNKNOWN_SOURCE)
    stated = [f"{dataset[k]:,} {word}" for k, word in (("subjects", "people"),
                                                        ("images", "images")) if dataset.get(k)]
    return (DatasetInfo(
        name=name or "the score log's images",
        description=card["description"],
        collection=str(dataset.get("collection", "")),
        label_source=provenance if provenance in (PERCEIVED, SELF_REPORTED) else UNKNOWN_SOURCE,
        label_origin=card["label_origin"],
        subjects=counts.get("subjects"),
        images=counts.get("images"),
        citation=card["citation"],
        licence=card["licence"],
        comparisons=counts.get("verification_trials"),
        searches=counts.get("identification_searches"),
        notes=(f"the whole dataset holds {' and '.join(stated)}, as its description states",)
        if stated else (),
    ),)


def _projection(projection: Mapping[str, Any] | None) -> ProjectionInputs | None:
    if not projection:
        return None
    return ProjectionInputs(crowd=int(projection["crowd"]),
                            watchlist=int(projection["watchlist"]),
                            share_on_watchlist=float(projection["share_on_watchlist"]))

"""The report's description of a score log's metrics table, from its record.

:mod:`audit.runs.log_record` writes the record (``metrics.about.json``) beside
the table; :func:`run_info_from_record` turns it into the report's
:class:`~audit.report.inputs.RunInfo`, so a score log's report states its
system, data and labels as a run's report does. Kept apart from the record's
writing because it imports the report package, which ``metrics`` needs only
with ``--report``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.report.inputs import (
    OTHER,
    PERCEIVED,
    SELF_REPORTED,
    TEST_SET,
    UNKNOWN_SOURCE,
    DatasetInfo,
    ProjectionInputs,
    RunInfo,
    StatisticsInfo,
    SystemUnderTest,
    ThresholdInfo,
    WatchlistDesign,
)


def run_info_from_record(record: Mapping[str, Any] | None, *, run_id: str,
                         about: Mapping[str, Any] | None = None) -> RunInfo:
    """The report's description of a score log's metrics table.

    ``record`` is :func:`audit.runs.log_record.read_record`'s (None: a bare metrics table);
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
        policy=record.get("policy") or {},
        label_values={str(k): tuple(map(str, v))
                      for k, v in (counts.get("label_values") or {}).items()},
    )


def _states_anything(about: Mapping[str, Any]) -> bool:
    """Whether an about dump has any non-empty value (its defaults are empty)."""
    return any(value not in (None, "", {}) for section in about.values()
               if isinstance(section, Mapping) for value in section.values())


def _provenance(record: Mapping[str, Any]) -> dict[str, Any]:
    if not record:
        return {}
    return {"versions": record.get("versions", {}), "sources": record.get("sources", {}),
            "counts": {k: v for k, v in record.get("counts", {}).items() if k != "label_values"},
            "inputs": record.get("inputs", {})}


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
    people and images counted from the log; none when nothing describes it. A built-in
    dataset is a test set; any other is one only when the about file says so."""
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
        setting=str(dataset.get("setting") or (TEST_SET if name in ("lfw", "utkface") else "")),
    ),)


def _projection(projection: Mapping[str, Any] | None) -> ProjectionInputs | None:
    if not projection:
        return None
    origins = projection.get("origins") or {}  # records before origins: the options
    return ProjectionInputs(
        crowd=int(projection["crowd"]), watchlist=int(projection["watchlist"]),
        share_on_watchlist=float(projection["share_on_watchlist"]),
        crowd_from=origins.get("crowd", "--crowd"),
        watchlist_from=origins.get("watchlist", "--watchlist"),
        share_from=origins.get("share_on_watchlist", "--share-on-watchlist"),
        audit_watchlist_from=origins.get("audit_watchlist", "--audit-watchlist"))

"""What a report needs besides the metrics table: the run's description.

:class:`RunInfo` is filled by the caller (the CLI reads a run folder; a test
writes it by hand). Everything here is data, never markup: every string is
escaped when the report is rendered. Fields that a run did not record keep
their defaults and the report says "not recorded".

:func:`run_info_from_spec` reads the parts of an audit spec (as a plain dict,
e.g. ``AuditSpec.model_dump(mode="json")``) that describe the system, the
watchlist, the projection and the statistics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from audit.choices import DEEPFACE_DEFAULT

#: Label provenance values the templates know how to describe.
PERCEIVED = "perceived"
SELF_REPORTED = "self-reported"
UNKNOWN_SOURCE = "unknown"
#: Where a deployment threshold came from (worded in the templates); deepface's own
#: default is :data:`audit.choices.DEEPFACE_DEFAULT`.
FROM_SPEC = "spec"
OTHER = "other"
#: What the images are (``DatasetInfo.setting``): a test set, or an export of live use.
TEST_SET = "test"
DEPLOYMENT_DATA = "deployment"


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class ThresholdInfo:
    """One operating threshold of the system and how it was chosen.

    ``operating_point`` is the metrics table's display label of the point
    (``"deployment"``, ``"deepface-default"``, ...), for reference only: the
    report matches thresholds by value. ``source`` is a code the
    templates word: :data:`FROM_SPEC` (given in the audit spec),
    :data:`DEEPFACE_DEFAULT` (the recognition library's default) or
    :data:`OTHER`; ``how_chosen`` is the operator's own reason, free text
    shown as given (e.g. "the force's published setting").
    """

    value: float
    operating_point: str = "deployment"
    source: str = "spec"
    how_chosen: str = ""


@dataclass(frozen=True)
class SystemUnderTest:
    """The face recognition configuration that was audited.

    ``vendor``, ``product`` and ``version`` name a system the tool did not run
    (a score log's about file, :mod:`audit.log_about`)."""

    vendor: str = ""
    product: str = ""
    version: str = ""
    model: str = ""
    detector: str = ""
    alignment: str = ""
    preprocessing: str = ""
    face_selection: str = ""  # centre | largest | all: the face(s) used when several are found
    normalization: str = ""
    distance: str = ""
    score_note: str = ""  # e.g. "similarity = 1 - cosine distance"
    thresholds: tuple[ThresholdInfo, ...] = ()


@dataclass(frozen=True)
class WatchlistDesign:
    """How the audit's 1:N watchlists were built."""

    size: int | None = None  # entries per watchlist (W in the audit)
    draws: int | None = None  # independent watchlist draws
    description: str = ""  # e.g. "one image per enrolled subject, drawn at random"
    #: Stated shares of groups on the watchlist (group -> share) by the label ``composition_by``.
    composition: Mapping[str, float] = field(default_factory=dict)
    composition_by: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "composition", _frozen(self.composition))


@dataclass(frozen=True)
class GroupCount:
    """Subjects and images of one group of one grouping in one dataset."""

    grouping: str
    group: str
    subjects: int
    images: int


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset of the audit.

    ``label_source`` is :data:`PERCEIVED` (labels assigned by annotators or
    a model from the image), :data:`SELF_REPORTED`, or :data:`UNKNOWN_SOURCE`;
    ``label_origin`` says who or what assigned them; ``description`` what the
    images are, for a lay reader (the dataset card's, or the spec's own words);
    ``setting`` :data:`TEST_SET` (collected to test systems), :data:`DEPLOYMENT_DATA`
    (exported from a system's live use) or empty (not stated).
    """

    name: str
    description: str = ""
    collection: str = ""  # how, where and when the images were captured
    label_source: str = PERCEIVED
    label_origin: str = ""
    subjects: int | None = None
    images: int | None = None
    comparisons: int | None = None  # 1:1 comparisons in a score log
    searches: int | None = None  # 1:N searches in a score log
    composition: tuple[GroupCount, ...] = ()
    notes: tuple[str, ...] = ()  # quirks, e.g. "gender labels conflict for 12 subjects"
    citation: str = ""
    licence: str = ""
    fingerprint: str = ""
    quirks: Mapping[str, int] = field(default_factory=dict)  # label quirk -> count
    setting: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "quirks", _frozen(self.quirks))


@dataclass(frozen=True)
class ProjectionInputs:
    """The deployment the run's projected rows describe: crowd scanned and share
    of it on the watchlist (``[projection]`` of the spec). ``watchlist`` is the
    deployment's own watchlist size: the figures are read at it when the rows hold
    rates at that size (a run's curve against watchlist size), else they hold for the
    audited size and it is stated beside them. The ``*_from`` fields say where each
    assumption came from, for the report (the spec's key, or a ``metrics`` option)."""

    crowd: int = 100_000
    watchlist: int = 10_000
    share_on_watchlist: float = 1e-4
    crowd_from: str = "[projection] crowd in the audit specification"
    watchlist_from: str = "[projection] watchlist in the audit specification"
    share_from: str = "[projection] share_on_watchlist in the audit specification"
    audit_watchlist_from: str = "[watchlist] size in the audit specification"


@dataclass(frozen=True)
class StatisticsInfo:
    """How intervals and sufficiency were decided (from the spec).

    ``interval`` is the spec's choice for the rates' intervals
    (``"wilson-clustered"`` or ``"wilson"``; the metrics table's ``ci_method``
    says what each row got). ``alpha`` is ``1 - confidence``: a pair is
    "shown to differ" when its adjusted p-value is below it, and the false
    discovery rate of the Benjamini-Hochberg correction is set to it.
    """

    confidence: float = 0.95
    interval: str | None = None
    min_subjects: int | None = None
    min_trials: int | None = None
    #: Grouping -> the group the summary compares every other group against.
    reference_groups: Mapping[str, str] = field(default_factory=dict)

    @property
    def alpha(self) -> float:
        return round(1.0 - self.confidence, 12)


@dataclass(frozen=True)
class FaceImage:
    """An example face image, embedded only when the report is asked to."""

    path: Path
    caption: str = ""
    alt: str = ""


@dataclass(frozen=True)
class RunInfo:
    """Everything the report states that is not in the metrics table.

    Only ``run_id`` is required; a report of a bare metrics table says "not
    recorded" for the rest. ``spec`` and ``provenance`` are shown in the
    provenance appendix as given (nested mappings are flattened to dotted
    keys); ``provenance`` conventionally holds ``versions`` (package ->
    version), ``weights`` (file -> sha256), ``dataset_fingerprint``,
    ``seed`` and ``timings``. ``condition_groupings`` names the groupings
    of the metrics table that are capture conditions rather than demographic
    groups (groupings with a ``" | "`` control are conditions too).
    ``policy`` is the run's policy outcome as recorded (``policy.json``,
    read by :meth:`audit.report.policy_outcome.PolicyOutcome.from_json`).
    ``previous`` is the earlier run's description,
    kept for reference; the comparison itself is passed to
    :func:`audit.report.context.build_context` as ``changes``.
    """

    run_id: str
    date: str = ""
    title: str = ""  # empty: the template's default title
    spec: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)
    system: SystemUnderTest = SystemUnderTest()
    watchlist: WatchlistDesign = WatchlistDesign()
    datasets: tuple[DatasetInfo, ...] = ()
    projection: ProjectionInputs | None = None
    statistics: StatisticsInfo = StatisticsInfo()
    condition_groupings: tuple[str, ...] = ()
    face_images: tuple[FaceImage, ...] = ()
    full_labels: tuple[str, ...] = ()  # group labels shortened in the report, in full, by [k]
    policy: Mapping[str, Any] = field(default_factory=dict)
    previous: RunInfo | None = None
    #: The metrics came from an exported score log: the tool did not run the system.
    score_log: bool = False
    #: False when nothing describes the system, data and labels (a bare metrics table,
    #: or a score log without an about file): the report says how to add it.
    described: bool = True
    #: Label column -> its values in the data: the report names each column of a group of
    #: several columns with its value (:mod:`audit.report.group_names`).
    label_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", _frozen(self.spec))
        object.__setattr__(self, "label_values", _frozen(self.label_values))
        object.__setattr__(self, "provenance", _frozen(self.provenance))
        object.__setattr__(self, "policy", _frozen(self.policy))

    @property
    def data_setting(self) -> str:
        """:data:`TEST_SET` for a run (the tool ran the system on a dataset's images) and for
        a score log whose every dataset is stated to be one; :data:`DEPLOYMENT_DATA` when a
        log's dataset is stated to come from live use; empty when nothing says."""
        if not self.score_log:
            return TEST_SET
        settings = {d.setting for d in self.datasets}
        return DEPLOYMENT_DATA if DEPLOYMENT_DATA in settings else (
            TEST_SET if settings == {TEST_SET} else "")


def run_info_from_spec(
    spec: Mapping[str, Any],
    *,
    run_id: str,
    date: str = "",
    provenance: Mapping[str, Any] | None = None,
    datasets: tuple[DatasetInfo, ...] = (),
    deepface_threshold: float | None = None,
) -> RunInfo:
    """A :class:`RunInfo` from an audit spec given as a plain dict.

    Reads ``name``/``report.title``, ``pipeline``, ``matching.distance``,
    ``watchlist``, ``thresholds``, ``groupings.conditions``, ``projection``
    and ``statistics``; missing keys keep the defaults. Calibrated thresholds
    (targets) are described from the spec; their values are read from the
    metrics table when the report is built. ``deepface_threshold`` is the
    similarity threshold deepface would use by default, if the run audited it.
    """
    stats = spec.get("statistics", {})
    projection = spec.get("projection", {})
    watchlist = spec.get("watchlist", {})
    defaults = StatisticsInfo()
    return RunInfo(
        run_id=run_id,
        date=date,
        title=str(spec.get("report", {}).get("title") or spec.get("name") or ""),
        spec=spec,
        provenance=provenance or {},
        system=_system_under_test(spec, provenance, deepface_threshold),
        watchlist=WatchlistDesign(size=watchlist.get("size"), draws=watchlist.get("draws")),
        datasets=datasets,
        projection=ProjectionInputs(
            crowd=int(projection.get("crowd", ProjectionInputs.crowd)),
            watchlist=int(projection.get("watchlist", ProjectionInputs.watchlist)),
            share_on_watchlist=float(
                projection.get("share_on_watchlist", ProjectionInputs.share_on_watchlist)
            ),
        ),
        statistics=StatisticsInfo(
            confidence=float(stats.get("confidence", defaults.confidence)),
            interval=stats.get("interval"),
            min_subjects=stats.get("min_subjects"),
            min_trials=stats.get("min_trials"),
            reference_groups=dict(stats.get("reference_groups") or {}),
        ),
        condition_groupings=tuple(spec.get("groupings", {}).get("conditions", ())),
    )


def _system_under_test(spec: Mapping[str, Any], provenance: Mapping[str, Any] | None,
                       deepface_threshold: float | None) -> SystemUnderTest:
    """The audited configuration as the report names it; the face selection actually
    used (from provenance) wins over the spec's, which may leave it to the dataset."""
    pipeline = spec.get("pipeline", {})
    thresholds = spec.get("thresholds", {})
    chosen = [
        ThresholdInfo(float(t), "deployment", FROM_SPEC) for t in thresholds.get("deployment", [])
    ]
    if deepface_threshold is not None:
        chosen.append(ThresholdInfo(float(deepface_threshold), DEEPFACE_DEFAULT, DEEPFACE_DEFAULT))
    align = pipeline.get("align")
    return SystemUnderTest(
        model=str(pipeline.get("model", "")),
        detector=str(pipeline.get("detector", "")),
        alignment="" if align is None else ("aligned" if align else "not aligned"),
        preprocessing=str(pipeline.get("preprocess", "")),
        face_selection=str((provenance or {}).get("pipeline", {}).get("face_selection")
                           or pipeline.get("face_selection") or ""),
        normalization=str(pipeline.get("normalization", "")),
        distance=str(spec.get("matching", {}).get("distance", "")),
        thresholds=tuple(chosen),
    )

"""The audit specification: one TOML file that says what to audit and how.

A spec is validated once, on load, with messages that name the key and the
allowed values; unknown keys are errors (a misspelt ``[policy]`` limit must not
silently switch a gate off). Defaults give the LFW default audit. Which parts
of a spec each stage depends on is explicit (:meth:`AuditSpec.stage_inputs`),
so a re-run that changes only thresholds, policy or report options restarts
from the cached scores instead of recomputing embeddings.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

from .choices import (DETECTOR_NAMES, DISTANCES, FACE_SELECTIONS, INTERVALS, MODELS,
                      POLICY_MODES, PREPROCESS)
from .choices import REPORT_FORMATS as FORMATS
from .execution.choice import ExecutorChoice, ExecutorError, parse_executor
from .reference_groups import reference_groupings_problem

Fraction = Annotated[float, Field(gt=0, lt=1)]


def _read_executor(value: object) -> ExecutorChoice:
    """The spec's executor string, parsed once (:func:`~audit.execution.choice.parse_executor`)."""
    if isinstance(value, ExecutorChoice):
        return value
    if not isinstance(value, str):
        raise ValueError("executor must be a string such as 'local'")
    try:
        return parse_executor(value)
    except ExecutorError as error:
        raise ValueError(str(error)) from None


#: The executor: read from its string, written back as it (provenance, hashes).
Executor = Annotated[ExecutorChoice, PlainValidator(_read_executor), PlainSerializer(str)]


class SpecSection(BaseModel):
    """Strict: no string where a number or a boolean belongs, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class DatasetDescription(SpecSection):
    """How the report describes a dataset to a lay reader: the ``[dataset]`` keys an
    audit spec and a score log's about file (:mod:`audit.log_about`) share.
    Built-in datasets have their own card (audit/datasets/cards.py); these keys
    override it."""

    description: str = Field("", description="what the images are (and are not), for the report")
    citation: str = Field("", description="how to cite the dataset")
    licence: str = Field("", description="the dataset's licence or terms of use")
    label_provenance: Literal["perceived", "self-reported", "unspecified"] | None = Field(
        None, description="custom data: how the group labels were obtained")
    label_origin: str = Field("", description="who or what assigned the group labels")


class DatasetSpec(DatasetDescription):
    """One dataset: a built-in adapter name or a manifest file."""

    name: str = Field(description="lfw, utkface, or a CSV/Parquet manifest path")
    root: str | None = Field(None, description="dataset root; default <data_dir>/<name>")
    subjects: int | None = Field(None, ge=2,
                                 description="use only N subjects drawn at random (seeded)")
    min_images: int = Field(1, ge=1, description="draw only subjects with this many images")
    skip_bad_rows: bool = Field(False, description="leave out manifest rows with problems "
                                                   "(listed in the run folder) instead of stopping")
    check_extensions: bool = Field(True, description="refuse manifest paths without an image "
                                                     "extension (images are decoded by content)")
    fold_labels: bool = Field(True, description="fold case and spaces of manifest label values")


class PipelineSpec(SpecSection):
    model: Literal[MODELS] = "Dlib"
    detector: Literal[DETECTOR_NAMES] = "dlib"
    align: bool = True
    preprocess: Literal[PREPROCESS] = "deepface"
    face_selection: Literal[FACE_SELECTIONS] | None = Field(
        None, description="which face is the subject when several are found ('all': each "
                          "face its own probe); default: 'centre' for lfw and utkface (centred "
                          "on the subject), 'largest' for a custom manifest")
    normalization: str = "base"
    image_timeout: float = Field(
        300.0, gt=0,
        description="seconds one image may take (read, decode, detect, embed) before its "
                    "row is 'timeout' and the batch goes on")
    workers: int = Field(1, ge=1)
    batch_size: int = Field(16, ge=1)
    executor: Executor = Field(
        "local", validate_default=True,
        description="where batches run: 'local' (`workers` processes), 'dask-local' "
                    "(a LocalCluster of `workers` processes) or a Dask scheduler "
                    "address such as 'tcp://host:8786'")

    @property
    def executor_choice(self) -> ExecutorChoice:
        """Where batches run, with this section's worker count."""
        return self.executor.with_workers(self.workers)


class MatchingSpec(SpecSection):
    distance: Literal[DISTANCES] = "cosine"
    mated_per_subject: int = Field(10, ge=1, description="cap on mated pairs per subject")
    nonmated_per_cell: int = Field(20000, ge=1,
                                   description="non-mated pairs per (group, group) cell")
    pair_grouping: list[str] = Field(
        default_factory=lambda: ["gender"],
        description="label columns whose groups (and pairs of groups) get their own "
                    "non-mated sample, for cross-group FMR")


class WatchlistSpec(SpecSection):
    size: int = Field(100, ge=1, description="watchlist entries (W)")
    draws: int = Field(5, ge=1, description="independent watchlist draws (R)")
    composition: Literal["uniform", "balanced"] | dict[str, float] = Field(
        "uniform", description="who is drawn onto a watchlist: 'uniform' over everyone, "
                               "'balanced' (equal shares of the composition_by groups) or a "
                               "table of shares such as {female = 0.2, male = 0.8}")
    composition_by: str = Field("gender", description="label column of the composition's "
                                                      "groups (and of the report's make-up table)")
    enrol_with_probe: bool = Field(
        False, description="drawn watchlists enrol only people with a further usable image, "
                           "so every entry can be searched for (the curve always uses them all)")

    @field_validator("composition", mode="before")
    @classmethod
    def _kind(cls, value):
        """One message for a misspelt make-up, instead of one per accepted type."""
        if not isinstance(value, dict) and value not in ("uniform", "balanced"):
            raise ValueError("must be \"uniform\", \"balanced\" or a table of shares such as "
                             f"{{ female = 0.2, male = 0.8 }}, got {value!r}")
        return value

    @field_validator("composition")
    @classmethod
    def _shares(cls, value):
        """A table of shares names groups once, each share in [0, 1], adding up to 1."""
        if isinstance(value, dict):
            from .matching.makeup import check_shares

            check_shares(value)
        return value


class ThresholdSpec(SpecSection):
    deployment: list[float] = Field(default_factory=list,
                                    description="similarity thresholds of the deployment")
    deepface_default: bool = Field(True, description="also audit deepface's default threshold")
    target_fmr: list[Fraction] = Field(default_factory=lambda: [1e-3])
    target_fpir: list[Fraction] = Field(default_factory=lambda: [1e-2])


class GroupingSpec(SpecSection):
    sensitive: list[str] = Field(default_factory=lambda: ["gender"],
                                 description="demographic groupings; 'a x b' for intersections")
    conditions: list[str] = Field(
        default_factory=lambda: ["face_height_band", "sharpness_band", "yaw_band"])


class ConditionBands(SpecSection):
    """Cut points that bin measured quality features into readable bands."""

    face_height_px: list[float] = Field(default_factory=lambda: [60.0, 120.0])
    brightness: list[float] = Field(default_factory=lambda: [70.0, 180.0])
    sharpness: list[float] = Field(default_factory=lambda: [50.0, 200.0])
    yaw_deg: list[float] = Field(default_factory=lambda: [15.0, 30.0])

    @field_validator("*")
    @classmethod
    def _increasing(cls, cuts: list[float]) -> list[float]:
        if any(b <= a for a, b in zip(cuts, cuts[1:])):
            raise ValueError("cut points must be strictly increasing")
        return cuts


class StatisticsSpec(SpecSection):
    interval: Literal[INTERVALS] = Field(
        "wilson-clustered",
        description="rates' intervals: Wilson at the cluster-robust effective sample size, "
                    "or 'wilson' assuming independent trials")
    confidence: Fraction = 0.95
    min_subjects: int = Field(20, ge=1)
    min_trials: int = Field(100, ge=1)
    reference_groups: dict[str, str] = Field(
        default_factory=dict,
        description="demographic grouping -> the group the summary compares every other "
                    "group against; default: the highest against the lowest-rate group")


class ProjectionSpec(SpecSection):
    crowd: int = Field(100_000, ge=1, description="faces scanned (N)")
    watchlist: int = Field(10_000, ge=1, description="watchlist size of the deployment")
    share_on_watchlist: Fraction = Field(1e-4,
                                         description="share of passers-by on the watchlist")
    captures_per_person: int = Field(
        1, ge=1, description="captures of each person (k): a passer-by is alerted if any capture "
                     "alerts, a wanted person found if any capture finds them")


class ReportSpec(SpecSection):
    formats: list[Literal[FORMATS]] = Field(default_factory=lambda: list(FORMATS),
                                           min_length=1)
    include_faces: bool = False
    title: str = Field("", description="report title; empty: the spec's name")


class PolicySpec(SpecSection):
    """Agreed limits and what they mean (rules in :mod:`audit.runs.policy`).

    A run exits 3 when a limit is broken and 4 when one cannot be evaluated
    (unless ``skip_unevaluable``); without limits the outcome is "no policy".
    """

    evaluate: Literal[POLICY_MODES] = Field(
        "estimate",
        description="estimate: broken when the value exceeds a limit; evidence: broken only "
                    "when the whole interval lies beyond it; precaution: broken unless the "
                    "whole interval lies within it")
    skip_unevaluable: bool = Field(
        False, description="limits that cannot be evaluated (no trials, too few people, an "
                           "unbounded ratio) do not fail the run; they are still named")

    max_fpir_ratio: float | None = Field(
        None, gt=1, description="FPIR ratio (higher over lower) of any two sufficient groups")
    max_fmr_ratio: float | None = Field(
        None, gt=1, description="FMR ratio (higher over lower) of any two sufficient groups")
    max_fnir: float | None = Field(None, gt=0, le=1, description="FNIR of any sufficient group")
    max_fnmr: float | None = Field(None, gt=0, le=1, description="FNMR of any sufficient group")
    max_fpir: float | None = Field(None, gt=0, le=1, description="FPIR of any sufficient group")
    max_fta: float | None = Field(None, gt=0, le=1, description="FTA of any sufficient group")


class AuditSpec(SpecSection):
    name: str = "lfr-audit"
    seed: int = 0
    data_dir: str | None = Field(None, description="folder with dataset copies; "
                                                    "default $LFR_AUDIT_DATA")
    dataset: DatasetSpec
    pipeline: PipelineSpec = PipelineSpec()
    matching: MatchingSpec = MatchingSpec()
    watchlist: WatchlistSpec = WatchlistSpec()
    thresholds: ThresholdSpec = ThresholdSpec()
    groupings: GroupingSpec = GroupingSpec()
    bands: ConditionBands = ConditionBands()
    statistics: StatisticsSpec = StatisticsSpec()
    projection: ProjectionSpec = ProjectionSpec()
    report: ReportSpec = ReportSpec()
    policy: PolicySpec = PolicySpec()

    @model_validator(mode="after")
    def _reference_groupings(self) -> AuditSpec:
        """A reference group names a demographic grouping of the spec, and a real label."""
        problem = reference_groupings_problem(self.statistics.reference_groups,
                                              self.groupings.sensitive)
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _thresholds_on_the_scale(self) -> AuditSpec:
        """A deployment threshold outside the chosen similarity's range decides
        every comparison the same way: an error, naming the range."""
        from .matching.similarity import SIMILARITY_RANGES

        distance = self.matching.distance
        low, high = SIMILARITY_RANGES[distance]
        outside = [t for t in self.thresholds.deployment if not low <= t <= high]
        if outside:
            raise ValueError(OFF_SCALE.format(values=outside, distance=distance,
                                              low=low, high=high))
        return self

    def stage_inputs(self) -> dict[str, str]:
        """A hash per stage of the spec parts it depends on (and earlier stages').

        ``faces`` depends on the dataset and pipeline; ``scores`` adds matching,
        watchlist and seed; ``metrics`` adds thresholds, groupings, bands and
        statistics. Policy, projection and report options touch no table, nor
        do the worker count, batch size and executor.
        """
        parts = {
            "faces": ("dataset", "data_dir", "pipeline", "seed"),
            "scores": ("matching", "watchlist"),
            "metrics": ("thresholds", "groupings", "bands", "statistics"),
        }
        hashes, seen = {}, []
        for stage, keys in parts.items():
            seen += keys
            data = self.model_dump(include=set(seen), mode="json")
            for how_not_what in ("workers", "batch_size", "executor"):  # speed, not results
                data["pipeline"].pop(how_not_what)
            blob = json.dumps(data, sort_keys=True)
            hashes[stage] = hashlib.sha256(blob.encode()).hexdigest()[:16]
        return hashes


OFF_SCALE = (
    "thresholds.deployment {values} lies outside the range [{low}, {high}] of similarity "
    "scores with distance = {distance!r} (similarity = -distance for Euclidean distances); "
    "give thresholds on that scale"
)


#: File suffixes that make ``dataset.name`` a manifest path rather than a dataset name.
MANIFEST_SUFFIXES = (".csv", ".parquet", ".pq")


class SpecError(ValueError):
    """The spec file is missing, not TOML, or breaks the schema."""


def describe_keys(error: dict) -> str:
    """One line for one pydantic validation error: the dotted key and what is wrong with it
    (shared by the audit spec and the score-log about file)."""
    where = ".".join(str(p) for p in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"unknown key {where!r}"
    message = error["msg"].removeprefix("Value error, ")
    return message if where == "(top level)" else f"{where}: {message}"


def _relative_to_spec(data: dict, folder: Path) -> dict:
    """``data_dir`` and a manifest path (``dataset.name`` ending .csv/.parquet/.pq),
    when relative, are relative to the spec's folder, not to where the command
    runs: the same spec finds the same files from anywhere."""
    data = dict(data)
    if isinstance(data.get("data_dir"), str) and not Path(data["data_dir"]).is_absolute():
        data["data_dir"] = str(folder / data["data_dir"])
    dataset = data.get("dataset")
    if isinstance(dataset, dict) and isinstance(dataset.get("name"), str):
        name = Path(dataset["name"])
        if name.suffix.lower() in MANIFEST_SUFFIXES and not name.is_absolute():
            data["dataset"] = {**dataset, "name": str(folder / name)}
    return data


def load_spec(path: Path) -> AuditSpec:
    """Read and validate a TOML audit spec; every problem is named in one message."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SpecError(f"no audit spec at {path}; `lfr-audit init {path}` writes one") from None
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path} is not valid TOML: {error}") from None
    try:
        return AuditSpec.model_validate(_relative_to_spec(data, Path(path).parent))
    except ValidationError as error:
        problems = "; ".join(describe_keys(e) for e in error.errors())
        raise SpecError(f"{path}: {problems}") from None

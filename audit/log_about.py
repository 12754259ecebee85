"""A score log's about file: the system, the data and the labels its report states.

A score log holds scores and group labels, nothing about the system that made
them, where the images came from or who assigned the labels, so its report
would say "not recorded" for each. ``lfr-audit metrics LOG --about about.toml``
(or ``lfr-audit report metrics.parquet --about about.toml``) gives them in
the audit spec's vocabulary, so an evaluator learns one format: ``[dataset]``
has the spec's description keys (:class:`audit.config.DatasetDescription`:
``description``, ``citation``, ``licence``, ``label_provenance``,
``label_origin``), ``[watchlist]`` its ``size``, ``draws`` and table of
``composition`` shares, ``[report]`` its ``title``, ``[policy]`` its limits
(judged on the log's metrics as ``run`` judges a run's: exit 3 when one is
broken, 4 when one cannot be evaluated); ``[system]`` names a
system the tool did not run (vendor, product, version, model, what the score
means, how the thresholds were chosen). Every key is optional; unknown keys
and wrong types are errors, named in one line, before the log is read.

A dataset named like a built-in one (``lfw``, ``utkface``) takes its card's
description, labels, citation and licence (:mod:`audit.datasets.cards`) for
every key the file leaves empty; its labels' provenance is fixed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator

from .config import DatasetDescription, PolicySpec, describe_keys, SpecSection

#: Label provenance of the built-in datasets (as :mod:`audit.datasets.registry` fixes it).
BUILT_IN_PROVENANCE = {"lfw": "perceived", "utkface": "perceived"}
PROVENANCE_FIXED = ("dataset.label_provenance: {name} labels are {fixed}; leave the key out "
                    "or name your own dataset")


class AboutError(ValueError):
    """The about file is missing, not TOML, or breaks the schema."""


class SystemAbout(SpecSection):
    """The system that produced the scores, as its operator or vendor names it."""

    vendor: str = Field("", description="who makes the system")
    product: str = Field("", description="the product's name")
    version: str = Field("", description="the product's version or release")
    model: str = Field("", description="the recognition model (algorithm) inside it")
    detector: str = Field("", description="the face detector, if known")
    score: str = Field("", description="what the score is: scale, direction, any conversion "
                                       "(e.g. 'similarity 0 to 1, higher = more alike')")
    threshold_origin: str = Field("", description="how the deployment threshold(s) given "
                                                  "with --threshold were chosen, and by whom")


class DatasetAbout(DatasetDescription):
    """The images behind the log: the spec's description keys, plus what a run would
    know by itself (the dataset's name, how it was collected, its size)."""

    name: str = Field("", description="the dataset's name (lfw, utkface: their cards are used)")
    collection: str = Field("", description="how, where and when the images were captured")
    subjects: int | None = Field(None, ge=1, description="people in the whole dataset, if known")
    images: int | None = Field(None, ge=1, description="images in the whole dataset, if known")

    @model_validator(mode="after")
    def _built_in_provenance(self) -> DatasetAbout:
        fixed = BUILT_IN_PROVENANCE.get(self.name)
        if fixed and self.label_provenance not in (None, fixed):
            raise ValueError(PROVENANCE_FIXED.format(name=self.name, fixed=fixed))
        return self


class WatchlistAbout(SpecSection):
    """The watchlist the identification searches were made against."""

    size: int | None = Field(None, ge=1, description="watchlist entries (W); also the "
                                                     "projection's --audit-watchlist")
    draws: int | None = Field(None, ge=1, description="independent watchlists searched")
    composition: dict[str, float] | None = Field(
        None, description="shares of groups on the watchlist, e.g. {female = 0.2, male = 0.8}")
    composition_by: str = Field("", description="label column of the composition's groups")
    description: str = Field("", description="how the watchlist was made, in words")

    @field_validator("composition")
    @classmethod
    def _shares(cls, value):
        """As the spec's: groups named once, each share in [0, 1], adding up to 1."""
        if value is not None:
            from .matching.makeup import check_shares

            check_shares(value)
        return value

    @model_validator(mode="after")
    def _composition_by(self) -> WatchlistAbout:
        if self.composition and not self.composition_by:
            raise ValueError("watchlist.composition needs composition_by, the label column "
                             "its groups come from (e.g. \"gender\")")
        return self


class ReportAbout(SpecSection):
    title: str = Field("", description="the report's title")


class LogAbout(SpecSection):
    """Everything an about file can state (all optional)."""

    system: SystemAbout = SystemAbout()
    dataset: DatasetAbout = DatasetAbout()
    watchlist: WatchlistAbout = WatchlistAbout()
    report: ReportAbout = ReportAbout()
    policy: PolicySpec = PolicySpec()  # an audit spec's limits, judged on the log's table

    @property
    def stated(self) -> bool:
        """Whether the file states anything (an empty file describes nothing)."""
        return self != LogAbout()


def load_about(path: Path) -> LogAbout:
    """Read and validate an about file; every problem named in one line."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AboutError(f"no about file at {path}; `lfr-audit init {path} --about` "
                         "writes one") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise AboutError(f"{path} is not valid TOML: {error}") from None
    except OSError as error:
        raise AboutError(f"cannot read the about file {path}: {error.strerror}") from None
    try:
        return LogAbout.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(describe_keys(e) for e in error.errors())
        raise AboutError(f"{path}: {problems}") from None

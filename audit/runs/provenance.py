"""A run's provenance, typed: what ``provenance.json`` holds and every reader reads.

The workflow writes one :class:`Provenance` per run; ``runs list``, ``compare``
and the report's inputs read it back through :meth:`Provenance.from_json`
instead of looking keys up by hand. Thresholds keep how each was chosen
(:class:`ThresholdOrigin`). The spec and the dataset record stay mappings:
they are shown as given (the spec as run, the dataset adapter's record).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from audit.choices import DEEPFACE_DEFAULT

#: ``source`` of a threshold given in the spec (deepface's own is DEEPFACE_DEFAULT).
FROM_SPEC = "spec"


@dataclass(frozen=True)
class ThresholdOrigin:
    """Where one fixed threshold came from: ``spec`` or deepface's default, in words too."""

    source: str
    how: str = ""

    @property
    def deployed(self) -> bool:
        """The deployment's own threshold (deepface's default is audited for reference)."""
        return self.source != DEEPFACE_DEFAULT


@dataclass(frozen=True)
class Provenance:
    """Everything recorded about how a run was made (``provenance.json``)."""

    run_id: str
    created_utc: str = ""
    spec: Mapping[str, Any] = field(default_factory=dict)  # the spec as run (JSON form)
    stage_inputs: Mapping[str, str] = field(default_factory=dict)
    dataset: Mapping[str, Any] = field(default_factory=dict)  # the dataset adapter's record
    n_images: int | None = None
    pipeline: Mapping[str, Any] = field(default_factory=dict)  # [pipeline] plus config_key
    weights: Mapping[str, str] = field(default_factory=dict)  # file -> sha256 or "absent"
    thresholds: Mapping[float, ThresholdOrigin] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    host: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    reused_stages: tuple[str, ...] = ()
    timings_s: Mapping[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The spec's ``name``."""
        return str(self.spec.get("name", ""))

    @property
    def confidence(self) -> float:
        """The spec's ``[statistics] confidence`` (the default when the spec left it out)."""
        from ..config import StatisticsSpec

        default = StatisticsSpec.model_fields["confidence"].default
        return float(self.spec.get("statistics", {}).get("confidence", default))

    @property
    def sensitive_groupings(self) -> tuple[str, ...] | None:
        """The spec's demographic groupings, None when not recorded."""
        recorded = self.spec.get("groupings", {}).get("sensitive")
        return None if recorded is None else tuple(recorded)

    def environment(self) -> dict[str, Any]:
        """What a comparison lists as set-up changes besides the spec."""
        return {"versions": dict(self.versions), "weights": dict(self.weights),
                "dataset": self.dataset.get("fingerprint")}

    def to_json(self) -> dict[str, Any]:
        """The ``provenance.json`` record (threshold keys are numbers, JSON makes them text)."""
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        record["thresholds"] = {t: {"source": o.source, "how": o.how}
                                for t, o in self.thresholds.items()}
        record["reused_stages"] = list(self.reused_stages)
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any], *, run_id: str = "") -> Provenance:
        """Read ``provenance.json``; keys a run did not record take their defaults."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in record.items() if k in known}
        values.setdefault("run_id", run_id)
        values["run_id"] = str(values["run_id"])
        values["thresholds"] = {
            float(t): ThresholdOrigin(str(o.get("source", FROM_SPEC)), str(o.get("how", "")))
            for t, o in (record.get("thresholds") or {}).items()}
        values["reused_stages"] = tuple(record.get("reused_stages", ()))
        return cls(**values)

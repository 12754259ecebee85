"""One call from records to every figure: :func:`analyse_deployments`.

It ties the pieces together and says what could not be computed: each
record's missing fields become a gap noted beside its figures, so that an
empty field is visible in the report, not silently dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from audit.deployments.exact import CONFIDENCE, DeploymentFigures, Estimate, figures, poisson_rate
from audit.deployments.overrep import OverRepresentation, over_representation
from audit.deployments.pooling import Breakdown, breakdown, by_threshold, by_year
from audit.deployments.records import Alert, Deployment
from audit.deployments.references import CrowdShare, LabFPIR


@dataclass(frozen=True)
class LabComparison:
    """A deployment's observed false alerts per face beside a lab FPIR."""

    lab: LabFPIR
    record: Deployment | None
    observed: Estimate | None


@dataclass(frozen=True)
class DeploymentsAudit:
    """Everything the deployments report and the command print."""

    records: tuple[DeploymentFigures, ...]
    overall: Breakdown
    thresholds: tuple[Breakdown, ...]
    years: tuple[Breakdown, ...]
    over_representation: tuple[OverRepresentation, ...]
    unattributed: dict[str, int]
    lab: tuple[LabComparison, ...]
    gaps: dict[str, tuple[str, ...]]
    confidence: float


def record_gaps(record: Deployment) -> tuple[str, ...]:
    """The fields an analysis needs that ``record`` leaves empty, in words."""
    gaps = []
    if record.date is None:
        gaps.append("date")
    if record.threshold is None:
        gaps.append("threshold")
    if record.faces is None:
        gaps.append("faces scanned or crowd estimate")
    if record.alerts is None:
        gaps.append("number of alerts")
    for name, value in (("confirmed true", record.confirmed_true),
                        ("confirmed false", record.confirmed_false)):
        if value is None:
            gaps.append(f"alerts {name}")
    if record.watchlist_size is None:
        gaps.append("watchlist size")
    return tuple(gaps)


def _false_by_group(alerts: Sequence[Alert]) -> dict[str, Counter]:
    counted: dict[str, Counter] = {}
    for alert in alerts:
        if alert.outcome == "false" and alert.group:
            counted.setdefault(alert.deployment_id, Counter())[alert.group] += 1
    return counted


def _over_representation(records: Sequence[Deployment], alerts: Sequence[Alert],
                         crowd: Sequence[CrowdShare], confidence: float):
    counted = _false_by_group(alerts)
    results = []
    for share in crowd:
        ids = [share.deployment_id] if share.deployment_id else sorted(counted)
        for deployment_id in ids:
            groups = counted.get(deployment_id, Counter())
            n = sum(groups.values())
            if n:
                results.append(over_representation(
                    groups[share.group], n, share.low, share.high, group=share.group,
                    deployment_id=deployment_id, share_source=share.source,
                    confidence=confidence))
    by_id = {r.deployment_id: r for r in records}
    unattributed = {i: by_id[i].confirmed_false - sum(c.values()) for i, c in counted.items()
                    if by_id[i].confirmed_false is not None
                    and by_id[i].confirmed_false > sum(c.values())}
    return tuple(results), unattributed


def _lab(records: Sequence[Deployment], lab: Sequence[LabFPIR], confidence: float):
    by_id = {r.deployment_id: r for r in records}
    compared = []
    for entry in lab:
        record = by_id.get(entry.deployment_id)
        observed = None
        if record is not None and record.faces and record.confirmed_false is not None:
            observed = poisson_rate(record.confirmed_false, record.faces, confidence=confidence)
        compared.append(LabComparison(entry, record, observed))
    return tuple(compared)


def analyse_deployments(records: Sequence[Deployment], alerts: Sequence[Alert] = (),
                        crowd: Sequence[CrowdShare] = (), lab: Sequence[LabFPIR] = (), *,
                        confidence: float = CONFIDENCE) -> DeploymentsAudit:
    """Per-record figures, pooled figures (overall, by threshold, by year),
    over-representation for every crowd share given, and lab comparisons."""
    overrep, unattributed = _over_representation(records, alerts, crowd, confidence)
    return DeploymentsAudit(
        records=tuple(figures(r, confidence=confidence) for r in records),
        overall=breakdown(records, "all records", confidence=confidence),
        thresholds=by_threshold(records, confidence=confidence),
        years=by_year(records, confidence=confidence),
        over_representation=overrep,
        unattributed=unattributed,
        lab=_lab(records, lab, confidence),
        gaps={r.deployment_id: record_gaps(r) for r in records},
        confidence=confidence,
    )

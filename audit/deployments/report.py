"""The deployments report: facts for its cover, and writing it as HTML and PDF.

Rendering is the audit report's own (:func:`audit.report.render.write_document`):
the same templates folder, escaping, embedded fonts and asset-only PDF fetcher,
with ``deployments.html.j2`` as the entry template.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from audit.deployments.analysis import DeploymentsAudit

TEMPLATE = "deployments.html.j2"
STEM = "deployments"


@dataclass(frozen=True)
class ReportView:
    """Cover and summary facts derived from the records (no statistics)."""

    n_deployments: int | None
    first: str | None
    last: str | None
    undated: int
    estimated_faces: int
    without_figures: tuple[str, ...]


def report_view(audit: DeploymentsAudit) -> ReportView:
    """Number of deployments covered, first and last dates, and records without any figure."""
    records = [f.record for f in audit.records]
    dated = sorted((r.date, r.period) for r in records if r.date is not None)
    ends = sorted((r.end_date or r.date, r.period.split(" to ")[-1]) for r in records
                  if r.date is not None)
    counted = [r.n_deployments for r in records]
    used = {i for p in (audit.overall.per_face, audit.overall.false_share) if p for i in p.ids}
    return ReportView(
        n_deployments=sum(counted) if None not in counted else None,
        first=dated[0][1].split(" to ")[0] if dated else None,
        last=ends[-1][1] if ends else None,
        undated=sum(r.date is None for r in records),
        estimated_faces=sum(r.faces_estimated for r in records
                            if audit.overall.per_face and r.deployment_id in audit.overall.per_face.ids),
        without_figures=tuple(r.deployment_id for r in records if r.deployment_id not in used),
    )


def write_deployments_report(audit: DeploymentsAudit, out_dir: Path, *, records_file: str,
                             title: str = "Live facial recognition in use: what the records show",
                             formats: Iterable[str] = ("html", "pdf")) -> dict[str, Path]:
    """Write ``deployments.html`` and/or ``deployments.pdf`` into ``out_dir``."""
    from audit.deployments.figure import trend
    from audit.report.render import write_document

    drawn = {}

    def trend_figure(**words):
        """The trend figure with the template's words, drawn once for HTML and PDF."""
        key = tuple(sorted(words.items()))
        if key not in drawn:
            drawn[key] = trend(audit, **words)
        return drawn[key]

    return write_document(TEMPLATE, STEM, out_dir, formats, identifier=STEM, audit=audit,
                          view=report_view(audit), title=title, records_file=records_file,
                          trend=trend_figure)

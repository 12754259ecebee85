"""report stage: the transparency report (HTML and PDF) from the metrics table.

Typical use (what ``lfr-audit report`` does)::

    from audit.report import RunInfo, build_context, write_report

    context = build_context(metrics_table, RunInfo(run_id="..."))
    write_report(context, run_dir, formats=("html", "pdf"))

:func:`render_report` does both steps. Importing this package loads neither
matplotlib nor WeasyPrint; rendering does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from audit.report.context import ReportContext, build_context
from audit.report.inputs import (
    DatasetInfo,
    FaceImage,
    GroupCount,
    ProjectionInputs,
    RunInfo,
    StatisticsInfo,
    SystemUnderTest,
    ThresholdInfo,
    WatchlistDesign,
    run_info_from_spec,
)

if TYPE_CHECKING:
    from audit.report.render import render_html, render_pdf, render_report, write_report

_RENDER = ("render_html", "render_pdf", "render_report", "write_report")


def __getattr__(name: str) -> Any:
    if name in _RENDER:
        from audit.report import render

        return getattr(render, name)
    raise AttributeError(f"module 'audit.report' has no attribute {name!r}")


__all__ = [
    "DatasetInfo",
    "FaceImage",
    "GroupCount",
    "ProjectionInputs",
    "ReportContext",
    "RunInfo",
    "StatisticsInfo",
    "SystemUnderTest",
    "ThresholdInfo",
    "WatchlistDesign",
    "build_context",
    "render_html",
    "render_pdf",
    "render_report",
    "run_info_from_spec",
    "write_report",
]

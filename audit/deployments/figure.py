"""The deployments report's trend figure: each dated record's figures over time.

Two panels sharing the time axis: the share of alerts recorded false (dot,
with its exact interval; a hollow marker at the upper bound where alerts have
no recorded outcome) and false alerts per 1,000 faces (log scale, hollow
marker for a crowd estimate). Drawn with matplotlib in the audit report's
style and checked by :func:`audit.report.svg.sanitize`; every word on it comes
from the template.
"""

from __future__ import annotations

import io
from datetime import date

import matplotlib
import numpy as np
from matplotlib.dates import date2num
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from audit.deployments.analysis import DeploymentsAudit
from audit.deployments.exact import Estimate
from audit.report import formatting
from audit.report.figures import PALETTE, STYLE, WIDTH
from audit.report.svg import SafeSvg, plain, sanitize


def _points(dated: list[tuple[date, Estimate]], scale: float) -> tuple[np.ndarray, ...]:
    x = np.array([date2num(d) for d, _ in dated])
    value = np.array([e.value for _, e in dated]) * scale
    low = np.array([e.low for _, e in dated]) * scale
    high = np.array([e.high for _, e in dated]) * scale
    return x, value, value - low, high - value


def trend(audit: DeploymentsAudit, *, figure_id: str, share_title: str, rate_title: str,
          upper_label: str, recorded_label: str, estimate_label: str) -> SafeSvg | None:
    """The figure, or None when no dated record has a share or a per-face rate."""
    records = [f for f in audit.records if f.record.date is not None]
    shares = [(f.record.date, f.false_share.recorded) for f in records if f.false_share]
    uppers = [(f.record.date, f.false_share.all_false) for f in records
              if f.false_share and f.false_share.unconfirmed]
    rates = [(f, f.false_per_face) for f in records if f.false_per_face is not None]
    if not shares and not rates:
        return None
    with matplotlib.rc_context({**STYLE, "svg.hashsalt": figure_id}):
        fig = Figure(figsize=(WIDTH, 4.6))
        top, bottom = fig.subplots(2, 1, sharex=True)
        if shares:
            x, y, below, above = _points(shares, 1.0)
            top.errorbar(x, y, yerr=[below, above], fmt="o", color=PALETTE[0], capsize=2,
                         label=plain(recorded_label))
        if uppers:
            x = np.array([date2num(d) for d, _ in uppers])
            top.plot(x, [e.value for _, e in uppers], "^", mfc="white", color=PALETTE[1],
                     label=plain(upper_label))
        top.set_ylim(0, 1.02)
        top.yaxis.set_major_formatter(FuncFormatter(lambda v, _: formatting.percent(v) if v >= 0 else ""))
        top.set_title(plain(share_title), loc="left")
        top.legend(loc="lower left", frameon=False)
        for estimated, marker, colour in ((False, "s", PALETTE[2]), (True, "D", PALETTE[3])):
            chosen = [(f.record.date, e) for f, e in rates
                      if f.record.faces_estimated == estimated and e.value > 0]
            if chosen:
                x, y, below, above = _points(chosen, 1000.0)
                bottom.errorbar(x, y, yerr=[below, above], fmt=marker, color=colour, capsize=2,
                                mfc="white" if estimated else colour,
                                label=plain(estimate_label) if estimated else None)
        bottom.set_yscale("log")
        bottom.yaxis.set_major_formatter(FuncFormatter(lambda v, _: formatting.rounded(v)))
        bottom.yaxis.set_minor_formatter(NullFormatter())
        bottom.set_title(plain(rate_title), loc="left")
        if any(f.record.faces_estimated for f, _ in rates):
            bottom.legend(loc="upper right", frameon=False)
        bottom.xaxis_date()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight",
                    pad_inches=0.04)
    return sanitize(buffer.getvalue(), prefix=figure_id)

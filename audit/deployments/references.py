"""What deployments are measured against: crowd make-up, and lab-measured FPIR.

* A **crowd file** gives, per group (and optionally per deployment), the
  group's share of the crowd as a range (``share_low``, ``share_high``: the
  lowest and highest plausible, e.g. census shares of the area's boroughs)
  or as an observed count (``observed`` of ``observed_of`` people counted),
  whose exact interval becomes the range; ``source`` says where it comes from.
* A **lab file** gives FPIR measured in a lab audit at a threshold and
  watchlist size: read from an lfr-audit run (``metrics``: a run folder or
  metrics table, relative to the lab file; the overall FPIR at ``threshold``
  with the run's own interval), from counts (``false_alerts`` of ``probes``,
  exact interval) or as a published rate with its interval if the
  publication gives one (``fpir``, ``fpir_low``, ``fpir_high``);
  ``deployment_id`` names the record to set it beside and ``conditions`` how
  the two differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audit.deployments.exact import CONFIDENCE, Estimate, binomial_share
from audit.deployments.overrep import share_from_count
from audit.deployments.records import RecordsError, cell_text, number_cell, read_frame, refuse_rows

CROWD_COLUMNS = ("group", "share_low", "share_high", "observed", "observed_of", "deployment_id",
                 "source")
LAB_COLUMNS = ("label", "deployment_id", "threshold", "watchlist_size", "metrics", "false_alerts",
               "probes", "fpir", "fpir_low", "fpir_high", "system", "conditions", "source")
#: Where a lab FPIR came from.
FROM_RUN, FROM_COUNTS, PUBLISHED = "lfr-audit run", "counts", "published"


@dataclass(frozen=True)
class CrowdShare:
    """A group's share of a crowd, as a plausible range, and where it comes from."""

    group: str
    low: float
    high: float
    deployment_id: str
    source: str


@dataclass(frozen=True)
class LabFPIR:
    """A lab-measured FPIR with its interval (NaN ends when the source gives none)."""

    label: str
    deployment_id: str
    threshold: float | None
    watchlist_size: int | None
    fpir: Estimate
    origin: str
    system: str
    conditions: str
    source: str


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    frame, first = read_frame(path, {})
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise RecordsError(f"{path} lacks column(s) {', '.join(missing)}")
    return [(first + i, {k: cell_text(v) for k, v in raw.items()})
            for i, raw in enumerate(frame.to_dict("records"))]


def _crowd_row(cells: dict[str, str], problems: list[str], confidence: float) -> tuple[float, float] | None:
    low, high = (number_cell(cells.get(c, ""), c, problems) for c in ("share_low", "share_high"))
    observed, of = (number_cell(cells.get(c, ""), c, problems) for c in ("observed", "observed_of"))
    if observed is not None and of is not None:
        if observed > of or of == 0 or observed != int(observed) or of != int(of):
            problems.append(f"observed {observed:g} of {of:g} is not a count out of a total")
            return None
        return share_from_count(int(observed), int(of), confidence=confidence)
    if low is None and high is None:
        problems.append("give share_low and share_high, or observed and observed_of")
        return None
    low, high = (low if low is not None else high), (high if high is not None else low)
    if not 0 < low <= high < 1:
        problems.append(f"shares {low:g}..{high:g} are not 0 < low <= high < 1")
        return None
    return low, high


def read_crowd(path: Path, *, confidence: float = CONFIDENCE) -> tuple[CrowdShare, ...]:
    """Read a crowd file (see module notes); refuse impossible rows by number."""
    shares, refusals = [], []
    for row, cells in _rows(path, ("group",)):
        problems: list[str] = []
        limits = _crowd_row(cells, problems, confidence)
        if not cells["group"]:
            problems.append("group is empty")
        if problems:
            refusals.append(f"row {row}: " + "; ".join(problems))
        elif limits is not None:
            shares.append(CrowdShare(cells["group"], *limits, cells.get("deployment_id", ""),
                                     cells.get("source", "")))
    refuse_rows(path, refusals)
    return tuple(shares)


def _from_run(place: Path, threshold: float | None, problems: list[str]) -> Estimate | None:
    """The overall FPIR at ``threshold`` from an lfr-audit metrics table (or run folder)."""
    from audit.runs import METRICS_FILE
    from audit.tables import read_table

    path = place / METRICS_FILE if place.is_dir() else place
    if not path.is_file() or threshold is None:
        problems.append(f"metrics {place} is not a run folder or metrics table" if threshold is not None
                        else "a metrics table needs the threshold to read FPIR at")
        return None
    frame = read_table(path).to_pandas()
    rows = frame[(frame["metric"] == "fpir") & (frame["grouping"] == "overall")
                 & np.isclose(frame["threshold"].astype(float), threshold, rtol=0, atol=1e-9)]
    if "statistic" in rows.columns:
        rows = rows[rows["statistic"] == "rate"]
    if rows.empty:
        problems.append(f"{path} has no overall FPIR at threshold {threshold:g}")
        return None
    row = rows.iloc[0]
    return Estimate(int(row["n_errors"]), float(row["n_trials"]), float(row["value"]),
                    float(row["ci_low"]), float(row["ci_high"]))


def _lab_estimate(cells: dict[str, str], base: Path, threshold: float | None, problems: list[str],
                  confidence: float) -> tuple[Estimate, str] | None:
    if cells.get("metrics"):
        found = _from_run(base / cells["metrics"], threshold, problems)
        return None if found is None else (found, FROM_RUN)
    errors, probes = (number_cell(cells.get(c, ""), c, problems) for c in ("false_alerts", "probes"))
    if errors is not None and probes:
        if errors > probes:
            problems.append(f"false_alerts ({errors:g}) > probes ({probes:g})")
            return None
        return binomial_share(int(errors), int(probes), confidence=confidence), FROM_COUNTS
    fpir, low, high = (number_cell(cells.get(c, ""), c, problems) for c in ("fpir", "fpir_low", "fpir_high"))
    if fpir is None:
        problems.append("give metrics, false_alerts and probes, or fpir")
        return None
    low = math.nan if low is None else low
    high = math.nan if high is None else high
    if fpir > 1 or not (math.isnan(low) or low <= fpir) or not (math.isnan(high) or fpir <= high):
        problems.append(f"fpir {fpir:g} is not a rate within its interval")
        return None
    return Estimate(-1, math.nan, fpir, low, high), PUBLISHED


def read_lab(path: Path, *, confidence: float = CONFIDENCE) -> tuple[LabFPIR, ...]:
    """Read a lab file (see module notes); refuse impossible rows by number."""
    entries, refusals = [], []
    for row, cells in _rows(path, ("label",)):
        problems: list[str] = []
        threshold = number_cell(cells.get("threshold", ""), "threshold", problems)
        found = _lab_estimate(cells, Path(path).parent, threshold, problems, confidence)
        watchlist = number_cell(cells.get("watchlist_size", ""), "watchlist_size", problems)
        if problems:
            refusals.append(f"row {row} ({cells['label'] or 'no label'}): " + "; ".join(problems))
        elif found is not None:
            entries.append(LabFPIR(cells["label"], cells.get("deployment_id", ""), threshold,
                                   None if watchlist is None else int(watchlist), found[0], found[1],
                                   cells.get("system", ""), cells.get("conditions", ""),
                                   cells.get("source", "")))
    refuse_rows(path, refusals)
    return tuple(entries)

"""A JSON digest of a metrics table: what scripts and run folders read at a glance."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import pyarrow as pa

from audit.metrics import table, trials
from audit.metrics.pair_verdicts import pair_verdicts
from audit.schema import json_value


def summarize_metrics(metrics: pa.Table, reference_groups: Mapping[str, str] | None = None) -> dict:
    """A JSON-able digest of a METRICS table for scripts and run folders.

    Returns a dict with ``operating_points`` (label, kind, target and
    threshold), ``overall`` (every overall rate row), ``not_available``
    (overall rates with no trials), ``groupings``: per grouping, rate and
    operating point, the highest and lowest *sufficient* groups, the contrast
    rows of that fixed pair (ratio, difference, p-values, detectable ratio)
    and the groups insufficient for *that* rate (never ranked); where
    ``reference_groups`` names a grouping's reference group
    (:mod:`audit.reference_groups`) and it has enough data for the rate,
    ``reference`` and ``reference_vs_others`` (the contrast rows of the
    reference against each other sufficient group); and
    ``projection`` (overall projected figures, when the table holds them); and
    ``disparities``: every fixed pair's ratio with its interval, adjusted
    p-value and ``shown`` verdict as the terminal prints it
    (:func:`audit.metrics.pair_verdicts.pair_verdicts`).
    Sweep rows are left out. NaN becomes None and an infinite value (a ratio
    over a zero rate) the string ``"inf"``, so the digest is strict JSON.
    """
    frame = metrics.to_pandas()
    frame = frame[frame[table.POINT_KIND].fillna("") != table.SWEEP]
    rates = frame[frame[table.STATISTIC] == table.RATE]
    overall = rates[rates["grouping"] == trials.OVERALL]
    points = (
        overall.dropna(subset=[table.OPERATING_POINT])
        .drop_duplicates(table.OPERATING_POINT)
        .loc[:, [table.OPERATING_POINT, table.POINT_KIND, table.TARGET, "threshold"]]
    )
    projected = (frame[table.STATISTIC] == table.PROJECTION) & (
        frame["grouping"] == trials.OVERALL)
    summary = {
        "operating_points": _records(points),
        "overall": _records(overall),
        "not_available": sorted(set(overall.loc[overall["n_trials"] == 0, "metric"])),
        "groupings": {},
        "projection": _records(frame[projected]),
        "disparities": pair_verdicts(frame),
    }
    pairs = frame[frame[table.GROUP_B].notna() & (frame["metric"] != trials.FMR_CROSS)]
    by_group = rates[(rates["grouping"] != trials.OVERALL) & (rates["metric"] != trials.FMR_CROSS)]
    keys = ["grouping", "metric", table.OPERATING_POINT, "threshold"]
    for key, block in by_group.groupby(keys, dropna=False, sort=False):
        summary["groupings"].setdefault(key[0], []).append(
            _grouping_digest(pairs, dict(zip(keys, key, strict=True)), block,
                             (reference_groups or {}).get(key[0]))
        )
    return summary


def _grouping_digest(pairs: pd.DataFrame, key: dict, block: pd.DataFrame,
                     reference: str | None) -> dict:
    ranked = block[block["sufficient"]].sort_values("value", ascending=False, kind="stable")
    highest, lowest = ranked.head(1), ranked.tail(1)
    same = (
        (pairs["grouping"] == key["grouping"])
        & (pairs["metric"] == key["metric"])
        & (pairs[table.OPERATING_POINT].fillna("") == (key[table.OPERATING_POINT] or ""))
        & (pairs["threshold"] == key["threshold"])
    )
    contrast = pairs.iloc[0:0]
    if len(ranked) >= 2:
        named = (pairs["group"] == highest["group"].iloc[0]) & (
            pairs[table.GROUP_B] == lowest["group"].iloc[0])
        contrast = pairs[same & named]
    extra = {}
    if reference is not None and reference in set(ranked["group"]) and len(ranked) >= 2:
        involved = (pairs["group"] == reference) | (pairs[table.GROUP_B] == reference)
        extra = {"reference": reference, "reference_vs_others": _records(pairs[same & involved])}
    return {
        "metric": key["metric"],
        "operating_point": json_value(key[table.OPERATING_POINT]),
        "threshold": json_value(key["threshold"]),
        "highest": _records(highest),
        "lowest": _records(lowest),
        "highest_vs_lowest": _records(contrast),
        "insufficient_groups": block.loc[~block["sufficient"], "group"].tolist(),
        **extra,
    }


def _records(frame: pd.DataFrame) -> list[dict]:
    return [json_value(row) for row in frame.to_dict(orient="records")]

"""Whether each fixed-pair disparity was shown, as the terminal says it and ``--json`` gives it.

A pair is shown when its Benjamini-Hochberg adjusted p-value is below
``alpha`` (1 - the intervals' confidence). A pair whose own interval leaves
out 1 but whose adjusted p-value does not pass is "not shown after
correction", or its interval would read as a contradiction. The terminal's
table and the JSON digest's ``disparities`` use this one rule, so a machine
reading the digest need not work the verdict out from ``p_adjusted``.
"""

from __future__ import annotations

import pandas as pd

from audit.metrics import contrasts, table
from audit.schema import json_value

SHOWN = "yes"
NOT_SHOWN = "not shown"
NOT_AFTER_CORRECTION = "not shown after correction"
#: The digest's fields for each pair, in order.
FIELDS = ("metric", "grouping", "group", table.GROUP_B, table.OPERATING_POINT, "threshold")


def shown_verdict(adjusted: float, ratio_low: float, alpha: float) -> str:
    """:data:`SHOWN`, :data:`NOT_AFTER_CORRECTION` or :data:`NOT_SHOWN` (NaN p: not shown).

    >>> shown_verdict(0.01, 1.2, 0.05), shown_verdict(0.07, 1.05, 0.05)
    ('yes', 'not shown after correction')
    >>> shown_verdict(0.07, 0.9, 0.05)
    'not shown'
    """
    if adjusted < alpha:
        return SHOWN
    return NOT_AFTER_CORRECTION if adjusted >= alpha and ratio_low > 1 else NOT_SHOWN


def ratios_with_p(frame: pd.DataFrame) -> pd.DataFrame:
    """The fixed-pair ratio rows (sweep rows left out), each with its ``p_adjusted`` (NaN
    when the table has none), matched on every field of :data:`FIELDS`: a deployment
    threshold equal to a calibrated one is two pairs, told apart by the operating point."""
    pairs = frame[frame[table.GROUP_B].notna()
                  & (frame[table.POINT_KIND].fillna("") != table.SWEEP)]
    ratios = pairs[pairs[table.STATISTIC] == contrasts.RATIO]
    adjusted = pairs[pairs[table.STATISTIC] == contrasts.P_ADJUSTED]
    keys = list(FIELDS)
    return ratios.merge(adjusted[keys + ["value"]].rename(columns={"value": "p_adjusted"}),
                        on=keys, how="left")


def pair_verdicts(frame: pd.DataFrame, alpha: float = 0.05) -> list[dict]:
    """One record per fixed pair's ratio (sweep rows left out): the pair, its operating
    point, ``ratio`` with ``ci_low``/``ci_high``, ``p_adjusted`` and ``shown``."""
    keys = list(FIELDS)
    records = []
    for row in ratios_with_p(frame).itertuples(index=False):
        p = float("nan") if pd.isna(row.p_adjusted) else float(row.p_adjusted)
        low = float("nan") if pd.isna(row.ci_low) else float(row.ci_low)
        records.append(json_value({
            **{k: getattr(row, k) for k in keys}, "ratio": row.value, "ci_low": row.ci_low,
            "ci_high": row.ci_high, "p_adjusted": row.p_adjusted,
            "shown": shown_verdict(p, low, alpha)}))
    return records

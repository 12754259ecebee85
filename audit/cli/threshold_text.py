"""Calibrated thresholds as a person would write them, with the same decisions on the log.

A threshold calibrated to a target rate sits just above the last score it
must leave out: the smallest float above 0.12 prints as 0.12000000000000001,
and 0.12 itself would alert on that score. Every threshold strictly above the
highest score below it, up to the lowest score at or above it, decides every
trial of the log alike; the terminal prints the one with the fewest
significant digits, but at least :data:`MIN_DIGITS`, so a threshold copied
from it and deployed gives the calibrated rates, with no float noise, and
stays next to the computed one where scores are sparse (0.1201 above 0.12
when the next score is 0.91, not 0.2, which decides the log alike but reads
as another threshold). The table keeps the computed threshold.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal

import numpy as np
import pandas as pd

from audit.metrics import table

#: Point kinds whose threshold was computed, not given (a given one is printed as given).
CALIBRATED_KINDS = (table.TARGET_FMR, table.TARGET_FPIR)
#: Fewest significant digits a shown threshold has (those of the larger end's magnitude).
MIN_DIGITS = 4


def shortest_between(low: float, high: float) -> float:
    """The number with the fewest significant digits, at least :data:`MIN_DIGITS`, in
    ``(low, high]`` (the smallest of those when several have as few).

    >>> shortest_between(0.12, 0.91), shortest_between(0.56789, 0.5679012)
    (0.1201, 0.5679)
    """
    if not low < high:
        raise ValueError(f"empty interval ({low}, {high}]")
    exact = Decimal(repr(low))
    largest = max(abs(low), abs(high) if math.isfinite(high) else 0.0)
    magnitude = math.floor(math.log10(largest)) if largest else 0
    for exponent in range(magnitude + 1 - MIN_DIGITS, -330, -1):
        step = Decimal(1).scaleb(exponent)
        candidate = float((exact / step).to_integral_value(ROUND_FLOOR) * step + step)
        if low < candidate <= high:
            return candidate
    return high


def shown_thresholds(frame: pd.DataFrame, scores: np.ndarray) -> dict[float, float]:
    """Each calibrated threshold of ``frame`` mapped to the shortest one deciding every
    score of ``scores`` (NaN: no score) alike; thresholds with no score below are kept."""
    kinds = frame[table.POINT_KIND].fillna("")
    computed = frame.loc[kinds.isin(CALIBRATED_KINDS), "threshold"].dropna().unique()
    shown = {}
    for threshold in computed:
        below = scores < threshold  # NaN (no score) neither below nor at or above
        low = scores.max(where=below, initial=-np.inf)
        if low == -np.inf:
            continue
        high = scores.min(where=scores >= threshold, initial=np.inf)
        shown[float(threshold)] = shortest_between(float(low), float(high))
    return shown

"""Calibrated thresholds as a person would write them, with the same decisions on the log.

A threshold calibrated to a target rate sits just above the last score it
must leave out: the smallest float above 0.12 prints as 0.12000000000000001,
and 0.12 itself would alert on that score. Every threshold strictly above the
highest score below it, up to the lowest score at or above it, decides every
trial of the log alike; the terminal prints the one nearest the computed
threshold with the fewest significant digits, but at least :data:`MIN_DIGITS`
(0.1201 there, not 0.2, which decides the log alike but reads as another
threshold). A threshold already that short (most often a score of the log,
such as 0.5679) is printed as it is. Copied from the terminal and deployed,
it gives the calibrated rates, with no float noise. The table keeps the
computed threshold.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal

import numpy as np
import pandas as pd

from audit.metrics import table

#: Point kinds whose threshold was computed, not given (a given one is printed as given).
CALIBRATED_KINDS = (table.TARGET_FMR, table.TARGET_FPIR)
#: Fewest significant digits a shown threshold has.
MIN_DIGITS = 4


def shown_between(threshold: float, low: float, high: float) -> float:
    """The number nearest ``threshold`` with the fewest significant digits, at least
    :data:`MIN_DIGITS`, in ``(low, high]`` (``threshold`` itself lies there).

    >>> shown_between(0.12000000000000001, 0.12, 0.91), shown_between(0.5679, 0.5671, 0.5679)
    (0.1201, 0.5679)
    >>> shown_between(0.7395241349869142, 0.7395238, 0.7395241349869142)
    0.739524
    """
    exact = Decimal(repr(threshold))
    magnitude = math.floor(math.log10(abs(threshold))) if threshold else 0
    for digits in range(MIN_DIGITS, 18):
        step = Decimal(1).scaleb(magnitude + 1 - digits)
        down = (exact / step).to_integral_value(ROUND_FLOOR) * step
        for candidate in sorted((float(down), float(down + step)),
                                key=lambda c: abs(c - threshold)):
            if low < candidate <= high:
                return candidate
    return threshold


def shown_thresholds(frame: pd.DataFrame, scores: np.ndarray) -> dict[float, float]:
    """Each calibrated threshold of ``frame`` mapped to the one shown (:func:`shown_between`),
    deciding every score of ``scores`` (NaN: no score) alike; thresholds with no score below
    are kept."""
    kinds = frame[table.POINT_KIND].fillna("")
    computed = frame.loc[kinds.isin(CALIBRATED_KINDS), "threshold"].dropna().unique()
    shown = {}
    for threshold in computed:
        below = scores < threshold  # NaN (no score) neither below nor at or above
        low = scores.max(where=below, initial=-np.inf)
        if low == -np.inf:
            continue
        high = scores.min(where=scores >= threshold, initial=np.inf)
        shown[float(threshold)] = shown_between(float(threshold), float(low), float(high))
    return shown


#: The line under the tables when a calibrated threshold is shown shortened (``data``: "log"
#: for ``metrics`` on a score log, "run" for ``run``).
SHOWN_LINE = ("thresholds shown: {pairs} in the table (every trial of the {data} is decided "
              "alike at both)")


def with_shown_thresholds(frame: pd.DataFrame,
                          scores: np.ndarray) -> tuple[pd.DataFrame, dict[float, float]]:
    """``frame`` with each calibrated threshold replaced by the one shown
    (:func:`shown_thresholds` on ``scores``), and the replaced ones, computed -> shown:
    the terminal prints the short number, and a line giving both when they differ."""
    shown = {t: s for t, s in shown_thresholds(frame, scores).items() if t != s}
    if not shown:
        return frame, shown
    return frame.assign(threshold=frame["threshold"].replace(shown)), shown


def shown_line(shown: dict[float, float], data: str) -> str:
    """:data:`SHOWN_LINE` for the replaced thresholds (computed -> shown), each as
    ``0.6012 for 0.6012345678901234``."""
    pairs = ", ".join(f"{s!r} for {t!r}" for t, s in shown.items())
    return SHOWN_LINE.format(pairs=pairs, data=data)

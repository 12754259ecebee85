"""The metrics table's rows: rates, then fixed pairs, descriptive summaries, GARBE and FDR.

:func:`audit.metrics.engine.compute_metrics` measures every breakdown's rates with
their intervals (:class:`Measured`); :func:`table_rows` reads the rest from those:
every fixed pair of groups of a (threshold, stratum) block (:func:`pair_rows`, with
the Benjamini-Hochberg adjustment over the whole table's family, :func:`adjusted`),
the descriptive summaries and the combined non-mated and mated ones
(:func:`combined_rows`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.metrics import contrasts, disparity, groups, score_limits, table, variance

#: Non-mated and mated rate pairs summarised together by GARBE and FDR.
COMBINED = (("fmr", "fnmr"), ("fpir", "fnir"))


@dataclass(frozen=True)
class Measured:
    """A breakdown's rate rows with intervals, their design effects and influences."""

    part: groups.Breakdown
    rows: pd.DataFrame
    design_effects: np.ndarray
    influence: variance.Influence
    #: How each row's limits are found (:mod:`audit.metrics.score_limits`).
    limits: score_limits.RateVariance


def table_rows(measured: list[Measured], *, confidence: float, alpha: float) -> pd.DataFrame:
    """Rate rows, then fixed-pair rows (adjusted over the whole table's family of tests,
    which is why they are gathered from every breakdown first), then the descriptive
    summaries."""
    fixed_pairs = [pair_rows(m, confidence=confidence) for m in measured if compared(m.part)]
    summaries = [
        disparity.summary_rows(m.rows.iloc[block])
        for m in measured
        if compared(m.part)
        for block in slices(m.rows, swept=False)
    ]
    return pd.concat(
        [m.rows.loc[:, table.COLUMNS] for m in measured]
        + [adjusted(pd.concat(fixed_pairs, ignore_index=True) if fixed_pairs
                    else table.empty_frame())]
        + summaries + combined_rows(measured, alpha=alpha),
        ignore_index=True,
    )


def compared(part: groups.Breakdown) -> bool:
    """Groups are compared within demographic and condition groupings, not overall or cross."""
    return bool(part.grouping.sensitive) and not part.grouping.cross


def pair_rows(measured: Measured, *, confidence: float) -> pd.DataFrame:
    """Fixed-pair rows of every (threshold, stratum) block of one breakdown."""
    out = []
    for block in slices(measured.rows):
        rows = measured.rows.iloc[block]
        used = rows["sufficient"].to_numpy(bool)
        if used.sum() < 2:
            continue
        kept = rows[used]
        index = np.asarray(block)[used]
        compared = contrasts.GroupRates(
            labels=kept["group"].tolist(),
            errors=kept["n_errors"].to_numpy(np.float64),
            trials=kept["n_trials"].to_numpy(np.float64),
            design_effect=measured.design_effects[index],
            correlation=measured.influence.columns(index).correlation(),
            variance=measured.limits.take(index),
            influence=measured.influence.columns(index) if measured.part.clusters.dyadic else None,
        )
        for c in contrasts.contrasts(compared, confidence=confidence):
            out.extend(_contrast_rows(kept, c))
    return pd.DataFrame(out, columns=table.COLUMNS) if out else table.empty_frame()


def _contrast_rows(kept: pd.DataFrame, c: contrasts.Contrast) -> list[dict]:
    first, second = kept.iloc[c.higher], kept.iloc[c.lower]
    base = {
        **{k: first[k] for k in ("metric", "grouping", "threshold", table.OPERATING_POINT,
                                 table.POINT_KIND, table.TARGET)},
        "group": first["group"],
        table.GROUP_B: second["group"],
        "n_trials": int(first["n_trials"] + second["n_trials"]),
        "n_subjects": int(first["n_subjects"] + second["n_subjects"]),
        "n_errors": int(first["n_errors"] + second["n_errors"]),
        "sufficient": True,
    }
    values = (
        (contrasts.RATIO, c.ratio, c.ratio_low, c.ratio_high, c.ratio_method),
        (contrasts.DIFFERENCE, c.difference, c.difference_low, c.difference_high,
         c.difference_method),
        (contrasts.P_VALUE, c.p_value, np.nan, np.nan, {
            contrasts.HALL_LOG: contrasts.INVERTED_HALL,
            contrasts.SYMMETRIC_LOG: contrasts.INVERTED_SYMMETRIC,
            contrasts.BOUND: contrasts.INVERTED_BOUND,
        }.get(c.ratio_method, contrasts.INVERTED)),
        (contrasts.P_ADJUSTED, c.p_value, np.nan, np.nan, contrasts.BENJAMINI_HOCHBERG),
        (contrasts.MIN_DETECTABLE_RATIO, c.min_detectable_ratio, np.nan, np.nan,
         contrasts.DETECTABLE),
    )
    return [
        {**base, table.STATISTIC: statistic, "value": value, "ci_low": low, "ci_high": high,
         "ci_method": method if not (isinstance(value, float) and math.isnan(value)) else None}
        for statistic, value, low, high, method in values
    ]


def adjusted(rows: pd.DataFrame) -> pd.DataFrame:
    """Fill the ``p_adjusted`` rows: Benjamini-Hochberg over the whole family of pair tests.

    The family is every fixed-pair test of the table: every rate, grouping
    (demographic and condition), stratum, pair and operating point; sweep
    points are not in it, and their ``p_adjusted`` rows are dropped.
    """
    out = rows.copy()
    family = (out[table.POINT_KIND] != table.SWEEP).to_numpy()
    tests = family & (out[table.STATISTIC] == contrasts.P_VALUE).to_numpy()
    filled = family & (out[table.STATISTIC] == contrasts.P_ADJUSTED).to_numpy()
    out.loc[filled, "value"] = contrasts.benjamini_hochberg(
        out.loc[tests, "value"].to_numpy(np.float64))
    swept_adjusted = ~family & (out[table.STATISTIC] == contrasts.P_ADJUSTED).to_numpy()
    return out[~swept_adjusted].reset_index(drop=True)


def slices(rows: pd.DataFrame, *, swept: bool = True) -> list[np.ndarray]:
    """Positions of each (threshold, stratum) block of a breakdown's rows (sweep ones too?)."""
    blocks = rows.groupby([groups.THRESHOLD_INDEX, "stratum"], sort=False).indices
    kinds = rows[table.POINT_KIND].to_numpy(dtype=object)
    return [b for b in blocks.values() if swept or kinds[b[0]] != table.SWEEP]


def combined_rows(measured: list[Measured], *, alpha: float) -> list[pd.DataFrame]:
    """GARBE and FDR rows of every grouping that has both rates of a COMBINED pair."""
    found = {(m.part.rate, m.part.grouping): m.rows for m in measured}
    out = []
    for m in measured:
        if not compared(m.part):
            continue
        for non_mated, mated in COMBINED:
            if m.part.rate != non_mated or (mated, m.part.grouping) not in found:
                continue
            partner = found[(mated, m.part.grouping)]
            for block in slices(m.rows, swept=False):
                out.append(disparity.combined_rows(
                    m.rows.iloc[block], partner.iloc[block], alpha=alpha))
    return out

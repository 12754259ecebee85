"""Descriptive summaries of disparity across all groups of a grouping.

Max/min, max/geometric mean (NIST IR 8429), the Gini coefficient, GARBE
(Howard et al. 2022) and the fairness discrepancy rate (de Freitas Pereira &
Marcel 2021) each compress a grouping's rates into one number. They are
*descriptive*: which groups are extreme is chosen from the data, so
re-estimating them on new data is biased upward, and an interval built by
re-choosing the extremes can never fall below 1 (ratios) or 0 (differences).
They therefore carry no interval and no test, and no sentence of the report
claims or denies a difference from them. Claims about two named groups rest on
:mod:`audit.metrics.contrasts`, with an interval for that fixed pair.

The functions take an array of group rates of shape (..., n_groups) and
reduce the last axis. Undefined values (a zero denominator) are NaN; a ratio
over a zero rate is ``inf`` (unbounded). :func:`summary_rows` writes them as
METRICS rows (``statistic`` column) for the groups marked ``sufficient``; the
row's ``group`` is the stratum (``"all"`` without controls), and for
``max_min_ratio`` and ``max_min_difference`` ``group_b`` stays null: the
extreme groups are named by the rate rows, not by the summary.
``n_trials``, ``n_subjects`` and ``n_errors`` are sums over the groups used;
``sufficient`` is False (and the value NaN) when fewer than two groups are
sufficient.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from audit.metrics import table
from audit.metrics.rates import UndefinedRateWarning
from audit.metrics.trials import ALL

FEWER_THAN_TWO = "{what}: fewer than two sufficient groups in {where}; disparity is undefined (NaN)"
UNDEFINED_SUMMARY = ("{names} of {metric}{at} by {grouping} in {where}: every group's {metric} is "
                     "0, so undefined (NaN)")
BAD_ALPHA = "alpha must be in [0, 1], got {alpha!r}"


def max_min_ratio(rates: np.ndarray) -> np.ndarray:
    """Largest over smallest group rate; ``inf`` when only the smallest is 0, NaN when all are.

    References: NIST IR 8429 (FRVT Part 8: Summarizing demographic
    differentials, 2022).

    Examples
    --------
    >>> float(max_min_ratio(np.array([0.01, 0.02, 0.04])))
    4.0
    """
    x = np.asarray(rates, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return x.max(axis=-1) / x.min(axis=-1)


def max_min_difference(rates: np.ndarray) -> np.ndarray:
    """Largest minus smallest group rate.

    Examples
    --------
    >>> round(float(max_min_difference(np.array([0.01, 0.02, 0.04]))), 6)
    0.03
    """
    x = np.asarray(rates, dtype=np.float64)
    return x.max(axis=-1) - x.min(axis=-1)


def max_geomean_ratio(rates: np.ndarray) -> np.ndarray:
    r"""Largest group rate over the geometric mean of all group rates.

    .. math:: \max_g r_g \Big/ \left(\prod_g r_g\right)^{1/G}

    ``inf`` when a group rate is 0 and another is not. References: NIST IR
    8429 (max/geomean summary of demographic differentials).

    Examples
    --------
    >>> round(float(max_geomean_ratio(np.array([0.01, 0.04]))), 6)
    2.0
    """
    x = np.asarray(rates, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return x.max(axis=-1) / np.exp(np.log(x).mean(axis=-1))


def gini(rates: np.ndarray) -> np.ndarray:
    r"""Gini coefficient of group rates with the small-sample correction.

    .. math:: G = \frac{n}{n - 1} \cdot \frac{\sum_i \sum_j |x_i - x_j|}{2 n^2 \bar x}

    over the *n* group rates; 0 when all are equal. NaN when all rates are 0.
    This is the building block of GARBE (Howard et al. 2022).

    Examples
    --------
    >>> float(gini(np.array([0.0, 0.1])))
    1.0
    """
    x = np.asarray(rates, dtype=np.float64)
    n = x.shape[-1]
    spread = np.abs(x[..., :, None] - x[..., None, :]).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return n / (n - 1) * spread / (2 * n**2 * x.mean(axis=-1))


def garbe(non_mated: np.ndarray, mated: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    r"""Gini Aggregation Rate for Biometric Equitability (GARBE).

    .. math:: \mathrm{GARBE}(t) = \alpha\, G_{\mathrm{FMR}}(t) + (1 - \alpha)\, G_{\mathrm{FNMR}}(t)

    where :math:`G` is :func:`gini` over the groups' rates at the same
    threshold. 0 is perfectly equitable; higher is less equitable. For 1:N,
    FPIR and FNIR take the places of FMR and FNMR.

    References
    ----------
    Howard, Laird, Rubin, Sirotin, Tipton & Vemury (2022), "Evaluating
    proposed fairness models for face recognition algorithms", arXiv:2203.05051
    (ICPR 2022 workshops).

    Examples
    --------
    >>> float(garbe(np.array([0.0, 0.1]), np.array([0.2, 0.2])))
    0.5
    """
    _check_alpha(alpha)
    return alpha * gini(non_mated) + (1 - alpha) * gini(mated)


def fairness_discrepancy_rate(
    non_mated: np.ndarray, mated: np.ndarray, *, alpha: float = 0.5
) -> np.ndarray:
    r"""Fairness discrepancy rate (FDR) of de Freitas Pereira & Marcel.

    .. math::
       \mathrm{FDR}(t) = 1 - \big(\alpha A(t) + (1 - \alpha) B(t)\big),\quad
       A(t) = \max_{i,j} |\mathrm{FMR}_i(t) - \mathrm{FMR}_j(t)|,\quad
       B(t) = \max_{i,j} |\mathrm{FNMR}_i(t) - \mathrm{FNMR}_j(t)|

    1 is perfectly fair. For 1:N, FPIR and FNIR take the places of FMR/FNMR.

    References
    ----------
    de Freitas Pereira & Marcel (2021), "Fairness in biometrics: a figure of
    merit to assess biometric verification systems", IEEE T-BIOM 4(1):19-29,
    arXiv:2011.02395.

    Examples
    --------
    >>> round(float(fairness_discrepancy_rate(np.array([0.0, 0.1]), np.array([0.2, 0.4]))), 6)
    0.85
    """
    _check_alpha(alpha)
    return 1 - (alpha * max_min_difference(non_mated) + (1 - alpha) * max_min_difference(mated))


def _check_alpha(alpha: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(BAD_ALPHA.format(alpha=alpha))


def summary_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Descriptive summary rows of one rate, grouping, threshold and stratum.

    ``rows`` are the rate's rate rows of the groups (value, counts,
    ``sufficient``, structure columns). Only sufficient groups enter.
    """
    used = rows["sufficient"].to_numpy(bool)
    first = rows.iloc[0]
    where = first["stratum"] or ALL
    if used.sum() < 2:
        warnings.warn(
            FEWER_THAN_TWO.format(what=f"{first['metric']} by {first['grouping']}", where=where),
            UndefinedRateWarning,
            stacklevel=2,
        )
        return _rows([_row(first, s, where, np.nan, rows[used], False) for s in SUMMARIES])
    kept = rows[used]
    values = kept["value"].to_numpy(np.float64)
    out = [
        _row(first, statistic, where, float(function(values)), kept, True)
        for statistic, function in SUMMARIES.items()
    ]
    undefined = [row[table.STATISTIC] for row in out if np.isnan(row["value"])]
    if undefined:
        warnings.warn(
            UNDEFINED_SUMMARY.format(
                names=", ".join(undefined), metric=first["metric"], at=_at(first),
                grouping=first["grouping"], where=where
            ),
            UndefinedRateWarning,
            stacklevel=2,
        )
    return _rows(out)


def _at(row: pd.Series) -> str:
    """" at <operating point> <threshold>" for a message, when the row has a threshold."""
    threshold = row.get("threshold", np.nan)
    if threshold is None or threshold != threshold:
        return ""
    label = row.get("operating_point")
    return f" at {label + ' ' if isinstance(label, str) else ''}{float(threshold)!r}"


SUMMARIES = {
    "max_min_ratio": max_min_ratio,
    "max_min_difference": max_min_difference,
    "max_geomean_ratio": max_geomean_ratio,
    "gini": gini,
}
#: Summaries combining a non-mated rate (``metric``) with its mated partner.
COMBINED = {"garbe": garbe, "fdr": fairness_discrepancy_rate}


def combined_rows(non_mated: pd.DataFrame, mated: pd.DataFrame, *, alpha: float) -> pd.DataFrame:
    """GARBE and FDR rows from a non-mated and a mated rate of the same groups.

    Both frames hold the rate rows of one grouping, threshold and stratum in
    the same group order; groups sufficient for both rates enter. The rows'
    ``metric`` is the non-mated rate (``fmr`` pairs with ``fnmr``, ``fpir``
    with ``fnir``).
    """
    used = non_mated["sufficient"].to_numpy(bool) & mated["sufficient"].to_numpy(bool)
    first = non_mated.iloc[0]
    where = first["stratum"] or ALL
    kept = pd.concat([non_mated[used], mated[used]])
    out = []
    for name, function in COMBINED.items():
        if used.sum() < 2:
            out.append(_row(first, name, where, np.nan, kept, False))
            continue
        a, b = non_mated["value"].to_numpy()[used], mated["value"].to_numpy()[used]
        out.append(_row(first, name, where, float(function(a, b, alpha=alpha)), kept, True))
    return _rows(out)


def _row(
    first: pd.Series, statistic: str, group: str, value: float, kept: pd.DataFrame,
    sufficient: bool,
) -> dict:
    return {
        **{c: first[c] for c in ("metric", "grouping", "threshold", table.OPERATING_POINT,
                                 table.POINT_KIND, table.TARGET)},
        table.STATISTIC: statistic,
        "group": group,
        table.GROUP_B: None,
        "value": value,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "ci_method": None,
        "n_trials": int(kept["n_trials"].sum()),
        "n_subjects": int(kept["n_subjects"].sum()),
        "n_errors": int(kept["n_errors"].sum()),
        "sufficient": sufficient,
    }


def _rows(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=table.COLUMNS)

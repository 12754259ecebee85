"""Disparity across groups: ratios, Gini-style summaries, tests and power.

The summary functions take an array of group rates of shape (..., n_groups)
and reduce the last axis, so the same call gives the point estimate (1-D
input) and its bootstrap replicates (2-D input, one row per replicate of
:func:`audit.metrics.intervals.bootstrap_rates`: subjects are resampled once
and every group's rate recomputed, which keeps the groups' dependence).
Undefined values (a zero denominator) are NaN; a ratio over a zero rate is
``inf`` (unbounded), not NaN.

:func:`disparity_rows` applies them, only to groups marked ``sufficient``
(insufficient groups are never ranked), and writes METRICS rows named
``"<rate>:<statistic>"``:

========================  =============================================  ==========================
statistic                 value                                          group column
========================  =============================================  ==========================
``max_min_ratio``         max / min group rate                           ``"<max> / <min>"``
``max_min_difference``    max - min group rate                           ``"<max> / <min>"``
``max_geomean_ratio``     max / geometric mean (NIST IR 8429)            stratum or ``"all"``
``gini``                  Gini coefficient with n/(n-1) correction       stratum or ``"all"``
``equality_p``            p-value, H0: equal rates in all groups         stratum or ``"all"``
``pairwise_p_holm``       Holm-adjusted p-value of one pair              ``"<a> vs <b>"``
``min_detectable_ratio``  smallest ratio detectable, power 0.8, a=0.05   stratum or ``"all"``
========================  =============================================  ==========================

plus ``garbe(<a>,<b>)`` and ``fdr(<a>,<b>)`` rows that combine a non-mated
rate *a* (FMR, FPIR) and a mated rate *b* (FNMR, FNIR) at the same threshold
(:func:`combined_rows`). ``n_trials``, ``n_subjects`` and ``n_errors`` are sums
over the groups used; ``sufficient`` is False (and the value NaN) when fewer
than two groups are sufficient.

Tests and clustering: trials of one subject are correlated, so a plain
chi-square test over millions of comparisons finds every difference
"significant". Counts are first divided by a design effect (Kish's effective
sample size; a first-order Rao-Scott adjustment): the ratio of the
subject-bootstrap variance of each group's rate to the binomial variance,
floored at 1. Without replicates the design effect is 1 and the test assumes
independent trials.
"""

from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from audit.metrics import table
from audit.metrics.intervals import percentile_interval
from audit.metrics.rates import UndefinedRateWarning

BOOTSTRAP = "bootstrap-subject"
CHI_SQUARE = "chi-square"
MONTE_CARLO = "chi-square-monte-carlo"
FISHER = "fisher-exact"
NO_VARIATION = "no-variation"
POWER_METHOD = "arcsine-power"
FEWER_THAN_TWO = "{what}: fewer than two sufficient groups in {where}; disparity is undefined (NaN)"
UNDEFINED_SUMMARY = "{names} by {grouping} in {where}: every group rate is 0, so undefined (NaN)"
BAD_ALPHA = "alpha must be in [0, 1], got {alpha!r}"
#: Expected cell count below which a test uses exact (Fisher) or Monte Carlo p-values.
MIN_EXPECTED = 5.0
MONTE_CARLO_RESAMPLES = 4999


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


def design_effects(
    rates: np.ndarray, trials: np.ndarray, replicates: np.ndarray | None
) -> np.ndarray:
    r"""Per-group design effect of clustered trials, floored at 1.

    .. math::
       d_g = \max\left(1,
       \frac{\widehat{\mathrm{Var}}_{\text{boot}}(r_g)}{r_g (1 - r_g) / n_g}\right)

    1 where it cannot be estimated (no replicates, rate 0 or 1).

    References
    ----------
    Kish (1965), *Survey Sampling*; Rao & Scott (1981), JASA 76:221-230.
    """
    p = np.asarray(rates, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if replicates is None:
        return np.ones_like(p)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ratio = np.nanvar(replicates, axis=0, ddof=1) / (p * (1 - p) / n)
    return np.where(np.isfinite(ratio), np.maximum(ratio, 1.0), 1.0)


def equality_test(
    errors: np.ndarray, trials: np.ndarray, *, design_effect: object = 1.0, seed: int = 0
) -> tuple[float, str]:
    """Test that all groups share one error rate; returns (p-value, method).

    Counts are divided by the design effect (per group or one number). With
    every expected count at least :data:`MIN_EXPECTED`: Pearson's chi-square
    (no continuity correction). Otherwise the p-value is exact for two groups
    (Fisher) and Monte Carlo (:data:`MONTE_CARLO_RESAMPLES` tables with the
    observed margins, seeded) for more, on rounded effective counts. When no
    group has an error, or all trials are errors, there is nothing to test:
    p = 1 (``"no-variation"``).

    Examples
    --------
    >>> p, method = equality_test(np.array([50, 100]), np.array([1000, 1000]))
    >>> method, p < 1e-4
    ('chi-square', True)
    """
    e = np.asarray(errors, dtype=np.float64) / np.asarray(design_effect, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64) / np.asarray(design_effect, dtype=np.float64)
    observed = np.column_stack([e, n - e])
    if (observed.sum(axis=0) == 0).any():
        return 1.0, NO_VARIATION
    expected = stats.contingency.expected_freq(observed)
    if expected.min() >= MIN_EXPECTED:
        return float(stats.chi2_contingency(observed, correction=False).pvalue), CHI_SQUARE
    rounded = np.rint(observed).astype(np.int64)
    if (rounded.sum(axis=0) == 0).any() or (rounded.sum(axis=1) == 0).any():
        return 1.0, NO_VARIATION
    if len(rounded) == 2:
        return float(stats.fisher_exact(rounded).pvalue), FISHER
    method = stats.MonteCarloMethod(
        n_resamples=MONTE_CARLO_RESAMPLES, rng=np.random.default_rng(seed)
    )
    result = stats.chi2_contingency(rounded, correction=False, method=method)
    return float(result.pvalue), MONTE_CARLO


def holm(p_values: object) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (family-wise error control).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    m = p.size
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def min_detectable_ratio(
    base_rate: float, n_a: float, n_b: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    r"""Smallest rate ratio a two-group comparison of this size detects.

    With Cohen's arcsine effect size :math:`h = 2\arcsin\sqrt{p_1} -
    2\arcsin\sqrt{p_0}`, a two-sided test at level ``alpha`` reaches ``power``
    when :math:`h = (z_{1-\alpha/2} + z_{\text{power}})\sqrt{1/n_a + 1/n_b}`.
    Returns :math:`p_1 / p_0` for ``p_0 = base_rate``; NaN when the base rate
    is 0 or no rate up to 1 is detectable.

    References
    ----------
    Cohen (1988), *Statistical Power Analysis for the Behavioral Sciences*,
    chapter 6.

    Examples
    --------
    >>> round(min_detectable_ratio(0.01, 10_000, 10_000), 2)
    1.43
    """
    if not 0.0 < base_rate < 1.0 or n_a <= 0 or n_b <= 0:
        return float("nan")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    phi = 2 * np.arcsin(np.sqrt(base_rate)) + z * np.sqrt(1 / n_a + 1 / n_b)
    if phi > np.pi:
        return float("nan")
    return float(np.sin(phi / 2) ** 2 / base_rate)


def disparity_rows(
    rows: pd.DataFrame, replicates: np.ndarray | None, *, confidence: float, seed: int
) -> pd.DataFrame:
    """Disparity rows of one rate, grouping, threshold and stratum.

    ``rows`` are the rate's METRICS rows of the groups (value, counts,
    ``sufficient``); ``replicates`` their bootstrap replicates (one column per
    row) or None. Only sufficient groups enter.
    """
    used = rows["sufficient"].to_numpy(bool)
    first = rows.iloc[0]
    where = first["stratum"] or "all"
    base = {
        "grouping": first["grouping"],
        "threshold": first["threshold"],
        table.OPERATING_POINT: first[table.OPERATING_POINT],
    }
    rate = first["metric"]
    if used.sum() < 2:
        warnings.warn(
            FEWER_THAN_TWO.format(what=f"{rate} by {first['grouping']}", where=where),
            UndefinedRateWarning,
            stacklevel=2,
        )
        return _rows(
            [_row(base, f"{rate}:{s}", where, np.nan, rows[used], False) for s in _SUMMARIES]
        )
    kept = rows[used]
    values = kept["value"].to_numpy(np.float64)
    reps = None if replicates is None else replicates[:, used]
    labels = kept["group"].tolist()
    top, bottom = labels[int(np.argmax(values))], labels[int(np.argmin(values))]
    out = []
    for statistic, function in _SUMMARIES.items():
        group = f"{top} / {bottom}" if statistic in _PAIRED else where
        row = _row(base, f"{rate}:{statistic}", group, float(function(values)), kept, True)
        out.append(_with_interval(row, None if reps is None else function(reps), confidence))
    undefined = [row["metric"] for row in out if np.isnan(row["value"])]
    if undefined:
        warnings.warn(
            UNDEFINED_SUMMARY.format(
                names=", ".join(undefined), grouping=first["grouping"], where=where
            ),
            UndefinedRateWarning,
            stacklevel=2,
        )
    deff = design_effects(values, kept["n_trials"].to_numpy(), reps)
    out.extend(_test_rows(base, rate, where, kept, deff, seed=seed))
    out.append(_power_row(base, rate, where, kept, deff))
    return _rows(out)


_SUMMARIES = {
    "max_min_ratio": max_min_ratio,
    "max_min_difference": max_min_difference,
    "max_geomean_ratio": max_geomean_ratio,
    "gini": gini,
}
_PAIRED = ("max_min_ratio", "max_min_difference")


def _test_rows(
    base: dict, rate: str, where: str, kept: pd.DataFrame, deff: np.ndarray, *, seed: int
) -> list[dict]:
    errors = kept["n_errors"].to_numpy(np.float64)
    trials = kept["n_trials"].to_numpy(np.float64)
    p, method = equality_test(errors, trials, design_effect=deff, seed=seed)
    out = [{**_row(base, f"{rate}:equality_p", where, p, kept, True), "ci_method": method}]
    pairs = list(combinations(range(len(kept)), 2))
    tested = [
        equality_test(errors[[i, j]], trials[[i, j]], design_effect=deff[[i, j]].mean(), seed=seed)
        for i, j in pairs
    ]
    adjusted = holm([p for p, _ in tested])
    labels = kept["group"].tolist()
    for (i, j), (_, method), p_adj in zip(pairs, tested, adjusted, strict=True):
        group = f"{labels[i]} vs {labels[j]}"
        row = _row(base, f"{rate}:pairwise_p_holm", group, p_adj, kept.iloc[[i, j]], True)
        out.append({**row, "ci_method": method})
    return out


def _power_row(base: dict, rate: str, where: str, kept: pd.DataFrame, deff: np.ndarray) -> dict:
    """Ratio detectable between the two smallest sufficient groups (effective sizes)."""
    effective = np.sort(kept["n_trials"].to_numpy(np.float64) / deff)
    pooled = kept["n_errors"].sum() / kept["n_trials"].sum()
    value = min_detectable_ratio(float(pooled), effective[0], effective[1])
    row = _row(base, f"{rate}:min_detectable_ratio", where, value, kept, True)
    return {**row, "ci_method": POWER_METHOD}


def combined_rows(
    non_mated: pd.DataFrame,
    mated: pd.DataFrame,
    non_mated_replicates: np.ndarray | None,
    mated_replicates: np.ndarray | None,
    *,
    alpha: float,
    confidence: float,
) -> pd.DataFrame:
    """GARBE and FDR rows from a non-mated and a mated rate of the same groups.

    Both frames hold the rows of one grouping, threshold and stratum in the
    same group order; groups sufficient for both rates enter.
    """
    used = non_mated["sufficient"].to_numpy(bool) & mated["sufficient"].to_numpy(bool)
    first = non_mated.iloc[0]
    where = first["stratum"] or "all"
    base = {
        "grouping": first["grouping"],
        "threshold": first["threshold"],
        table.OPERATING_POINT: first[table.OPERATING_POINT],
    }
    pair = f"({first['metric']},{mated.iloc[0]['metric']})"
    kept = pd.concat([non_mated[used], mated[used]])
    out = []
    for name, function in (("garbe", garbe), ("fdr", fairness_discrepancy_rate)):
        if used.sum() < 2:
            out.append(_row(base, name + pair, where, np.nan, kept, False))
            continue
        a, b = non_mated["value"].to_numpy()[used], mated["value"].to_numpy()[used]
        row = _row(base, name + pair, where, float(function(a, b, alpha=alpha)), kept, True)
        reps = None
        if non_mated_replicates is not None and mated_replicates is not None:
            reps = function(non_mated_replicates[:, used], mated_replicates[:, used], alpha=alpha)
        out.append(_with_interval(row, reps, confidence))
    return _rows(out)


def _row(
    base: dict, metric: str, group: str, value: float, kept: pd.DataFrame, sufficient: bool
) -> dict:
    return {
        **base,
        "metric": metric,
        "group": group,
        "value": value,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "ci_method": None,
        "n_trials": int(kept["n_trials"].sum()),
        "n_subjects": int(kept["n_subjects"].sum()),
        "n_errors": int(kept["n_errors"].sum()),
        "sufficient": sufficient,
    }


def _with_interval(row: dict, replicates: np.ndarray | None, confidence: float) -> dict:
    if replicates is None or np.isnan(row["value"]):
        return row
    low, high = percentile_interval(np.asarray(replicates)[:, None], confidence=confidence)
    return {**row, "ci_low": float(low[0]), "ci_high": float(high[0]), "ci_method": BOOTSTRAP}


def _rows(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=table.COLUMNS)

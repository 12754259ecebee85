r"""The deployment projection read from the measured watchlist-size curve: the one place.

The deployment's FPIR and FNIR at its own watchlist size W are read from
the curve of :mod:`audit.metrics.watchlist_curve`, then turned into crowd
figures by :func:`audit.metrics.projection.project_deployment`:

* W among the measured sizes: the measured rate and interval (``basis``
  ``"measured"``);
* W inside the measured range: linear interpolation in :math:`\log W` of
  the value and of both interval ends between the two nearest sizes
  (``"interpolated"``);
* W beyond the largest measured size :math:`W_m` (the gallery holds too few
  people): an **extrapolation** with the *independent comparisons* model,
  fitted to the measured curve at :math:`W_m`. Each extra entry is taken to
  be one more independent chance of a false alert, and of a rival beating a
  wanted person's own entry:

  .. math::
     \mathrm{FPIR}(W) = 1 - \big(1 - \mathrm{FPIR}(W_m)\big)^{W / W_m}, \qquad
     \mathrm{FNIR}(W) = 1 - \big(1 - \mathrm{FNIR}(1)\big)
        \left(\frac{1 - \mathrm{FNIR}(W_m)}{1 - \mathrm{FNIR}(1)}\right)^{(W-1)/(W_m-1)}

  Interval ends are carried through the same formula (it is monotone). The
  model ignores that look-alikes cluster (some passers-by resemble many
  people, most resemble none), so the model's error on the measured range,
  the largest relative gap between the model fitted at :math:`W_m` and the
  measured curve at the smaller sizes, is reported beside it
  (``statistic="model_error"``).

Rows written: ``statistic="rate_at_size"`` (metric ``fpir``/``fnir``, with
``watchlist_size`` = W, and again at 10 W for the summary's "at ten times the
watchlist", ``ci_method`` naming the basis when it is not measured),
``statistic="model_error"`` beside each extrapolated one, and the crowd
projection rows (at W only) of :func:`audit.metrics.projection.project_deployment`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.metrics import table
from audit.metrics.projection import project_deployment
from audit.metrics.expected_errors import FNIR_PER_PERSON, FPIR_PER_PERSON
from audit.metrics.watchlist_curve import CURVE, SIZE

RATE_AT_SIZE = "rate_at_size"
MODEL_ERROR = "model_error"
INTERPOLATED = "interpolated-log-w"
EXTRAPOLATED = "extrapolated-independent-comparisons"
MODEL = "independent comparisons, fitted at the largest measured watchlist"
#: The rates are also read at this multiple of the deployment's W, for "how it would change".
SCALE_UP = 10
SERIES = ["metric", "grouping", "group", "threshold", table.OPERATING_POINT]


def extrapolate(metric: str, rate_max: np.ndarray, size_max: int, size: np.ndarray,
                rate_one: np.ndarray | None = None) -> np.ndarray:
    """The independent-comparisons model fitted at ``size_max`` (see module docstring).

    >>> round(float(extrapolate("fpir", np.array(0.19), 10, np.array(20))), 6)  # 1 - 0.81**2
    0.3439
    """
    rate_max, size = np.asarray(rate_max, dtype=np.float64), np.asarray(size, dtype=np.float64)
    if not metric.startswith("fnir"):  # fpir, fpir_per_person, fpir_uniform
        return 1 - (1 - rate_max) ** (size / size_max)
    hit_one = 1 - np.asarray(rate_one, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(hit_one > 0, (1 - rate_max) / hit_one, 0.0)
    return 1 - hit_one * np.clip(ratio, 0.0, 1.0) ** ((size - 1) / max(size_max - 1, 1))


def rates_at_size(curve: pd.DataFrame, size: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """FPIR/FNIR rows at watchlist ``size`` read from the curve, and the model-error rows."""
    read, errors = [], []
    for _, series in curve.groupby(SERIES, sort=False, dropna=False):
        series = series.sort_values(SIZE)
        sizes = series[SIZE].to_numpy(np.int64)
        ends = {c: series[c].to_numpy(np.float64) for c in ("value", "ci_low", "ci_high")}
        row = series.iloc[-1].copy()
        if size in sizes:
            row = series[series[SIZE] == size].iloc[0].copy()
        elif size < sizes[-1]:
            for c, v in ends.items():
                row[c] = np.interp(np.log(size), np.log(sizes), v)
            row["ci_method"] = INTERPOLATED
        else:
            metric, first = row["metric"], ends["value"][0]
            for c, v in ends.items():
                row[c] = float(extrapolate(metric, v[-1], sizes[-1], size, first))
            row["ci_method"] = EXTRAPOLATED
            row[SIZE] = size
            fitted = extrapolate(metric, ends["value"][-1], sizes[-1], sizes, first)
            errors.append(row.copy().to_frame().T.assign(
                value=_relative_gap(fitted[:-1], ends["value"][:-1]),
                ci_low=np.nan, ci_high=np.nan, ci_method=MODEL))
        row[SIZE] = size
        read.append(row.to_frame().T)
    with_size = pd.concat(read, ignore_index=True).assign(**{table.STATISTIC: RATE_AT_SIZE})
    gaps = (pd.concat(errors, ignore_index=True).assign(**{table.STATISTIC: MODEL_ERROR})
            if errors else with_size.iloc[:0])
    return with_size, gaps


def _relative_gap(model: np.ndarray, measured: np.ndarray) -> float:
    """Largest |model - measured| / measured where the measured rate is positive (NaN if none)."""
    positive = measured > 0
    if not positive.any():
        return float("nan")
    return float(np.max(np.abs(model[positive] - measured[positive]) / measured[positive]))


def project_from_curve(curve: pa.Table | pd.DataFrame, *, crowd_size: int,
                       watchlist_share: float, watchlist_size: int,
                       per_person: bool = False) -> pa.Table:
    """Rates at the deployment's watchlist size and the crowd figures, in one table.

    Returns :data:`audit.metrics.table.CURVE_SCHEMA` rows: ``rate_at_size`` at
    W and at :data:`SCALE_UP` x W, ``model_error`` (extrapolations only) and
    ``projection`` rows at W (``watchlist_size`` = W). With ``per_person``
    the false alerts and misses are those of people seen several times
    (``fpir_per_person``, ``fnir_per_person`` rows, where measured) instead
    of one capture's.
    """
    frame = curve.to_pandas() if isinstance(curve, pa.Table) else curve
    frame = frame[frame[table.STATISTIC] == CURVE]
    read, gaps = rates_at_size(frame, int(watchlist_size))
    scaled, scaled_gaps = rates_at_size(frame, SCALE_UP * int(watchlist_size))
    as_rates = read.assign(**{table.STATISTIC: table.RATE})
    for single, person in ((("fpir", FPIR_PER_PERSON), ("fnir", FNIR_PER_PERSON))
                           if per_person else ()):
        if (as_rates["metric"] == person).any():
            as_rates = as_rates[as_rates["metric"] != single].replace({"metric": {person: single}})
    for column in ("value", "ci_low", "ci_high", "threshold", table.TARGET):
        as_rates[column] = as_rates[column].astype(np.float64)
    projected = project_deployment(as_rates, crowd_size=crowd_size,
                                   watchlist_share=watchlist_share, watchlist_size=watchlist_size,
                                   audit_watchlist_size=watchlist_size).to_pandas()
    projected[SIZE] = watchlist_size
    out = pd.concat([read, gaps, scaled, scaled_gaps, projected], ignore_index=True)
    for column in ("n_trials", "n_subjects", "n_errors", SIZE):
        out[column] = out[column].astype(np.int64)
    out["sufficient"] = out["sufficient"].astype(bool)
    return table.to_table(out, table.CURVE_SCHEMA)

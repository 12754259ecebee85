r"""Deployment projection: what the measured 1:N rates mean for a crowd.

For a crowd of ``N`` passers-by of whom a share ``p`` is on a watchlist of
``W`` people, at one threshold with measured FPIR and FNIR:

.. math::
   \text{false alerts} = N (1 - p)\, \mathrm{FPIR}, \qquad
   \text{true alerts} = N p\, (1 - \mathrm{FNIR}), \qquad
   \text{precision} = \frac{\text{true alerts}}{\text{true} + \text{false alerts}}

This turns "FPIR 0.1%" into "about 100 false alerts per 100,000 people
scanned". Per group, ``N`` is read as a crowd of that group.

**Watchlist size.** FPIR grows with the watchlist (each extra entry is one
more chance of a false match), so the rates hold for the watchlist size the
audit measured them at. A projection for another ``W`` applies them
unchanged and says so with a :class:`WatchlistSizeWarning`; it does not
extrapolate. A watchlisted person alerted on *another* person's entry is a
miss in FNIR and is not counted as a false alert here, so false alerts are a
lower bound when such confusions occur.

**Intervals** are propagated from the rate intervals by monotonicity: each
projected figure's bounds are its values at the FPIR and FNIR interval ends
that make it smallest and largest. As two intervals are combined, the joint
coverage is at least ``1 - 2 (1 - confidence)`` (Bonferroni), e.g. 90% from
two 95% intervals.

Output rows (METRICS schema, ``statistic="projection"``, ``ci_method="propagated"``):
``projected_alerts``, ``projected_false_alerts``, ``projected_true_alerts``,
``projected_precision`` (share of alerts that are correct),
``projected_false_alerts_per_face`` and ``projected_false_alerts_per_alert``,
one per grouping, group and operating point (sweep rows are skipped) that
has both FPIR and FNIR. Each figure carries the counts and sufficiency of the
rates it depends on: false alerts (total and per face) FPIR's alone, true
alerts FNIR's alone, the rest the sums of both, ``sufficient`` needing both.
So a group whose miss rate is insufficient still gets its false alerts.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.metrics import table

PROPAGATED = "propagated"
#: Metric names of the projected figures, in output order.
PROJECTED = (
    "projected_alerts",
    "projected_false_alerts",
    "projected_true_alerts",
    "projected_precision",
    "projected_false_alerts_per_face",
    "projected_false_alerts_per_alert",
)
KEYS = ["grouping", "group", "threshold", table.OPERATING_POINT]
NO_IDENTIFICATION = "the metrics table has no fpir and fnir rows to project (no 1:N searches)"
#: The rates each projected figure is computed from.
DEPENDS_ON = {
    "projected_alerts": ("_fp", "_fn"),
    "projected_false_alerts": ("_fp",),
    "projected_true_alerts": ("_fn",),
    "projected_precision": ("_fp", "_fn"),
    "projected_false_alerts_per_face": ("_fp",),
    "projected_false_alerts_per_alert": ("_fp", "_fn"),
}
BAD_SHARE = "watchlist_share must be in [0, 1], got {share!r}"
BAD_SIZE = "{name} must be a positive integer, got {value!r}"
OTHER_SIZE = (
    "rates were measured with a watchlist of {audit} people and are applied unchanged to "
    "a watchlist of {size}, not projected to it (FPIR tends to grow with watchlist size)"
)


class WatchlistSizeWarning(UserWarning):
    """A projection uses rates measured at another watchlist size."""


def project_deployment(
    metrics: pa.Table | pd.DataFrame,
    *,
    crowd_size: int,
    watchlist_share: float,
    watchlist_size: int,
    audit_watchlist_size: int,
) -> pa.Table:
    """Expected alerts, false alerts and precision for a crowd, overall and by group.

    Parameters
    ----------
    metrics : METRICS table (with ``operating_point``) holding ``fpir`` and ``fnir`` rows
    crowd_size : int
        Number of faces scanned, ``N``.
    watchlist_share : float
        Share ``p`` of the crowd who are on the watchlist.
    watchlist_size : int
        Watchlist size ``W`` of the projected deployment.
    audit_watchlist_size : int
        Watchlist size the rates were measured at; a different ``W`` warns.

    Returns
    -------
    pyarrow.Table
        :data:`audit.metrics.table.SCHEMA` rows (see module docstring).

    Examples
    --------
    >>> rows = pd.DataFrame({
    ...     "metric": ["fpir", "fnir"], "grouping": "overall", "group": "all",
    ...     "threshold": 0.6, "value": [0.001, 0.1], "ci_low": [0.0005, 0.08],
    ...     "ci_high": [0.002, 0.12], "ci_method": "wilson", "n_trials": 1000,
    ...     "n_subjects": 100, "n_errors": [1, 100], "sufficient": True,
    ...     "operating_point": "deployment", "statistic": "rate", "group_b": None,
    ...     "point_kind": "deployment", "target": None})
    >>> out = project_deployment(rows, crowd_size=100_000, watchlist_share=0.0001,
    ...                          watchlist_size=1000, audit_watchlist_size=1000).to_pandas()
    >>> figures = out.set_index("metric")[["value", "ci_low", "ci_high"]].round(1)
    >>> figures.loc["projected_false_alerts"].tolist()
    [100.0, 50.0, 200.0]
    >>> figures.loc["projected_precision"].tolist()
    [0.1, 0.0, 0.2]
    """
    _check(crowd_size, watchlist_share, watchlist_size, audit_watchlist_size)
    if watchlist_size != audit_watchlist_size:
        warnings.warn(
            OTHER_SIZE.format(audit=audit_watchlist_size, size=watchlist_size),
            WatchlistSizeWarning,
            stacklevel=2,
        )
    joined = _joined_rates(metrics)
    figures = _figures(joined, crowd_size, watchlist_share)
    rows = _projection_rows(joined, figures)
    return table.to_table(pd.concat(rows, ignore_index=True))


def _joined_rates(metrics: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """FPIR and FNIR rate rows side by side (``_fp``, ``_fn``) per point and group,
    because every projected figure combines a group's false alerts with its misses."""
    frame = metrics.to_pandas() if isinstance(metrics, pa.Table) else metrics
    frame = frame[(frame[table.POINT_KIND].fillna("") != table.SWEEP)
                  & (frame[table.STATISTIC] == table.RATE)]
    fpir = frame[frame["metric"] == "fpir"].set_index(KEYS)
    fnir = frame[frame["metric"] == "fnir"].set_index(KEYS)
    joined = fpir.merge(fnir, how="left", left_index=True, right_index=True,
                        suffixes=("_fp", "_fn"))
    if joined.empty:
        raise ValueError(NO_IDENTIFICATION)
    # No search of a watchlisted person (a dataset without identities): misses unknown,
    # so the figures that need them are NaN; the false alerts still project.
    unknown = joined["n_trials_fn"].isna()
    for column in ("n_trials_fn", "n_subjects_fn", "n_errors_fn"):
        joined[column] = joined[column].fillna(0).astype(np.int64)
    joined["sufficient_fn"] = joined["sufficient_fn"].where(~unknown, False).astype(bool)
    return joined


def _projection_rows(joined: pd.DataFrame, figures: dict) -> list[pd.DataFrame]:
    """METRICS rows of each projected figure, whose counts are those of the rates it
    depends on (:data:`DEPENDS_ON`), so a figure is sufficient only when they all are."""
    keys = joined.index.to_frame(index=False).assign(
        **{
            table.STATISTIC: table.PROJECTION,
            table.GROUP_B: None,
            table.POINT_KIND: joined[f"{table.POINT_KIND}_fp"].to_numpy(),
            table.TARGET: joined[f"{table.TARGET}_fp"].to_numpy(),
        }
    )

    def counts(sources: tuple[str, ...]) -> dict[str, np.ndarray]:
        out = {c: sum(joined[f"{c}{s}"].to_numpy() for s in sources)
               for c in ("n_trials", "n_subjects", "n_errors")}
        out["sufficient"] = np.logical_and.reduce(
            [joined[f"sufficient{s}"].to_numpy(bool) for s in sources])
        return out

    rows = [
        keys.assign(metric=name, value=value, ci_low=low, ci_high=high, ci_method=PROPAGATED,
                    **counts(DEPENDS_ON[name]))
        for name, (value, low, high) in figures.items()
    ]
    return rows


def _check(crowd_size: int, share: float, size: int, audit_size: int) -> None:
    for name, value in (
        ("crowd_size", crowd_size),
        ("watchlist_size", size),
        ("audit_watchlist_size", audit_size),
    ):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(BAD_SIZE.format(name=name, value=value))
    if not 0.0 <= share <= 1.0:
        raise ValueError(BAD_SHARE.format(share=share))


def _figures(
    joined: pd.DataFrame, crowd: int, share: float
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(value, low, high) of every projected figure, bounds by monotonicity."""
    fpir = [joined[c + "_fp"].to_numpy(np.float64) for c in ("value", "ci_low", "ci_high")]
    fnir = [joined[c + "_fn"].to_numpy(np.float64) for c in ("value", "ci_low", "ci_high")]
    off_list, on_list = crowd * (1 - share), crowd * share
    false = [off_list * r for r in fpir]  # value, low, high
    true = [on_list * (1 - fnir[0]), on_list * (1 - fnir[2]), on_list * (1 - fnir[1])]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = (
            true[0] / (true[0] + false[0]),
            true[1] / (true[1] + false[2]),
            true[2] / (true[2] + false[1]),
        )
    figures = (
        (false[0] + true[0], false[1] + true[1], false[2] + true[2]),
        tuple(false),
        tuple(true),
        precision,
        tuple(f / crowd for f in false),
        (1 - precision[0], 1 - precision[2], 1 - precision[1]),
    )
    return dict(zip(PROJECTED, figures, strict=True))

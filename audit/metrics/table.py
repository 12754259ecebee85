"""The one output shape of the metrics stage: rows of the METRICS table.

Every function of the stage that returns figures returns rows with the columns
of :data:`audit.schema.METRICS` plus documented extra columns that carry the
row's structure, so that no reader parses a string:

* ``statistic``: what ``value`` is. ``"rate"`` for a group's error rate
  (``metric`` names the rate: ``fmr``, ``fpir``, ...); for a fixed pair of
  groups ``"ratio"``, ``"difference"``, ``"p_value"``, ``"p_adjusted"``,
  ``"min_detectable_ratio"`` (:mod:`audit.metrics.contrasts`); for the
  descriptive summaries of a grouping ``"max_min_ratio"``,
  ``"max_min_difference"``, ``"max_geomean_ratio"``, ``"gini"``, ``"garbe"``,
  ``"fdr"`` (:mod:`audit.metrics.disparity`); ``"projection"`` for the
  projected figures of :mod:`audit.metrics.projection`.
* ``group`` and ``group_b``: for a pair statistic, the first group (the higher
  rate) and the second; for a cross-group matrix cell (``fmr_cross``), the
  probe's group and the reference's group; ``group_b`` is null otherwise. A
  summary's ``group`` is the stratum it summarises (``"all"`` without
  controls).
* ``operating_point``: a label for display and matching (``"deployment"``,
  ``"deepface-default"``, ``"target_fmr=0.001"``, ``"sweep"``, null for
  ``fta``), with its structure in ``point_kind`` (``"deployment"``, a fixed
  threshold audited for reference: ``"reference"``, ``"target_fmr"``,
  ``"target_fpir"``, ``"sweep"``; null without a threshold) and ``target``
  (the target rate of a calibrated point, else null). A calibrated threshold
  is the one whose *overall* observed FMR (FPIR) is at most the target (see
  :func:`audit.metrics.calibration.threshold_for_target`); every group's rate is
  read at that single global threshold.

``ci_method`` names how ``ci_low``/``ci_high`` (or a p-value) were obtained:
``"wilson-clustered"`` (the cluster-robust option: Wilson at the effective sample size
for one-way rates, Hall's skewness-corrected t for dyadic FMR rates, the symmetric t
at a calibrated threshold, :mod:`audit.metrics.score_limits`), ``"wilson"``, ``"one-sided-bound"`` for rates
(:mod:`audit.metrics.groups`); ``"mover-log"``, ``"mover-r-bound"`` (lower
group without errors), ``"mover"``, ``"inverted-mover-log"``,
``"hall-t-log"``, ``"hall-t"``, ``"inverted-hall-t-log"`` (dyadic pairs with at
least :data:`audit.metrics.pair_limits.MIN_HALL_ERRORS` errors in each group;
``"symmetric-t-log"``, ``"symmetric-t"``, ``"inverted-symmetric-t-log"`` for such
pairs at a calibrated threshold: the same t with no skewness term),
``"inverted-mover-r-bound"``, ``"benjamini-hochberg"``,
``"interval-test-power"`` for pair statistics. Null when the value is NaN or no
interval applies.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

# ``point_kind`` values (and the labels of the first two and the last), defined in
# audit.choices and read by this stage's callers as table.DEPLOYMENT etc.
from audit.choices import DEPLOYMENT, REFERENCE, SWEEP, TARGET_FMR, TARGET_FPIR  # noqa: F401
from audit.schema import METRICS

OPERATING_POINT = "operating_point"
STATISTIC = "statistic"
GROUP_B = "group_b"
POINT_KIND = "point_kind"
TARGET = "target"
#: ``statistic`` of a group's error rate.
RATE = "rate"
#: ``statistic`` of the projected deployment figures.
PROJECTION = "projection"
#: METRICS plus the structure columns, in this order.
SCHEMA = pa.schema(
    list(METRICS)
    + [
        pa.field(OPERATING_POINT, pa.string()),
        pa.field(STATISTIC, pa.string()),
        pa.field(GROUP_B, pa.string()),
        pa.field(POINT_KIND, pa.string()),
        pa.field(TARGET, pa.float64()),
    ]
)
COLUMNS = SCHEMA.names
#: Watchlist size W of the rows of the watchlist-size curve and of the rates a
#: projection reads from it (:mod:`audit.metrics.watchlist_curve`); those rows
#: use :data:`CURVE_SCHEMA`, and tables that mix both kinds hold it null elsewhere.
WATCHLIST_SIZE = "watchlist_size"
CURVE_SCHEMA = SCHEMA.append(pa.field(WATCHLIST_SIZE, pa.int64()))


def target_label(rate: str, target: float) -> str:
    """Operating-point label of a threshold calibrated to a target rate (display only)."""
    return f"target_{rate}={target:g}"


def to_table(frame: pd.DataFrame, schema: pa.Schema = SCHEMA) -> pa.Table:
    """Arrow table with ``schema`` (:data:`SCHEMA` by default) from a frame holding its columns."""
    table = pa.Table.from_pandas(frame.loc[:, schema.names], schema=schema, preserve_index=False)
    return table.replace_schema_metadata(None)


def empty_frame() -> pd.DataFrame:
    """A frame with :data:`COLUMNS` and no rows."""
    return SCHEMA.empty_table().to_pandas()


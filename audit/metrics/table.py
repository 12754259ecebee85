"""The one output shape of the metrics stage: rows of the METRICS table.

Every function of the stage that returns figures returns rows with the columns
of :data:`audit.schema.METRICS` plus one documented extra column,
``operating_point``, that says where the row's threshold came from:

* ``"deployment"``: a threshold given in the audit spec;
* ``"target_fmr=0.001"`` / ``"target_fpir=0.0001"``: the threshold calibrated
  so that the *overall* observed FMR (FPIR) is at most the target (see
  :func:`audit.metrics.sweep.threshold_for_target`); every group's rate is read
  at that single global threshold;
* ``"sweep"``: a point of a threshold sweep (:func:`audit.metrics.sweep.threshold_sweep`);
* null: the row does not depend on a threshold (``fta``).

``ci_method`` names how ``ci_low``/``ci_high`` were obtained (see
:mod:`audit.metrics.intervals`): ``"bootstrap-subject"``, ``"wilson"``,
``"one-sided-bound"`` (zero errors, or errors in every trial), or, for test
rows of :mod:`audit.metrics.disparity`, the test used. Null when the value is
NaN or no interval applies.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from audit.schema import METRICS

OPERATING_POINT = "operating_point"
DEPLOYMENT = "deployment"
SWEEP = "sweep"
#: METRICS plus the ``operating_point`` column, in this order.
SCHEMA = METRICS.append(pa.field(OPERATING_POINT, pa.string()))
COLUMNS = SCHEMA.names


def target_label(rate: str, target: float) -> str:
    """Operating-point label of a threshold calibrated to a target rate."""
    return f"target_{rate}={target:g}"


def to_table(frame: pd.DataFrame) -> pa.Table:
    """Arrow table with :data:`SCHEMA` from a frame holding :data:`COLUMNS`."""
    table = pa.Table.from_pandas(frame.loc[:, COLUMNS], schema=SCHEMA, preserve_index=False)
    return table.replace_schema_metadata(None)


def empty_frame() -> pd.DataFrame:
    """A frame with :data:`COLUMNS` and no rows."""
    return SCHEMA.empty_table().to_pandas()

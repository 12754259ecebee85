"""Assembly of the scores table (audit.schema.SCORES) from trial arrays."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from audit.matching.similarity import SIMILARITY_NAMES
from audit.schema import DISTANCE_KEY, SCORES, SIMILARITY_KEY, check_table



def scores_table(
    *,
    trial_kind: str,
    distance: str,
    probe_id: np.ndarray,
    probe_subject: np.ndarray,
    reference_id: np.ndarray,
    reference_subject: np.ndarray,
    score: np.ndarray,
    acquired: np.ndarray,
    mated: np.ndarray,
    fold: np.ndarray,
    fold_known: np.ndarray,
    rank: np.ndarray,
    best_is_true_entry: np.ndarray,
    outcome_known: np.ndarray,
) -> pa.Table:
    """Build a checked scores table.

    ``acquired`` is False where a side failed to acquire: score, reference
    (for 1:N) and rank are then null. ``rank`` is also null where
    ``outcome_known & mated`` is False; ``best_is_true_entry`` is null where
    ``outcome_known`` is False.
    """
    n = len(probe_id)
    with_rank = outcome_known & mated
    columns = {
        "trial_kind": pa.array(np.full(n, trial_kind, dtype=object), pa.string()),
        "probe_id": pa.array(probe_id, pa.string()),
        "reference_id": pa.array(reference_id, pa.string()),
        "probe_subject": pa.array(probe_subject, pa.string()),
        "reference_subject": pa.array(reference_subject, pa.string()),
        "score": pa.array(np.asarray(score, np.float64), pa.float64(), mask=~acquired),
        "mated": pa.array(np.asarray(mated, bool), pa.bool_()),
        "fold": pa.array(np.asarray(fold, np.int32), pa.int32(), mask=~fold_known),
        "rank": pa.array(np.asarray(rank, np.int32), pa.int32(), mask=~with_rank),
        "best_is_true_entry": pa.array(
            np.asarray(best_is_true_entry, bool), pa.bool_(), mask=~outcome_known
        ),
    }
    table = pa.table(columns, schema=_schema(distance))
    return check_table(table, SCORES, "scores")


def _schema(distance: str) -> pa.Schema:
    return SCORES.with_metadata(
        {DISTANCE_KEY: distance.encode(), SIMILARITY_KEY: SIMILARITY_NAMES[distance].encode()}
    )

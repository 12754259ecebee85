"""LFW-style k-fold accuracy from a score log: the published benchmark figure, without images.

A verification log whose rows carry their protocol ``fold`` (LFW View 2:
10 folds of 600 pairs) gives the same 10-fold accuracy as ``lfr-audit
lfw-view2`` (:func:`audit.metrics.lfw_accuracy.lfw_accuracy`): a threshold
chosen on the other folds, read on each fold, overall and by group.
"""

from __future__ import annotations

import pyarrow.compute as pc

from audit.metrics.lfw_accuracy import LfwAccuracy, lfw_accuracy
from audit.metrics.score_logs import ScoreLogs
from audit.schema import SCORES

SOURCE = "score-log"
NO_VERIFICATION = "k-fold accuracy needs verification rows with a fold; the log has none"


def log_kfold_accuracy(logs: ScoreLogs, group_column: str) -> LfwAccuracy:
    """10-fold (k-fold) accuracy of the log's verification rows, by ``group_column``.

    Raises ValueError (naming the cause) when there are no verification rows,
    a row has no fold, there are fewer than two folds, or the attribute file
    has no ``group_column``.
    """
    scores = logs.scores.cast(SCORES)  # ids as plain text, as the LFW path reads them
    verification = scores.filter(pc.equal(scores["trial_kind"], "verification"))
    if verification.num_rows == 0:
        raise ValueError(NO_VERIFICATION)
    manifest = logs.images.assign(path="", dataset=SOURCE)
    return lfw_accuracy(verification, manifest, group_column=group_column)

"""Matching stage: faces + manifest -> scores table (audit.schema.SCORES).

- :mod:`~audit.matching.similarity`: distances become similarities (higher =
  more alike) here and nowhere else; deepface thresholds on that scale.
- :mod:`~audit.matching.verification`: 1:1 trials: mated pairs (capped per
  subject), non-mated pairs per demographic cell, fixed protocols (LFW View 2).
- :mod:`~audit.matching.identification`: 1:N trials: seeded watchlist draws,
  every other image searched as a probe.

Failures to acquire stay in the scores table as trials with a null score.
"""

from audit.matching.identification import identification_scores, search_watchlist
from audit.matching.similarity import (
    DISTANCES,
    deepface_threshold,
    paired_similarity,
    similarity_from_distance,
    similarity_matrix,
)
from audit.matching.verification import mated_pairs, non_mated_pairs, score_pairs

__all__ = [
    "DISTANCES",
    "deepface_threshold",
    "identification_scores",
    "mated_pairs",
    "non_mated_pairs",
    "paired_similarity",
    "score_pairs",
    "search_watchlist",
    "similarity_from_distance",
    "similarity_matrix",
]

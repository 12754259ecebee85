"""Every row of a scores table looked up once, for every rate's trials.

A rate's trials (:func:`audit.metrics.trials.trial_set`) are the rows of the
scores table of one trial kind and ground truth (FTA kept or not); each
needs its probe image's row in the images table and its subjects' codes.
Asking per rate repeated, for every rate and for the cross-group matrix,
Arrow's filters of the id columns and the look-ups of their values: ten
million rows each time for a large log. :class:`TrialRows` answers each
question once for every row, when first asked, and a rate takes its rows'
answers with a numpy mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.metrics.arrow_lookup import equal_text, index_in

if TYPE_CHECKING:
    from audit.metrics.trials import ImageTable, RateSpec


@dataclass(frozen=True)
class TrialRows:
    """The look-ups of a checked scores table's rows (each made once, when first read).

    ``subjects`` is the subject index the codes refer to
    (:func:`audit.metrics.checked.subject_index`).
    """

    table: pa.Table
    images: ImageTable
    subjects: pd.Index

    def kept(self, spec: RateSpec) -> np.ndarray:
        """Which rows are trials of ``spec``'s rate (boolean mask)."""
        keep = self._kind(spec.kind) & (self.mated == spec.mated)
        if not spec.keep_fta:
            keep &= ~np.isnan(self.scores)
        return keep

    def _kind(self, kind: str) -> np.ndarray:
        """Which rows are of trial kind ``kind``."""
        if kind not in self._kinds:
            self._kinds[kind] = equal_text(self.table["trial_kind"], kind)
        return self._kinds[kind]

    @cached_property
    def _kinds(self) -> dict[str, np.ndarray]:
        return {}

    @cached_property
    def scores(self) -> np.ndarray:
        return self.table["score"].to_numpy()

    @cached_property
    def mated(self) -> np.ndarray:
        return self.table["mated"].to_numpy(zero_copy_only=False)

    @cached_property
    def probe(self) -> np.ndarray:
        """Row of each probe image in the images table (unknown ids raise)."""
        return self.images.positions(self.table["probe_id"], table="scores probe_id")

    @cached_property
    def probe_subject(self) -> np.ndarray:
        return index_in(self.table["probe_subject"], self._subject_values)

    @cached_property
    def reference_subject(self) -> np.ndarray:
        return index_in(self.table["reference_subject"], self._subject_values)

    @cached_property
    def _subject_values(self) -> pa.Array:
        return pa.array(self.subjects.to_numpy(dtype=object), pa.string())

"""What the engine computes once and shares: the FMR trials' pairs, subjects and cells in the
cross-group trial set, and error entries against a loop over thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.metrics import checked, trials, unit_counts
from test_metrics_cross_groups import _comparisons


def _log():
    """Non-mated comparisons of people with an ethnicity and a gender label, a few FTA."""
    scores, images = _comparisons(seed=2, n_subjects=30, n_trials=900)
    rng = np.random.default_rng(2)
    images["gender"] = np.array(["f", "m"])[rng.integers(0, 2, len(images) // 2)].repeat(2)
    scores.loc[rng.random(len(scores)) < 0.02, "score"] = np.nan
    return scores, images


@pytest.mark.parametrize("columns", [("ethnicity",), ("gender", "ethnicity")])
def test_cross_trial_set_from_the_fmr_trials_equals_its_own_lookups(columns):
    scores, images = _log()
    table = checked.check_scores_table(scores)
    image_table = checked.check_images(images, columns)
    subjects = checked.subject_index(table, image_table)
    fmr = trials.trial_set(table, image_table, trials.FMR, subjects=subjects, columns=columns)
    units = unit_counts.unit_counts(fmr, np.array([0.5]), ("x",))
    grouping = trials.Grouping(("ethnicity",))
    alone = trials.cross_trial_set(table, image_table, grouping, subjects=subjects)
    shared = trials.cross_trial_set(
        table, image_table, grouping, subjects=subjects, fmr_pairs=units.pairs,
        fmr_subjects=(units.subjects, units.reference_subjects),
        fmr_cells=(units.cells, units.cell_table))
    for name in ("scores", "subjects", "reference_subjects", "cells"):
        np.testing.assert_array_equal(getattr(shared, name), getattr(alone, name))
    pd.testing.assert_frame_equal(shared.cell_table, alone.cell_table)


@pytest.mark.parametrize("mated", [False, True])
def test_error_entries_equal_a_loop_over_thresholds(mated):
    rng = np.random.default_rng(7)
    scores = rng.choice(np.array([0.1, 0.3, 0.5, 0.7, np.nan]), 200)
    thresholds = np.array([0.5, 0.3, 0.5, 0.9])  # unsorted, one repeated, one above every score
    rows, columns = unit_counts._error_entries(scores, thresholds, mated=mated)
    want = {(i, k) for k, t in enumerate(thresholds) for i, s in enumerate(scores)
            if (not np.isnan(s) and s >= t) != mated}
    assert set(zip(rows.tolist(), columns.tolist(), strict=True)) == want
    assert rows.size == len(want)

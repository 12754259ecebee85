"""What the engine computes once and shares: the FMR trials' pairs, subjects and cells in the
cross-group trial set, and error entries against a loop over thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.metrics import checked, cross_trials, trials, unit_counts
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
    alone = cross_trials.cross_trial_set(table, image_table, grouping, subjects=subjects)
    shared = cross_trials.cross_trial_set(
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


@pytest.mark.parametrize("limit", [100, 0])
def test_per_subject_tables_give_the_same_table_on_every_path(monkeypatch, limit):
    """Shared subjects x cells tables (the default), per-grouping tables when the cells are too
    many to share but the groups are few (30 people x 6 cells > 100 >= 30 x 3 groups), and the
    sparse path (0): one metrics table."""
    from audit.metrics import groups
    from audit.metrics.engine import compute_metrics

    scores, images = _log()
    options = dict(thresholds=(0.5, 0.8), groupings=("gender", "ethnicity"), min_subjects=1,
                   min_trials=1)
    shared = compute_metrics(scores, images, **options).to_pandas()
    monkeypatch.setattr(groups, "DENSE_TRIALS", limit)
    other = compute_metrics(scores, images, **options).to_pandas()
    pd.testing.assert_frame_equal(other, shared)

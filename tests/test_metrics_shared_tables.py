"""What the engine computes once and shares: the FMR trials' pairs, subjects and cells in the
cross-group trial set, and error entries against a loop over thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.metrics import checked, trials, unit_counts


def _log(seed: int = 2, n_subjects: int = 30, n_trials: int = 900):
    """Non-mated comparisons of people labelled with a group and a gender, a few FTA."""
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_subjects), 2)
    images = pd.DataFrame({
        "image_id": [f"s{s}_{k % 2}" for k, s in enumerate(subject)],
        "subject_id": [f"s{s}" for s in subject],
        "group": np.array(["a", "b", "c"])[rng.integers(0, 3, n_subjects)][subject],
        "gender": np.array(["f", "m"])[rng.integers(0, 2, n_subjects)][subject],
    })
    a, b = rng.integers(0, subject.size, (2, n_trials))
    keep = subject[a] != subject[b]
    a, b = a[keep], b[keep]
    score = np.round(rng.random(a.size), 2)
    score[rng.random(a.size) < 0.02] = np.nan
    scores = pd.DataFrame({
        "trial_kind": "verification", "probe_id": images["image_id"].to_numpy()[a],
        "reference_id": images["image_id"].to_numpy()[b],
        "probe_subject": images["subject_id"].to_numpy()[a],
        "reference_subject": images["subject_id"].to_numpy()[b],
        "score": score, "mated": False, "fold": 0, "rank": None, "best_is_true_entry": None,
    })
    return scores, images


@pytest.mark.parametrize("columns", [("group",), ("gender", "group")])
def test_cross_trial_set_from_the_fmr_trials_equals_its_own_lookups(columns):
    scores, images = _log()
    table = checked.check_scores_table(scores)
    image_table = checked.check_images(images, columns)
    subjects = checked.subject_index(table, image_table)
    fmr = trials.trial_set(table, image_table, trials.FMR, subjects=subjects, columns=columns)
    units = unit_counts.unit_counts(fmr, np.array([0.5]), ("x",))
    grouping = trials.Grouping(("group",))
    alone = trials.cross_trial_set(table, image_table, grouping, subjects=subjects)
    shared = trials.cross_trial_set(
        table, image_table, grouping, subjects=subjects, fmr_pairs=units.pairs,
        fmr_subjects=(units.subjects, units.reference_subjects),
        fmr_cells=(units.cells, units.cell_table))
    for name in ("scores", "subjects", "reference_subjects", "cells"):
        np.testing.assert_array_equal(getattr(shared, name), getattr(alone, name))
    pd.testing.assert_frame_equal(shared.cell_table, alone.cell_table)
    assert shared.pairs is units.pairs


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

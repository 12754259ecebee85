"""Cross-group FMR matrix against the mirrored trials and the dyadic variance's definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.metrics import checked, cross_groups, cross_trials, trials, variance

pytestmark = pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")


def _comparisons(seed: int = 3, n_subjects: int = 24, n_trials: int = 700):
    """Non-mated comparisons of two images each of ``n_subjects`` people in groups a, b, c;
    subject pairs recur, in both orientations."""
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_subjects), 2)
    images = pd.DataFrame({
        "image_id": [f"s{s}_{k % 2}" for k, s in enumerate(subject)],
        "subject_id": [f"s{s}" for s in subject],
        "ethnicity": np.array(["a", "b", "c"])[rng.integers(0, 3, n_subjects)][subject],
    })
    a, b = rng.integers(0, subject.size, (2, n_trials))
    keep = subject[a] != subject[b]
    a, b = a[keep], b[keep]
    scores = pd.DataFrame({
        "trial_kind": "verification",
        "probe_id": images["image_id"].to_numpy()[a],
        "reference_id": images["image_id"].to_numpy()[b],
        "probe_subject": images["subject_id"].to_numpy()[a],
        "reference_subject": images["subject_id"].to_numpy()[b],
        "score": np.round(rng.random(a.size), 2),
        "mated": False, "fold": 0, "rank": None, "best_is_true_entry": None,
    })
    return scores, images


def _expected(scores: pd.DataFrame, images: pd.DataFrame, threshold: float, first: str,
              second: str) -> dict:
    """One ordered cell, from the definition: every comparison between the two groups (either
    image the probe), the people on ``first``'s side, and the dyadic variance as the sum of
    u_i u_j over every two trials sharing a person (Aronow et al. 2015)."""
    group = images.set_index("image_id")["ethnicity"]
    probe, reference = group[scores["probe_id"]].to_numpy(), group[scores["reference_id"]].to_numpy()
    forward = (probe == first) & (reference == second)
    backward = (probe == second) & (reference == first) & (first != second)
    rows = scores[forward | backward]
    if rows.empty:
        return {"value": np.nan, "n_trials": 0, "n_subjects": 0}
    own_side = np.where(forward[forward | backward], rows["probe_subject"],
                        rows["reference_subject"])
    errors = (rows["score"].to_numpy() >= threshold).astype(float)
    p = errors.mean()
    people = sorted(set(rows["probe_subject"]) | set(rows["reference_subject"]))
    member = np.array([[s in (x, y) for s in people]
                       for x, y in zip(rows["probe_subject"], rows["reference_subject"],
                                       strict=True)], dtype=float)
    shares = (member @ member.T) > 0
    u = errors - p
    g = len(people)
    return {"value": p, "n_trials": len(rows), "n_errors": int(errors.sum()),
            "n_subjects": len(set(own_side)),
            "variance": g / (g - 1) * (u @ shares @ u) / len(rows) ** 2}


def test_cross_breakdown_equals_the_mirrored_definition():
    scores, images = _comparisons()
    table = checked.check_scores_table(scores)
    image_table = checked.check_images(images, ("ethnicity",))
    subjects = checked.subject_index(table, image_table)
    grouping = trials.Grouping(("ethnicity",))
    trial_set = cross_trials.cross_trial_set(table, image_table, grouping, subjects=subjects)
    assert len(trial_set.scores) == len(scores)  # each comparison once, not mirrored
    thresholds = np.array([0.7, 0.4])
    part = cross_groups.cross_breakdown(trial_set, ("ethnicity",), thresholds, ("x", "y"),
                                        n_subjects_total=len(subjects), min_subjects=1,
                                        min_trials=1)
    rates, variances = variance.rate_variance(part.clusters)
    rows = part.rows
    assert rows["group"].tolist() == ["a", "a", "a", "b", "b", "b", "c", "c", "c"] * 2
    assert rows["group_b"].tolist() == ["a", "b", "c"] * 6
    for k, row in rows.iterrows():
        want = _expected(scores, images, row["threshold"], row["group"], row["group_b"])
        assert row["threshold"] == thresholds[k // 9]
        assert row["n_trials"] == want["n_trials"]
        assert row["n_errors"] == want["n_errors"]
        assert row["n_subjects"] == want["n_subjects"]
        assert row["value"] == pytest.approx(want["value"], rel=1e-12)
        assert rates[k] == pytest.approx(want["value"], rel=1e-12)
        assert variances[k] == pytest.approx(want["variance"], rel=1e-9)


def test_a_cell_without_comparisons_is_nan_and_warned_in_both_orientations():
    scores, images = _comparisons()
    group = images.set_index("image_id")["ethnicity"]
    sides = {group[p] + group[r] for p, r in zip(scores["probe_id"], scores["reference_id"],
                                                  strict=True)}
    kept = ~np.isin([group[p] + group[r] for p, r in zip(scores["probe_id"],
                                                        scores["reference_id"], strict=True)],
                    ["ab", "ba"])
    assert {"ab", "ba"} & sides
    scores = scores[kept].reset_index(drop=True)
    table = checked.check_scores_table(scores)
    image_table = checked.check_images(images, ("ethnicity",))
    subjects = checked.subject_index(table, image_table)
    trial_set = cross_trials.cross_trial_set(table, image_table, trials.Grouping(("ethnicity",)),
                                       subjects=subjects)
    with pytest.warns(match=r"a -> b, b -> a"):
        part = cross_groups.cross_breakdown(trial_set, ("ethnicity",), np.array([0.5]), ("x",),
                                            n_subjects_total=len(subjects), min_subjects=1,
                                            min_trials=1)
    empty = part.rows[part.rows["n_trials"] == 0]
    assert set(zip(empty["group"], empty["group_b"], strict=True)) == {("a", "b"), ("b", "a")}
    assert empty["value"].isna().all() and not empty["sufficient"].any()

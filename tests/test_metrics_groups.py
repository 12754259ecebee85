"""Group breakdowns: collapsed counts through MetricFrame equal raw-row MetricFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, count, false_negative_rate, false_positive_rate

from audit.metrics import checked, groups, trials, unit_counts
from audit.metrics.engine import compute_metrics

pytestmark = pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")


def _audit_tables(seed: int = 5, n_subjects: int = 50):
    rng = np.random.default_rng(seed)
    owners = np.repeat([f"p{k:02d}" for k in range(n_subjects)], 4)
    gender = np.repeat(rng.choice(["female", "male"], n_subjects), 4)
    ethnicity = np.repeat(rng.choice(["a", "b", "c"], n_subjects, p=[0.5, 0.4, 0.1]), 4)
    images = pd.DataFrame(
        {
            "image_id": [f"{o}-{k % 4}" for k, o in enumerate(owners)],
            "subject_id": owners,
            "gender": gender,
            "ethnicity": ethnicity,
            "lighting": rng.choice(["good", "poor", None], owners.size, p=[0.6, 0.3, 0.1]),
        }
    )
    ids = images["image_id"].to_numpy()
    a, b = rng.integers(0, ids.size, (2, 4000))
    keep = a != b
    a, b = a[keep], b[keep]
    mated = owners[a] == owners[b]
    score = np.round(rng.normal(np.where(mated, 0.65, 0.35), 0.15), 2)
    score[rng.random(score.size) < 0.03] = np.nan
    verification = pd.DataFrame(
        {
            "trial_kind": "verification",
            "probe_id": ids[a],
            "reference_id": ids[b],
            "probe_subject": owners[a],
            "reference_subject": owners[b],
            "score": score,
            "mated": mated,
        }
    )
    probes = rng.integers(0, ids.size, 1200)
    on_list = rng.random(probes.size) < 0.4
    best = np.round(rng.normal(np.where(on_list, 0.6, 0.4), 0.15), 2)
    best[rng.random(best.size) < 0.05] = np.nan
    identification = pd.DataFrame(
        {
            "trial_kind": "identification",
            "probe_id": ids[probes],
            "probe_subject": owners[probes],
            "score": best,
            "mated": on_list,
            "best_is_true_entry": np.where(on_list, rng.random(probes.size) < 0.9, None),
        }
    )
    scores = pd.concat([verification, identification], ignore_index=True)
    scores["fold"] = 0
    scores["rank"] = None
    return scores, images


def _raw_frame(scores, images, metric, threshold, sensitive, control):
    """MetricFrame on raw trial rows, the slow and obvious oracle."""
    labels = images.set_index("image_id").fillna({"lighting": "unknown"})
    spec = trials.RATES[metric]
    chosen = (scores["trial_kind"] == spec.kind) & (scores["mated"] == spec.mated)
    if not spec.keep_fta:
        chosen &= scores["score"].notna()
    rows = scores[chosen]
    decision = rows["score"].fillna(-np.inf).to_numpy() >= threshold
    if metric == "fnir":
        decision &= rows["best_is_true_entry"].fillna(False).to_numpy(bool)
    probe = labels.loc[rows["probe_id"]].reset_index(drop=True)
    return MetricFrame(
        metrics={"value": false_negative_rate if spec.mated else false_positive_rate, "n": count},
        y_true=rows["mated"].to_numpy(bool),
        y_pred=decision,
        sensitive_features=probe[sensitive],
        control_features=probe[control] if control else None,
    )


@pytest.fixture(scope="module")
def audit():
    scores, images = _audit_tables()
    table = compute_metrics(
        scores,
        images,
        thresholds=(0.45, 0.5),
        groupings=("gender", "gender x ethnicity", "ethnicity | lighting"),
        min_subjects=5,
        min_trials=30,
    )
    frame = table.to_pandas()
    return scores, images, frame[frame["statistic"] == "rate"]


@pytest.mark.parametrize("metric", ["fmr", "fnmr", "fnmr_incl_fta", "fpir", "fnir"])
@pytest.mark.parametrize(
    ("grouping", "sensitive", "control"),
    [
        ("gender", ["gender"], []),
        ("gender x ethnicity", ["gender", "ethnicity"], []),
        ("ethnicity | lighting", ["ethnicity"], ["lighting"]),
    ],
)
@pytest.mark.parametrize("threshold", [0.45, 0.5])
def test_collapsed_counts_equal_raw_row_metricframe(
    audit, metric, grouping, sensitive, control, threshold
):
    scores, images, table = audit
    raw = _raw_frame(scores, images, metric, threshold, sensitive, control).by_group.dropna()
    mine = table[
        (table["metric"] == metric)
        & (table["grouping"] == grouping)
        & (table["threshold"] == threshold)
    ].set_index("group")
    for key, row in raw.iterrows():
        key = key if isinstance(key, tuple) else (key,)
        k = len(control)
        label = " x ".join(key[k:]) + (" | " + " x ".join(key[:k]) if k else "")
        assert mine.loc[label, "value"] == pytest.approx(row["value"], abs=1e-12)
        assert mine.loc[label, "n_trials"] == row["n"]
    assert len(mine) >= len(raw)


def test_counts_and_sufficiency(audit):
    scores, images, table = audit
    rows = table[(table["metric"] == "fnir") & (table["grouping"] == "gender x ethnicity")]
    rows = rows[rows["threshold"] == 0.5]
    subjects = images.drop_duplicates("subject_id").set_index("subject_id")
    searched = scores[(scores["trial_kind"] == "identification") & scores["mated"]]
    labels = subjects.loc[searched["probe_subject"], ["gender", "ethnicity"]].agg(
        " x ".join, axis=1
    )
    expected = searched.groupby(labels.to_numpy())["probe_subject"].nunique()
    for _, row in rows.iterrows():
        assert row["n_subjects"] == expected.get(row["group"], 0)
        assert row["sufficient"] == (row["n_subjects"] >= 5 and row["n_trials"] >= 30)


def test_missing_labels_become_unknown(audit):
    _, _, table = audit
    groups_seen = set(table.loc[table["grouping"] == "ethnicity | lighting", "group"])
    assert {"a | unknown", "a | good", "a | poor"} <= groups_seen


def test_subject_matrices_add_up_to_the_counts():
    scores, images = _audit_tables(seed=9, n_subjects=20)
    columns = ("gender",)
    table = checked.check_scores_table(scores)
    image_table = checked.check_images(images, columns)
    subjects = checked.subject_index(table, image_table)
    trial_set = trials.trial_set(
        table, image_table, trials.FNMR, subjects=subjects, columns=columns
    )
    units = unit_counts.unit_counts(trial_set, np.array([0.4, 0.6]), ("a", "b"))
    (part,) = groups.breakdowns(
        [units],
        trials.Grouping(("gender",)),
        n_subjects_total=len(subjects),
        min_subjects=0,
        min_trials=0,
    )
    errors, n = part.clusters.totals()
    np.testing.assert_array_equal(errors, part.rows["n_errors"])
    np.testing.assert_array_equal(n, part.rows["n_trials"])
    np.testing.assert_array_equal(
        (part.clusters.trials > 0).sum(axis=0).A1, part.rows["n_subjects"]
    )


def test_fmr_cluster_counts_hold_both_subjects_of_every_pair():
    scores, images = _audit_tables(seed=9, n_subjects=20)
    table = checked.check_scores_table(scores)
    image_table = checked.check_images(images, ("gender",))
    subjects = checked.subject_index(table, image_table)
    trial_set = trials.trial_set(
        table, image_table, trials.FMR, subjects=subjects, columns=("gender",)
    )
    units = unit_counts.unit_counts(trial_set, np.array([0.5]), ("a",))
    (part,) = groups.breakdowns([units], trials.Grouping(("gender",)),
                                n_subjects_total=len(subjects), min_subjects=0, min_trials=0)
    errors, n = part.clusters.totals()
    np.testing.assert_array_equal(n, part.rows["n_trials"])  # each pair once in the totals
    # ... and twice in the per-subject sums (once for each of its people).
    np.testing.assert_array_equal(part.clusters.trials.sum(axis=0).A1, 2 * n)
    np.testing.assert_array_equal(part.clusters.errors.sum(axis=0).A1, 2 * errors)


def test_unknown_labels_are_never_sufficient_groups():
    from audit.metrics.trials import has_unknown_label

    labels = ["unknown", "female x unknown", "a | unknown", "male -> unknown", "female",
              "unknownish", "all"]
    assert has_unknown_label(labels).tolist() == [True, True, True, True, False, False, False]


def test_condition_bands_come_out_in_natural_order():
    import pandas as pd

    from audit.metrics.trials import natural_groups

    frame = pd.DataFrame({"band": [">=120 px", "unknown", "60-120 px", "<60 px", "60-120 px"]})
    codes, table = natural_groups(frame, ("band",))
    assert table["band"].tolist() == ["<60 px", "60-120 px", ">=120 px", "unknown"]
    assert codes.tolist() == [2, 3, 1, 0, 1]


@pytest.mark.parametrize("shape", [(1000, 10), (5, 1), (0, 3), (300, 7)])
def test_dense_tables_become_the_compressed_rows_scipy_builds(shape):
    """The same arrays and types as ``csr_matrix(dense)``, rows without a trial included."""
    from scipy import sparse

    from audit.metrics.groups import dense_csr

    rng = np.random.default_rng(shape[0])
    dense = (rng.integers(0, 4, shape) * (rng.random(shape) < 0.6)).astype(np.int32)
    dense[: min(3, shape[0])] = 0
    got, want = dense_csr(dense), sparse.csr_matrix(dense)
    for name in ("data", "indices", "indptr"):
        assert getattr(got, name).dtype == getattr(want, name).dtype
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))

"""LFW 10-fold accuracy: a hand-worked case, a brute-force oracle, groups, FTA handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from audit.matching.verification import score_pairs
from audit.metrics.lfw_accuracy import (
    best_threshold,
    format_lfw_accuracy,
    lfw_accuracy,
)
from audit.schema import FACES, SCORES


def scores_frame(score, mated, fold, a=None, b=None):
    """A verification scores table; images named so that manifest lookups work."""
    n = len(score)
    a = a if a is not None else [f"a{i}" for i in range(n)]
    b = b if b is not None else [f"b{i}" for i in range(n)]
    return pa.table(
        {
            "trial_kind": ["verification"] * n,
            "probe_id": a,
            "reference_id": b,
            "probe_subject": a,
            "reference_subject": b,
            "score": pa.array(score, pa.float64()),
            "mated": mated,
            "fold": pa.array(fold, pa.int32()),
            "rank": pa.nulls(n, pa.int32()),
            "best_is_true_entry": pa.nulls(n, pa.bool_()),
        },
        schema=SCORES,
    )


def manifest_for(labels):
    ids = list(labels)
    return pd.DataFrame(
        {
            "image_id": ids,
            "path": ids,
            "subject_id": ids,
            "dataset": "toy",
            "gender": [labels[i] for i in ids],
        }
    )


def genders(n, value="f"):
    return {**{f"a{i}": value for i in range(n)}, **{f"b{i}": value for i in range(n)}}


def summary_of(result, handling, group="overall"):
    s = result.summary
    return s[(s.fta_handling == handling) & (s.group == group)].iloc[0]


def test_best_threshold_prefers_the_strictest_of_equals():
    mated = np.array([True, True, False, False])
    assert best_threshold(np.array([0.9, 0.5, 0.6, 0.2]), mated) == 0.9
    assert best_threshold(np.array([0.9, 0.7, 0.6, 0.2]), mated) == 0.7
    # -inf (an FTA counted as "different") is never a candidate.
    assert best_threshold(np.array([-np.inf, 0.5, 0.6, 0.2]), mated) == 0.5
    assert np.isnan(best_threshold(np.array([-np.inf, -np.inf]), mated[:2]))


def test_hand_worked_two_folds():
    # Fold 1: mated 0.9, 0.4; non-mated 0.5, 0.1. Fold 2: mated 0.8, 0.6; non-mated 0.7, 0.3.
    # Test fold 1, train fold 2: thresholds 0.6 and 0.8 both get 3/4 right; 0.8 chosen.
    #   At 0.8 fold 1 gets 0.9 (same), 0.5 and 0.1 (different) right, 0.4 wrong: 3/4.
    # Test fold 2, train fold 1: 0.4 and 0.9 both get 3/4; 0.9 chosen; fold 2: 2/4.
    # A fifth, mated pair in fold 1 failed to acquire: excluded, or a wrong "different".
    table = scores_frame(
        [0.9, 0.4, 0.5, 0.1, None, 0.8, 0.6, 0.7, 0.3],
        [True, True, False, False, True, True, True, False, False],
        [1, 1, 1, 1, 1, 2, 2, 2, 2],
    )
    result = lfw_accuracy(table, manifest_for(genders(9)))
    folds = result.folds[result.folds.group == "overall"].set_index(["fta_handling", "fold"])
    assert folds.loc[("excluded", 1), "threshold"] == 0.8
    assert folds.loc[("excluded", 2), "threshold"] == 0.9
    assert folds.loc[("excluded", 1), "accuracy"] == 0.75
    assert folds.loc[("as_different", 1), "accuracy"] == 0.6
    assert folds.loc[("as_different", 2), "accuracy"] == 0.5
    excluded = summary_of(result, "excluded")
    assert excluded.mean_accuracy == pytest.approx(0.625)
    assert excluded.std_accuracy == pytest.approx(0.25 / np.sqrt(2))
    assert excluded.standard_error == pytest.approx(0.125)
    assert (excluded.n_pairs, excluded.n_fta_pairs) == (8, 1)
    as_different = summary_of(result, "as_different")
    assert as_different.mean_accuracy == pytest.approx(0.55)
    assert (as_different.n_pairs, as_different.n_fta_pairs) == (9, 1)
    # AUC, pooled: mated 0.9 0.4 0.8 0.6 vs non-mated 0.5 0.1 0.7 0.3 win 4+2+4+3 = 13 of 16;
    # with the FTA pair as a mated -inf, 13 of 20. EER (excluded): at 0.6, FMR 1/4 = FNMR 1/4.
    assert (excluded.auc, excluded.eer) == (13 / 16, 0.25)
    assert as_different.auc == 13 / 20


def brute_force(score, mated, fold, member):
    """Per-fold accuracy from the definition: loops over folds and thresholds."""
    out = {}
    for k in sorted(set(fold)):
        train = fold != k
        best, chosen = -1, None
        for t in sorted(set(score[train][np.isfinite(score[train])])):
            right = np.sum((score[train] >= t) == mated[train])
            if right >= best:  # ">=" over ascending t: the highest of equals wins
                best, chosen = right, t
        test = (fold == k) & member
        accuracy = np.mean((score[test] >= chosen) == mated[test]) if test.any() else np.nan
        out[k] = (chosen, accuracy)
    return out


def test_against_brute_force_with_groups_and_fta():
    rng = np.random.default_rng(17)
    n = 400
    fold = np.repeat(np.arange(1, 11), n // 10)
    mated = rng.random(n) < 0.5
    score = np.round(np.where(mated, rng.normal(0.6, 0.2, n), rng.normal(0.3, 0.2, n)), 2)
    fta = rng.random(n) < 0.05
    g_a = rng.choice(["f", "m", "unknown"], n, p=[0.45, 0.45, 0.1])
    g_b = np.where(mated, g_a, rng.choice(["f", "m"], n))
    labels = {**{f"a{i}": g_a[i] for i in range(n)}, **{f"b{i}": g_b[i] for i in range(n)}}
    table = scores_frame(np.where(fta, np.nan, score), mated, fold)
    table = table.set_column(5, "score", pa.array(np.where(fta, None, score), pa.float64()))
    result = lfw_accuracy(table, manifest_for(labels))

    group = np.where(g_a == g_b, g_a, "mixed")
    group[(g_a == "unknown") | (g_b == "unknown")] = "unknown"
    for handling, s, used in [
        ("excluded", score, ~fta),
        ("as_different", np.where(fta, -np.inf, score), np.ones(n, bool)),
    ]:
        for name in ["overall", "f", "m", "mixed", "unknown"]:
            member = (group == name) if name != "overall" else np.ones(n, bool)
            keep = np.flatnonzero(used)
            expected = brute_force(s[keep], mated[keep], fold[keep], member[keep])
            folds = result.folds
            got = folds[(folds.fta_handling == handling) & (folds.group == name)].set_index("fold")
            for k, (threshold, accuracy) in expected.items():
                assert got.loc[k, "threshold"] == threshold
                assert got.loc[k, "accuracy"] == pytest.approx(accuracy, nan_ok=True)
            row = summary_of(result, handling, name)
            values = [a for _, a in expected.values()]
            assert row.mean_accuracy == pytest.approx(np.nanmean(values))
            assert row.std_accuracy == pytest.approx(np.nanstd(values, ddof=1))
            assert row.n_fta_pairs == int(np.sum(fta & member))


def test_pair_groups():
    labels = {"a0": "f", "b0": "f", "a1": "f", "b1": "m", "a2": "f", "b2": "unknown",
              "a3": "f", "b3": "m", "a4": "m", "b4": "m", "a5": "f", "b5": "f"}
    table = scores_frame(
        [0.9, 0.1, 0.2, 0.8, 0.7, 0.3],
        [True, False, False, True, True, False],
        [1, 1, 1, 2, 2, 2],
    )
    result = lfw_accuracy(table, manifest_for(labels))
    counts = result.summary[result.summary.fta_handling == "excluded"].set_index("group").n_pairs
    # mated f/f -> f; non-mated f/m -> mixed; f/unknown -> unknown;
    # mated with conflicting labels -> unknown; mated m/m -> m; non-mated f/f -> f.
    assert counts.to_dict() == {"overall": 6, "f": 2, "m": 1, "mixed": 1, "unknown": 2}


def test_end_to_end_from_protocol_pairs_and_summary_text():
    rng = np.random.default_rng(1)
    n_subjects = 20
    subjects = np.repeat([f"s{i:02d}" for i in range(n_subjects)], 2)
    centres = rng.normal(size=(n_subjects, 8))
    embedding = np.repeat(centres, 2, axis=0) + rng.normal(scale=0.3, size=(40, 8))
    ids = [f"img{i:02d}" for i in range(40)]
    status = ["ok"] * 39 + ["no_face"]
    manifest = pd.DataFrame(
        {"image_id": ids, "path": ids, "subject_id": subjects, "dataset": "toy",
         "gender": np.where(np.arange(40) // 2 % 2 == 0, "female", "male")}
    )
    columns = {f.name: pa.nulls(40, f.type) for f in FACES}
    columns.update(
        image_id=pa.array(ids), config_key=pa.array(["c"] * 40), status=pa.array(status),
        embedding=pa.array([list(e) if s == "ok" else None for e, s in zip(embedding, status)],
                           pa.list_(pa.float32())),
    )
    faces = pa.table(columns, schema=FACES)
    protocol = pd.DataFrame(
        {
            "fold": np.repeat([1, 2, 3, 4], 10),
            "image_id_a": [ids[2 * (i % 20)] for i in range(40)],
            "image_id_b": [ids[2 * (i % 20) + 1] if i < 20 else ids[(2 * i + 5 + 2 * (i % 2)) % 40]
                           for i in range(40)],
        }
    )
    scores = score_pairs(protocol, faces, manifest, distance="euclidean_l2")
    result = lfw_accuracy(scores, manifest)
    assert "negative Euclidean distance of L2-normalised embeddings" in result.similarity
    with_fta = protocol[["image_id_a", "image_id_b"]].isin(["img39"]).any(axis=1).sum()
    assert summary_of(result, "as_different").n_fta_pairs == with_fta > 0
    text = format_lfw_accuracy(result)
    assert "by gender" in text and "L2-normalised" in text
    for name in ("overall", "female", "male", "mixed"):
        assert any(line.startswith(name) for line in text.splitlines())
    assert text.splitlines()[2].startswith("group") and "%" in text.splitlines()[3]


def test_bad_inputs_raise():
    table = scores_frame([0.5, 0.4], [True, False], [1, 1])
    with pytest.raises(ValueError, match="at least two folds"):
        lfw_accuracy(table, manifest_for(genders(2)))
    no_fold = table.set_column(7, "fold", pa.nulls(2, pa.int32()))
    with pytest.raises(ValueError, match="null fold"):
        lfw_accuracy(no_fold, manifest_for(genders(2)))
    one_to_n = table.set_column(0, "trial_kind", pa.array(["identification"] * 2))
    with pytest.raises(ValueError, match="verification trials only"):
        lfw_accuracy(one_to_n, manifest_for(genders(2)))
    two_folds = scores_frame([0.5, 0.4], [True, False], [1, 2])
    with pytest.raises(ValueError, match="no column 'ethnicity'"):
        lfw_accuracy(two_folds, manifest_for(genders(2)), group_column="ethnicity")
    with pytest.raises(ValueError, match="not in the manifest"):
        lfw_accuracy(two_folds, manifest_for(genders(1)))

"""The counting kernel, DET curves, calibrated thresholds and group sweeps."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate
from sklearn.metrics import roc_curve

from audit.metrics.rates import UndefinedRateWarning, false_match_rate, false_non_match_rate
from audit.metrics.calibration import (
    BAD_TARGET,
    allowed_errors,
    threshold_for_target,
    thresholds_for_targets,
)
from audit.metrics.sweep import (
    BAD_CODES,
    NAN_THRESHOLDS,
    count_at_thresholds,
    det_curve,
    threshold_sweep,
)

NAN = float("nan")


def _scores(n: int, seed: int, *, decimals: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = np.round(rng.normal(size=n), decimals)  # rounded: plenty of ties
    values[rng.random(n) < 0.05] = np.nan
    return values


def test_kernel_hand_worked_with_ties_and_nan():
    counts = count_at_thresholds(
        [0.1, 0.5, 0.5, NAN, 0.9, 0.2], [0.95, 0.5, 0.1, 0.5], codes=[0, 0, 1, 1, 1, 2], n_codes=4
    )
    # code 0: 0.1, 0.5 | code 1: 0.5, NaN, 0.9 | code 2: 0.2 | code 3: empty
    np.testing.assert_array_equal(
        counts.at_or_above, [[0, 1, 2, 1], [0, 2, 2, 2], [0, 0, 1, 0], [0, 0, 0, 0]]
    )
    np.testing.assert_array_equal(counts.scored, [2, 2, 1, 0])
    np.testing.assert_array_equal(counts.missing, [0, 1, 0, 0])
    np.testing.assert_array_equal(counts.thresholds, [0.95, 0.5, 0.1, 0.5])


def test_kernel_matches_brute_force_loop_over_thresholds():
    scores = _scores(500, 0)
    codes = np.random.default_rng(1).integers(0, 4, scores.size)
    grid = np.concatenate([np.unique(scores[~np.isnan(scores)])[::7], [-np.inf, np.inf, 0.0]])
    counts = count_at_thresholds(scores, grid, codes=codes, n_codes=4)
    for g in range(4):
        mine = scores[codes == g]
        for j, t in enumerate(grid):
            assert counts.at_or_above[g, j] == sum(1 for s in mine if s == s and s >= t)
        assert counts.missing[g] == np.isnan(mine).sum()


def test_kernel_distinct_thresholds_default():
    counts = count_at_thresholds([0.3, 0.1, 0.3, NAN])
    np.testing.assert_array_equal(counts.thresholds, [0.1, 0.3])
    np.testing.assert_array_equal(counts.at_or_above, [[3, 2]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"thresholds": [0.1, NAN]}, NAN_THRESHOLDS),
        ({"codes": [0, 1]}, BAD_CODES),
        ({"codes": [0, 1, 2], "n_codes": 2}, BAD_CODES),
        ({"codes": [0.0, 1.0, 1.0]}, BAD_CODES),
        ({"codes": [0, -1, 1]}, BAD_CODES),
    ],
)
def test_kernel_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        count_at_thresholds([0.1, 0.2, 0.3], **kwargs)


def test_det_curve_hand_worked_tie():
    fmr, fnmr, thresholds = det_curve([0.2, 0.5, NAN], [0.5, 0.9, NAN], include_fta=True)
    np.testing.assert_array_equal(thresholds, [0.2, 0.5, 0.9])
    np.testing.assert_allclose(fmr, [1.0, 0.5, 0.0])
    np.testing.assert_allclose(fnmr, [1 / 3, 1 / 3, 2 / 3])  # the NaN mate is always a miss


def test_det_curve_one_class_warns():
    with pytest.warns(UndefinedRateWarning, match="FNMR: no mated comparisons"):
        fmr, fnmr, _ = det_curve([0.1, 0.4], [])
    assert np.isnan(fnmr).all() and not np.isnan(fmr).any()


def test_fmr_fnmr_sweep_equals_sklearn_roc_curve():
    rng = np.random.default_rng(7)
    nonmated = np.round(rng.normal(0.3, 0.1, 3000), 3)
    mated = np.round(rng.normal(0.7, 0.1, 800), 3)
    fmr, fnmr, thresholds = det_curve(nonmated, mated)
    y = np.r_[np.zeros(nonmated.size), np.ones(mated.size)]
    fpr, tpr, roc_thresholds = roc_curve(y, np.r_[nonmated, mated], drop_intermediate=False)
    order = np.argsort(roc_thresholds[1:])  # skip sklearn's leading +inf
    np.testing.assert_array_equal(thresholds, roc_thresholds[1:][order])
    np.testing.assert_allclose(fmr, fpr[1:][order])
    np.testing.assert_allclose(fnmr, 1 - tpr[1:][order])


@pytest.mark.parametrize(
    ("scores", "target", "expected"),
    [
        ([0.1, 0.2, 0.2, 0.6, 0.9], 0.4, 0.6),  # FMR(0.6) = 0.4 <= 0.4: "at most"
        ([0.1, 0.2, 0.2, 0.6, 0.9], 0.39, 0.9),
        ([0.1, 0.2, 0.2, 0.6, 0.9], 0.6, 0.6),  # FMR(0.2) = 0.8: steps over the tie
        ([0.1, 0.2, 0.2, 0.6, 0.9], 0.8, 0.2),
        ([0.1, 0.2, 0.2, 0.6, 0.9], 1.0, 0.1),
        ([0.1, 0.2, 0.2, 0.6, NAN, 0.9], 0.4, 0.6),
    ],
)
def test_threshold_for_target_hand_worked(scores, target, expected):
    assert threshold_for_target(scores, target) == expected


def test_threshold_for_target_above_every_score():
    t = threshold_for_target([0.3, 0.9, 0.9], 0.1)
    assert t > 0.9 and t == np.nextafter(0.9, 1)
    assert false_match_rate([0.3, 0.9, 0.9], t) == 0.0


def test_threshold_for_target_exact_count_rule_at_n_100_target_029():
    # 100 distinct scores 0.00..0.99: FMR(t_k) = (100 - k) / 100. The float 0.29 * 100 is
    # 28.999999999999996; the rule "at most floor(0.29 * 100) = 29 errors" must allow 29,
    # so the threshold is the 71st score (29 scores at or above it), not the 72nd.
    scores = np.arange(100) / 100
    assert 0.29 * 100 < 29
    t = threshold_for_target(scores, 0.29)
    assert t == scores[71]
    assert int((scores >= t).sum()) == 29
    # A loop over every candidate from the definition agrees.
    brute = min(s for s in scores if (scores >= s).sum() <= 29)
    assert t == brute


def test_threshold_for_target_fta_in_denominator():
    # FPIR: 4 searches, one FTA. 1 alert of 4 = 0.25 at 0.8, 2 of 4 = 0.5 at 0.5.
    scores = [0.2, 0.5, 0.8, NAN]
    assert threshold_for_target(scores, 0.5, fta_in_denominator=True) == 0.5
    assert threshold_for_target(scores, 0.5) == 0.8  # FMR: 2 of 3 at 0.5 is above 0.5


def test_threshold_for_target_is_the_smallest_meeting_the_target():
    scores = _scores(2000, 4, decimals=1)
    distinct = np.unique(scores[~np.isnan(scores)])
    for target in (0.0, 1e-3, 0.01, 0.1, 0.5, 0.9):
        t = threshold_for_target(scores, target)
        assert false_match_rate(scores, t) <= target
        below = distinct[distinct < t]
        if below.size:
            assert false_match_rate(scores, below[-1]) > target


def test_thresholds_for_targets_from_one_partition_equal_the_definition():
    """Several targets at once (a calibrated point and its window), ties, FTA and the
    targets 0 and 1 among them: each the smallest score (or the next float above the
    largest) with at most floor(target * n) scores at or above it, by a loop."""
    scores = _scores(3000, 6, decimals=2)
    targets = (0.0, 1e-3, 0.004, 0.29, 0.5, 1.0)
    for fta in (False, True):
        got = thresholds_for_targets(scores, targets, fta_in_denominator=fta)
        scored = scores[~np.isnan(scores)]
        n = scores.size if fta else scored.size
        for target, t in zip(targets, got, strict=True):
            allowed = allowed_errors(target, n)
            candidates = [s for s in np.unique(scored) if (scored >= s).sum() <= allowed]
            assert t == (min(candidates) if candidates else np.nextafter(scored.max(), np.inf))
            assert t == threshold_for_target(scores, target, fta_in_denominator=fta)


def test_threshold_for_target_empty_and_bad_target():
    with pytest.warns(UndefinedRateWarning, match="threshold_for_target: no non-NaN scores"):
        assert np.isnan(threshold_for_target([NAN], 0.1))
    with pytest.raises(ValueError, match=re.escape(BAD_TARGET.format(target=1.5))):
        threshold_for_target([0.1], 1.5)


def _toy_tables(n_subjects: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    subjects = [f"s{i}" for i in range(n_subjects)]
    gender = dict(zip(subjects, rng.choice(["f", "m"], n_subjects)))
    band = dict(zip(subjects, rng.choice(["young", "old", "mid"], n_subjects)))
    images = pd.DataFrame(
        [
            {"image_id": f"{s}/{k}", "subject_id": s, "gender": gender[s], "age_band": band[s]}
            for s in subjects
            for k in range(3)
        ]
    )
    rows = []
    ids, owners = images["image_id"].to_numpy(), images["subject_id"].to_numpy()
    for _ in range(1500):
        a, b = rng.integers(0, ids.size, 2)
        mated = owners[a] == owners[b]
        score = rng.normal(0.7 if mated else 0.3, 0.15) if rng.random() > 0.05 else np.nan
        rows.append(("verification", ids[a], ids[b], owners[a], owners[b], score, mated, None))
    for _ in range(400):
        a = rng.integers(0, ids.size)
        mated = rng.random() < 0.5
        score = rng.normal(0.6 if mated else 0.35, 0.15) if rng.random() > 0.05 else np.nan
        correct = bool(rng.random() < 0.9) if mated and score == score else None
        rows.append(("identification", ids[a], None, owners[a], None, score, mated, correct))
    scores = pd.DataFrame(
        rows,
        columns=[
            "trial_kind",
            "probe_id",
            "reference_id",
            "probe_subject",
            "reference_subject",
            "score",
            "mated",
            "best_is_true_entry",
        ],
    )
    scores["score"] = scores["score"].round(2)
    scores["fold"] = 0
    scores["rank"] = None
    return scores, images


def test_group_sweep_equals_metricframe_on_raw_rows_for_every_group():
    scores, images = _toy_tables()
    grid = np.linspace(0.0, 1.0, 101)
    swept = threshold_sweep(
        scores, images, thresholds=grid, groupings=("gender", "gender x age_band")
    ).to_pandas()
    groups = images.set_index("image_id")
    probe = groups.loc[scores["probe_id"]].reset_index(drop=True)
    verification = scores["trial_kind"] == "verification"
    identification = ~verification
    selections = {
        "fmr": verification & ~scores["mated"] & scores["score"].notna(),
        "fnmr": verification & scores["mated"] & scores["score"].notna(),
        "fnmr_incl_fta": verification & scores["mated"],
        "fpir": identification & ~scores["mated"],
        "fnir": identification & scores["mated"],
    }
    for t in grid[::17]:
        for metric, chosen in selections.items():
            rows = scores[chosen]
            decision = rows["score"].fillna(-np.inf).to_numpy() >= t
            if metric == "fnir":
                decision &= rows["best_is_true_entry"].fillna(False).to_numpy(bool)
            rate = false_negative_rate if rows["mated"].all() else false_positive_rate
            for columns, name in (
                (["gender"], "gender"),
                (["gender", "age_band"], "gender x age_band"),
            ):
                frame = MetricFrame(
                    metrics=rate,
                    y_true=rows["mated"].to_numpy(bool),
                    y_pred=decision,
                    sensitive_features=probe.loc[chosen.to_numpy(), columns].reset_index(drop=True),
                )
                mine = swept[
                    (swept["metric"] == metric)
                    & (swept["grouping"] == name)
                    & np.isclose(swept["threshold"], t)
                ].set_index("group")["value"]
                for key, value in frame.by_group.dropna().items():
                    label = " x ".join(key) if isinstance(key, tuple) else key
                    assert mine[label] == pytest.approx(value, abs=1e-12), (metric, name, t, label)


def test_group_sweep_counts_and_overall():
    scores, images = _toy_tables()
    swept = threshold_sweep(scores, images, thresholds=[0.5], groupings=("overall", "gender"))
    frame = swept.to_pandas().set_index(["metric", "grouping", "group"]).sort_index()
    chosen = scores[(scores["trial_kind"] == "verification") & ~scores["mated"]].dropna(
        subset=["score"]
    )
    assert frame.loc[("fmr", "overall", "all"), "n_trials"] == len(chosen)
    assert frame.loc[("fmr", "overall", "all"), "value"] == pytest.approx(
        false_match_rate(chosen["score"], 0.5)
    )
    mated = scores[(scores["trial_kind"] == "verification") & scores["mated"]]
    assert frame.loc[("fnmr", "overall", "all"), "value"] == pytest.approx(
        false_non_match_rate(mated["score"], 0.5)
    )
    by_gender = frame.loc[("fmr", "gender")]
    assert by_gender["n_trials"].sum() == len(chosen)
    assert (swept.column("operating_point").to_pylist()) == ["sweep"] * swept.num_rows


def test_group_sweep_empty_group_is_nan_with_warning():
    scores, images = _toy_tables()
    images.loc[len(images)] = {
        "image_id": "lonely",
        "subject_id": "z",
        "gender": "x",
        "age_band": "old",
    }
    with pytest.warns(UndefinedRateWarning, match="fmr by gender: no trials in group"):
        swept = threshold_sweep(
            scores, images, thresholds=[0.5], groupings=("gender",), rates=("fmr",)
        )
    rows = swept.to_pandas().set_index("group")
    assert np.isnan(rows.loc["x", "value"]) and rows.loc["x", "n_trials"] == 0
    assert not rows.loc["x", "sufficient"]


def _sweep_values(scores, images, grid):
    table = threshold_sweep(scores, images, thresholds=grid, groupings=("gender",)).to_pandas()
    return table.sort_values(["metric", "grouping", "group", "threshold"]).reset_index(drop=True)


def test_sweep_invariances():
    scores, images = _toy_tables(seed=2)
    grid = np.linspace(0.0, 1.0, 21)
    base = _sweep_values(scores, images, grid)
    shuffled = _sweep_values(scores.sample(frac=1.0, random_state=1), images, grid)
    pd.testing.assert_frame_equal(base, shuffled)
    doubled = _sweep_values(pd.concat([scores, scores], ignore_index=True), images, grid)
    np.testing.assert_allclose(doubled["value"], base["value"])
    np.testing.assert_array_equal(doubled["n_errors"], 2 * base["n_errors"])
    rescaled_scores = scores.assign(score=np.exp(3 * scores["score"]))
    rescaled = _sweep_values(rescaled_scores, images, np.exp(3 * grid))
    np.testing.assert_array_equal(rescaled["value"], base["value"])
    np.testing.assert_array_equal(rescaled["n_errors"], base["n_errors"])


@pytest.mark.parametrize("direct_marks", [0, 10**9])
def test_distinct_subjects_counts_each_subject_once_per_group(monkeypatch, direct_marks):
    """Both the marking table and the sorting path agree with a set per group."""
    from audit.metrics import sweep

    monkeypatch.setattr(sweep, "DIRECT_MARKS", direct_marks)
    rng = np.random.default_rng(2)
    subjects, groups = rng.integers(0, 50, 2000), rng.integers(0, 7, 2000)
    expected = [len(set(subjects[groups == g].tolist())) for g in range(8)]
    assert sweep.distinct_subjects(subjects, groups, 8).tolist() == expected

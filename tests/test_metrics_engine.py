"""compute_metrics end to end: a hand-worked audit, attribution, options, invariances."""

from __future__ import annotations

import functools
import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from audit.metrics import (
    compute_metrics,
    project_deployment,
    summarize_metrics,
    threshold_sweep,
)
from audit.metrics.engine import NO_THRESHOLD
from audit.metrics.inputs import BAD_OPTION
from audit.metrics.rates import UndefinedRateWarning
from audit.metrics.table import SCHEMA
from audit.metrics.trials import BAD_GROUPING, DUPLICATE_COLUMN, Grouping
from audit.schema import METRICS, SchemaError, check_table

# Small hand-made audits have groups without errors; the warnings are tested where they matter.
pytestmark = pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")
NAN = float("nan")
COLUMNS = [
    "trial_kind",
    "probe_id",
    "reference_id",
    "probe_subject",
    "reference_subject",
    "score",
    "mated",
    "fold",
    "rank",
    "best_is_true_entry",
]


def hand_worked():
    """Four subjects, two images each; A, B female; C, D male. Threshold 0.5."""
    images = pd.DataFrame(
        {
            "image_id": ["A1", "A2", "B1", "B2", "C1", "C2", "D1", "D2"],
            "subject_id": ["A", "A", "B", "B", "C", "C", "D", "D"],
            "gender": ["female"] * 4 + ["male"] * 4,
        }
    )
    v, i = "verification", "identification"
    rows = [
        (v, "A1", "A2", "A", "A", 0.8, True, 0, None, None),
        (v, "B1", "B2", "B", "B", 0.5, True, 0, None, None),  # tie at t: a match
        (v, "C1", "C2", "C", "C", 0.4, True, 0, None, None),  # non-match
        (v, "D1", "D2", "D", "D", NAN, True, 0, None, None),  # FTA
        (v, "A1", "B1", "A", "B", 0.5, False, 0, None, None),  # tie: false match, f -> f
        (v, "A1", "C1", "A", "C", 0.2, False, 0, None, None),  # f -> m
        (v, "C1", "D1", "C", "D", 0.6, False, 0, None, None),  # false match, m -> m
        (v, "D2", "B2", "D", "B", 0.1, False, 0, None, None),  # m -> f
        (v, "B1", "C2", "B", "C", NAN, False, 0, None, None),  # FTA: dropped from FMR
        (i, "A1", None, "A", None, 0.7, True, 0, 1, True),  # hit
        (i, "B1", None, "B", None, 0.5, True, 0, 1, True),  # hit (tie)
        (i, "C1", None, "C", None, 0.9, True, 0, 2, False),  # alert on the wrong entry: miss
        (i, "D1", None, "D", None, NAN, True, 0, None, None),  # FTA: miss
        (i, "A2", None, "A", None, 0.55, False, 0, None, None),  # false alert
        (i, "C2", None, "C", None, 0.3, False, 0, None, None),
        (i, "D2", None, "D", None, NAN, False, 0, None, None),  # FTA: no alert, counted
    ]
    scores = pd.DataFrame(rows, columns=COLUMNS)
    fta = pd.DataFrame({"image_id": images["image_id"], "fta": [False] * 6 + [True, False]})
    return scores, images, fta


def synthetic(n_subjects: int = 30, seed: int = 0):
    """Random verification pairs and searches with clustered subjects."""
    rng = np.random.default_rng(seed)
    owners = np.repeat([f"s{k}" for k in range(n_subjects)], 3)
    images = pd.DataFrame(
        {
            "image_id": [f"{o}/{k % 3}" for k, o in enumerate(owners)],
            "subject_id": owners,
            "gender": np.repeat(rng.choice(["female", "male"], n_subjects), 3),
        }
    )
    a, b = rng.integers(0, owners.size, (2, 600))
    mated = owners[a] == owners[b]
    rows = pd.DataFrame(
        {
            "trial_kind": "verification",
            "probe_id": images["image_id"].to_numpy()[a],
            "reference_id": images["image_id"].to_numpy()[b],
            "probe_subject": owners[a],
            "reference_subject": owners[b],
            "score": rng.normal(np.where(mated, 0.7, 0.4), 0.15),
            "mated": mated,
            "fold": 0,
            "rank": None,
            "best_is_true_entry": None,
        }
    )
    return rows, images


def run(scores, images, fta=None, **options):
    settings = {
        "thresholds": (0.5,),
        "groupings": ("gender",),
        "min_subjects": 1,
        "min_trials": 1,
    }
    settings.update(options)
    return compute_metrics(scores, images, fta, **settings)


@functools.cache
def hand_worked_table():
    scores, images, fta = hand_worked()
    return run(scores, images, fta)


def rates_of(table) -> pd.DataFrame:
    """Rate rows indexed by (metric, grouping, group); a cross cell's group is "a -> b" here."""
    frame = table.to_pandas()
    frame = frame[frame["statistic"] == "rate"].copy()
    cross = frame["group_b"].notna()
    frame.loc[cross, "group"] = frame.loc[cross, "group"] + " -> " + frame.loc[cross, "group_b"]
    return frame.set_index(["metric", "grouping", "group"])


def statistic_rows(table, statistic) -> pd.DataFrame:
    frame = table.to_pandas()
    return frame[frame["statistic"] == statistic]


def test_output_schema_is_metrics_plus_structure_columns():
    table = hand_worked_table()
    assert table.schema.equals(SCHEMA)
    check_table(table, METRICS, "metrics")


@pytest.mark.parametrize(
    ("metric", "grouping", "group", "value", "n_trials", "n_errors", "n_subjects"),
    [
        ("fmr", "overall", "all", 2 / 4, 4, 2, 3),
        ("fmr", "gender", "female", 1 / 2, 2, 1, 1),  # by the probe's group
        ("fmr", "gender", "male", 1 / 2, 2, 1, 2),
        ("fmr_cross", "gender", "female -> female", 1.0, 1, 1, 1),
        # a 1:1 score is symmetric: each cross comparison counts in both cells
        ("fmr_cross", "gender", "female -> male", 0.0, 2, 0, 2),
        ("fmr_cross", "gender", "male -> male", 1.0, 1, 1, 1),
        ("fmr_cross", "gender", "male -> female", 0.0, 2, 0, 2),
        ("fnmr", "overall", "all", 1 / 3, 3, 1, 3),
        ("fnmr", "gender", "female", 0.0, 2, 0, 2),
        ("fnmr", "gender", "male", 1.0, 1, 1, 1),
        ("fnmr_incl_fta", "overall", "all", 2 / 4, 4, 2, 4),
        ("fnmr_incl_fta", "gender", "male", 1.0, 2, 2, 2),
        ("fpir", "overall", "all", 1 / 3, 3, 1, 3),
        ("fpir", "gender", "female", 1.0, 1, 1, 1),  # by the passer-by's group
        ("fpir", "gender", "male", 0.0, 2, 0, 2),
        ("fnir", "overall", "all", 2 / 4, 4, 2, 4),
        ("fnir", "gender", "female", 0.0, 2, 0, 2),
        ("fnir", "gender", "male", 1.0, 2, 2, 2),
        ("fta", "overall", "all", 1 / 8, 8, 1, 4),
        ("fta", "gender", "male", 1 / 4, 4, 1, 2),
        ("fta", "gender", "female", 0.0, 4, 0, 2),
    ],
)
def test_hand_worked_audit(metric, grouping, group, value, n_trials, n_errors, n_subjects):
    row = rates_of(hand_worked_table()).loc[(metric, grouping, group)]
    assert row["value"] == pytest.approx(value)
    assert (row["n_trials"], row["n_errors"], row["n_subjects"]) == (n_trials, n_errors, n_subjects)
    if metric == "fta":
        assert np.isnan(row["threshold"]) and pd.isna(row["operating_point"])
    else:
        assert row["threshold"] == 0.5 and row["operating_point"] == "deployment"


def test_zero_and_all_error_rows_get_the_one_sided_bound():
    rows = rates_of(hand_worked_table())
    zero = rows.loc[("fnir", "gender", "female")]
    assert zero["ci_method"] == "one-sided-bound"
    assert (zero["ci_low"], zero["ci_high"]) == (0.0, pytest.approx(1 - 0.05 ** (1 / 2)))
    every = rows.loc[("fnir", "gender", "male")]
    assert (every["ci_low"], every["ci_high"]) == (pytest.approx(0.05 ** (1 / 2)), 1.0)
    mixed = rows.loc[("fmr", "overall", "all")]
    assert mixed["ci_method"] == "wilson-clustered" and 0 < mixed["ci_low"] <= 0.5 <= mixed["ci_high"]


def test_wilson_interval_option():
    scores, images, fta = hand_worked()
    row = rates_of(run(scores, images, fta, interval="wilson")).loc[
        ("fmr", "overall", "all")
    ]
    assert row["ci_method"] == "wilson"
    assert row["ci_low"] == pytest.approx(0.15003898915214267)


def test_operating_points_from_targets_are_labelled():
    scores, images, fta = hand_worked()
    table = run(scores, images, fta, thresholds=(0.5,), target_fmr=(0.25,), target_fpir=(0.0,))
    rows = table.to_pandas()
    overall = rows[(rows["metric"] == "fmr") & (rows["grouping"] == "overall")].set_index(
        "operating_point"
    )
    # FMR <= 0.25 of the completed non-mated scores 0.1, 0.2, 0.5, 0.6: threshold 0.6.
    assert overall.loc["target_fmr=0.25", "threshold"] == 0.6
    assert overall.loc["target_fmr=0.25", "value"] == 0.25
    fpir = rows[(rows["metric"] == "fpir") & (rows["grouping"] == "overall")].set_index(
        "operating_point"
    )
    assert (
        fpir.loc["target_fpir=0", "threshold"] > 0.55 and fpir.loc["target_fpir=0", "value"] == 0.0
    )
    assert set(rows["operating_point"].dropna()) == {
        "deployment",
        "target_fmr=0.25",
        "target_fpir=0",
    }


def test_dataset_without_identities_reports_miss_rates_as_nan():
    scores, images, _ = hand_worked()
    non_mated = scores[~scores["mated"]]
    with pytest.warns(UndefinedRateWarning, match="fnmr by overall: no trials"):
        rows = rates_of(run(non_mated, images))
    for metric in ("fnmr", "fnmr_incl_fta", "fnir"):
        row = rows.loc[(metric, "overall", "all")]
        assert np.isnan(row["value"]) and row["n_trials"] == 0 and not row["sufficient"]
    assert rows.loc[("fmr", "overall", "all"), "value"] == 0.5


def test_absent_trial_kind_gives_no_rows():
    scores, images, _ = hand_worked()
    rows = rates_of(run(scores[scores["trial_kind"] == "verification"], images))
    assert not {"fpir", "fnir"} & set(rows.index.get_level_values("metric"))


def test_insufficient_groups_are_flagged_and_never_ranked():
    scores, images, fta = hand_worked()
    with pytest.warns(UndefinedRateWarning, match="fewer than two sufficient groups"):
        table = run(scores, images, fta, min_subjects=3, min_trials=1)
    rows = table.to_pandas()
    by_gender = rows[(rows["grouping"] == "gender") & (rows["metric"] == "fmr")]
    assert not by_gender["sufficient"].any()  # each gender has 2 subjects at most
    ratio = rows[(rows["metric"] == "fmr") & (rows["statistic"] == "max_min_ratio")]
    assert ratio["value"].isna().all() and not ratio["sufficient"].any()
    assert not (rows["group_b"].notna() & (rows["metric"] == "fmr")).any()  # no pair rows


def test_disparity_rows_on_the_hand_worked_audit():
    rows = hand_worked_table().to_pandas().set_index(["metric", "grouping", "statistic"])
    ratio = rows.loc[("fpir", "gender", "max_min_ratio")]
    assert ratio["group"] == "all" and np.isinf(ratio["value"]) and np.isnan(ratio["ci_low"])
    difference = rows.loc[("fnir", "gender", "max_min_difference")]
    assert difference["value"] == 1.0 and difference["n_trials"] == 4
    fdr = rows.loc[("fmr", "gender", "fdr")]
    assert fdr["value"] == pytest.approx(1 - (0.5 * 0.0 + 0.5 * 1.0))
    # The fixed pair: female (1 false alert of 1) over male (0 of 2): unbounded, so a bound.
    pair = rows.loc[("fpir", "gender", "ratio")]
    assert (pair["group"], pair["group_b"]) == ("female", "male")
    assert np.isinf(pair["value"]) and pair["ci_method"] == "mover-r-bound"
    assert 0 < pair["ci_low"] < 1 and np.isinf(pair["ci_high"])  # 1 alert of 1 proves little
    assert rows.loc[("fmr", "gender", "p_adjusted"), "group_b"] in ("female", "male")


def test_same_input_same_table_and_row_order_does_not_matter():
    scores, images, fta = hand_worked()
    first = run(scores, images, fta)
    assert first.equals(run(*hand_worked()))
    shuffled = run(
        scores.sample(frac=1.0, random_state=0),
        images.sample(frac=1.0, random_state=1),
        fta,
    )
    assert first.to_pandas().equals(shuffled.to_pandas())


def test_duplicated_rows_keep_rates_and_double_counts():
    scores, images, fta = hand_worked()
    base = rates_of(run(scores, images, fta))
    doubled = rates_of(run(pd.concat([scores, scores]), images, pd.concat([fta, fta])))
    np.testing.assert_allclose(doubled["value"], base["value"])
    np.testing.assert_array_equal(doubled["n_trials"], 2 * base["n_trials"])
    np.testing.assert_array_equal(doubled["n_subjects"], base["n_subjects"])


def test_monotone_rescaling_of_scores_and_thresholds_keeps_every_rate():
    scores, images, fta = hand_worked()
    base = rates_of(run(scores, images, fta, target_fmr=(0.25,)))
    rescaled_scores = scores.assign(score=np.exp(2 * scores["score"]) - 7)
    rescaled = rates_of(
        run(rescaled_scores, images, fta, thresholds=(np.exp(1.0) - 7,), target_fmr=(0.25,))
    )
    for column in ("value", "ci_low", "ci_high", "n_errors"):
        np.testing.assert_array_equal(rescaled[column], base[column])


def test_summary_is_json_able_and_ranks_sufficient_groups_only():
    summary = summarize_metrics(hand_worked_table())
    json.dumps(summary, allow_nan=False)
    assert summary["operating_points"] == [
        {"operating_point": "deployment", "point_kind": "deployment", "target": None,
         "threshold": 0.5}
    ]
    fnir = next(d for d in summary["groupings"]["gender"] if d["metric"] == "fnir")
    assert fnir["highest"][0]["group"] == "male" and fnir["lowest"][0]["group"] == "female"
    pair = {r["statistic"]: r for r in fnir["highest_vs_lowest"]}
    assert (pair["ratio"]["group"], pair["ratio"]["group_b"]) == ("male", "female")
    assert pair["ratio"]["value"] == "inf" and pair["p_adjusted"]["value"] is not None


def test_summary_states_a_named_reference_against_each_other_group():
    from report_tables import hand_made

    table = hand_made()
    frame = table.to_pandas()
    digest = summarize_metrics(table, {"group": "b"})
    fpir = next(d for d in digest["groupings"]["group"]
                if d["metric"] == "fpir" and d["operating_point"] == "deployment")
    rates = frame[(frame["metric"] == "fpir") & (frame["operating_point"] == "deployment")
                  & (frame["grouping"] == "group") & (frame["statistic"] == "rate")]
    others = set(rates.loc[rates["sufficient"], "group"]) - {"b"}
    ratios = [r for r in fpir["reference_vs_others"] if r["statistic"] == "ratio"]
    assert fpir["reference"] == "b"
    assert sorted({r["group"], r["group_b"]} - {"b"} for r in ratios) == [{g} for g in
                                                                        sorted(others)]
    assert "reference" not in next(d for d in summarize_metrics(table)["groupings"]["group"])


def test_controls_and_intersections():
    scores, images, fta = hand_worked()
    images["lighting"] = ["good", "poor"] * 4
    table = run(scores, images, fta, groupings=("gender x lighting", "gender | lighting"))
    rows = rates_of(table)
    assert rows.loc[("fmr", "gender x lighting", "female x good"), "value"] == 1 / 2  # A1 probes
    assert rows.loc[("fmr", "gender | lighting", "female | good"), "value"] == 1 / 2
    strata = table.to_pandas()
    ratio = strata[
        (strata["metric"] == "fnmr")
        & (strata["statistic"] == "max_min_ratio")
        & (strata["grouping"] == "gender | lighting")
    ]
    assert set(ratio["group"]) == {"good", "poor"}  # one summary per stratum
    pairs = strata[(strata["statistic"] == "ratio") & (strata["grouping"] == "gender | lighting")]
    # Pairs are compared within a stratum: both groups share the lighting level.
    for first, second in zip(pairs["group"], pairs["group_b"], strict=True):
        assert first.split(" | ")[1] == second.split(" | ")[1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"thresholds": ()}, NO_THRESHOLD),
        (
            {"min_subjects": -1},
            BAD_OPTION.format(name="min_subjects", what="a non-negative integer", value=-1),
        ),
        ({"interval": "exact"}, "interval must be"),
        ({"groupings": ("gender x",)}, "grouping 'gender x'"),
        (
            {"groupings": ("gender x gender",)},
            DUPLICATE_COLUMN.format(text="gender x gender", column="gender"),
        ),
    ],
)
def test_bad_options(options, message):
    scores, images, fta = hand_worked()
    with pytest.raises(ValueError, match=re.escape(message)):
        run(scores, images, fta, **options)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s, i: (s.drop(columns="score"), i), "scores table lacks column 'score'"),
        (lambda s, i: (s, i.drop(columns="gender")), "images table lacks column 'gender'"),
        (lambda s, i: (s.assign(trial_kind="1:1"), i), "scores row 0: trial_kind '1:1'"),
        (
            lambda s, i: (s.assign(score=s["score"].replace(0.8, np.inf)), i),
            "scores row 0: score is infinite",
        ),
        (
            lambda s, i: (s.assign(probe_id=s["probe_id"].replace("B1", "Z9")), i),
            "absent from the images table",
        ),
        (
            lambda s, i: (s.assign(best_is_true_entry=None), i),
            "scores row 9: mated identification search with a score lacks best_is_true_entry",
        ),
        (lambda s, i: (s, pd.concat([i, i.head(1)])), "lists image_id 'A1' more than once"),
    ],
)
def test_bad_tables(change, message):
    scores, images, fta = hand_worked()
    bad_scores, bad_images = change(scores, images)
    with pytest.raises((ValueError, SchemaError), match=re.escape(message)):
        run(bad_scores, bad_images, fta)


def test_grouping_names_round_trip():
    for text in (
        "overall",
        "gender",
        "gender x ethnicity",
        "age_band | lighting",
        "sex x age | light x site",
    ):
        assert Grouping.parse(text).name == text
    with pytest.raises(
        ValueError, match=re.escape(BAD_GROUPING.format(text=" | x", why="an empty column name"))
    ):
        Grouping.parse(" | x")


def test_cross_groupings_may_name_other_columns():
    scores, images, fta = hand_worked()
    images["lighting"] = ["good", "poor"] * 4
    rows = rates_of(run(scores, images, fta, groupings=("gender",), cross_groupings=("lighting",)))
    cross = rows.loc["fmr_cross"]
    assert set(cross.index.get_level_values("grouping")) == {"lighting"}
    # A1 (good) -> B1 (good) 0.5 and C1 (good) -> D1 (good) 0.6 are false matches; A1 -> C1 is not.
    assert cross.loc[("lighting", "good -> good"), "value"] == pytest.approx(2 / 3)
    # The cell's two groups are columns: group is the probe's side, group_b the reference's.
    raw = run(scores, images, fta, cross_groupings=("lighting",)).to_pandas()
    cells = raw[(raw["metric"] == "fmr_cross") & (raw["statistic"] == "rate")]
    assert set(zip(cells["group"], cells["group_b"], strict=True)) == {
        ("good", "good"), ("good", "poor"), ("poor", "good"), ("poor", "poor")}
    with pytest.raises(ValueError, match="cross_groupings must be groupings without controls"):
        run(scores, images, fta, cross_groupings=("gender | lighting",))


def test_summary_skips_sweep_rows_and_reports_the_projection():
    scores, images, _ = hand_worked()
    rates = hand_worked_table()
    swept = threshold_sweep(scores, images, thresholds=np.linspace(0, 1, 11), groupings=("gender",))
    projected = project_deployment(
        rates, crowd_size=1000, watchlist_share=0.01, watchlist_size=4, audit_watchlist_size=4
    )
    everything = pa.concat_tables([rates, swept, projected])
    summary = summarize_metrics(everything)
    json.dumps(summary, allow_nan=False)
    assert summary == {**summarize_metrics(rates), "projection": summary["projection"]}
    false_alerts = next(r for r in summary["projection"] if r["metric"] == "projected_false_alerts")
    assert false_alerts["value"] == pytest.approx(990 / 3)


def test_unknown_group_is_reported_but_never_ranked():
    scores, images, fta = hand_worked()
    images.loc[images.index[:2], "gender"] = "unknown"
    rows = run(scores, images, fta, min_subjects=0, min_trials=0).to_pandas()
    unknown = rows[(rows["grouping"] == "gender") & (rows["group"] == "unknown")]
    assert len(unknown) and not unknown["sufficient"].any()
    pairs = rows[rows["group_b"].notna() & (rows["metric"] != "fmr_cross")]
    assert len(pairs) and not (pairs["group"] == "unknown").any()
    assert not (pairs["group_b"] == "unknown").any()


def test_sweep_points_get_pointwise_contrasts_outside_the_testing_family():
    scores, images, fta = hand_worked()
    with_sweep = run(scores, images, fta, sweep=(0.3, 0.5, 0.7)).to_pandas()
    alone = run(scores, images, fta).to_pandas()
    swept = with_sweep[with_sweep["point_kind"] == "sweep"]
    assert set(swept["threshold"]) == {0.3, 0.5, 0.7}
    assert {"rate", "ratio", "p_value"} <= set(swept["statistic"])
    assert not {"p_adjusted", "max_min_ratio", "garbe"} & set(swept["statistic"])
    # The family of the audited operating points is unchanged by the sweep.
    adjusted = with_sweep[with_sweep["statistic"] == "p_adjusted"]
    pd.testing.assert_series_equal(
        adjusted["value"].reset_index(drop=True),
        alone[alone["statistic"] == "p_adjusted"]["value"].reset_index(drop=True))


def _calibration_audit(seed: int = 0, n_subjects: int = 80, effect_sd: float = 0.0):
    """Mated pairs within subjects, non-mated pairs across them, subject effects on scores."""
    rng = np.random.default_rng(seed)
    owners = np.repeat([f"s{k}" for k in range(n_subjects)], 4)
    ids = np.array([f"{o}/{k % 4}" for k, o in enumerate(owners)])
    images = pd.DataFrame({"image_id": ids, "subject_id": owners,
                           "gender": np.where(np.arange(owners.size) // 4 % 2, "female", "male")})
    effect = rng.normal(0, effect_sd, n_subjects)
    within = [(4 * s + i, 4 * s + j) for s in range(n_subjects) for i in range(4)
              for j in range(i + 1, 4)]
    across = rng.integers(0, owners.size, (6000, 2))
    across = across[across[:, 0] // 4 != across[:, 1] // 4]
    a, b = np.array(within + across.tolist()).T
    mated = a // 4 == b // 4
    score = np.where(mated, 0.7, 0.3) + effect[a // 4] + effect[b // 4] + rng.normal(0, 0.1, a.size)
    scores = pd.DataFrame({
        "trial_kind": "verification", "probe_id": ids[a], "reference_id": ids[b],
        "probe_subject": owners[a], "reference_subject": owners[b], "score": score,
        "mated": mated, "fold": 0, "rank": None, "best_is_true_entry": None})
    return scores, images


def test_a_calibrated_threshold_adds_its_own_uncertainty_and_windows_stay_internal():
    scores, images = _calibration_audit()
    calibrated = run(scores, images, thresholds=(), target_fmr=(0.02,)).to_pandas()
    assert "window" not in set(calibrated["point_kind"].dropna())
    t = calibrated.loc[calibrated["point_kind"] == "target_fmr", "threshold"].iloc[0]
    fixed = run(scores, images, thresholds=(), labelled_thresholds=(("same", t),)).to_pandas()

    def overall(frame, metric):
        rows = frame[(frame["metric"] == metric) & (frame["grouping"] == "overall")
                     & (frame["statistic"] == "rate") & frame["threshold"].notna()]
        return rows.iloc[0]

    cal, fix = overall(calibrated, "fnmr"), overall(fixed, "fnmr")
    assert (cal["value"], cal["n_errors"]) == (fix["value"], fix["n_errors"])
    # Without person effects the miss rate's noise and the threshold's are independent, so
    # reading it at an estimated threshold is less sure. (With a person effect on both the
    # mated and the non-mated scores, the two partly cancel: the coverage study measures it.)
    assert cal["ci_high"] - cal["ci_low"] > 1.05 * (fix["ci_high"] - fix["ci_low"])
    assert cal["point_kind"] == "target_fmr" and cal["target"] == 0.02


def test_an_fmr_pair_at_a_calibrated_threshold_gets_the_symmetric_t_interval():
    """The pair's third cumulant leaves out the calibration's share while its variance takes
    it in: the skewness term is dropped there, as for the groups' own rows (a user's
    difference read -1.04 to 2.03 points around 1.54 beside a ratio interval above 1)."""
    scores, images = _calibration_audit(seed=3, effect_sd=0.05)
    table = run(scores, images, thresholds=(), target_fmr=(0.02,),
                groupings=("gender",)).to_pandas()
    pair = table[(table["metric"] == "fmr") & (table["point_kind"] == "target_fmr")]
    difference = pair[pair["statistic"] == "difference"].iloc[0]
    ratio = pair[pair["statistic"] == "ratio"].iloc[0]
    assert difference["ci_high"] - difference["value"] == pytest.approx(
        difference["value"] - difference["ci_low"], rel=1e-9)
    assert np.log(ratio["ci_high"] / ratio["value"]) == pytest.approx(
        np.log(ratio["value"] / ratio["ci_low"]), rel=1e-9)
    # The table names the interval it holds: the t with no skewness term, not Hall's.
    methods = pair.set_index("statistic")["ci_method"]
    assert (methods["difference"], methods["ratio"], methods["p_value"]) == (
        "symmetric-t", "symmetric-t-log", "inverted-symmetric-t-log")
    # The same threshold given as fixed: Hall's t, skewed, and named so.
    fixed = run(scores, images, thresholds=(float(pair["threshold"].iloc[0]),),
                groupings=("gender",)).to_pandas()
    fixed = fixed[(fixed["metric"] == "fmr") & (fixed["point_kind"] == "deployment")]
    methods = fixed.set_index("statistic")["ci_method"]
    assert (methods["difference"], methods["ratio"], methods["p_value"]) == (
        "hall-t", "hall-t-log", "inverted-hall-t-log")
    skewed = fixed.set_index("statistic").loc["difference"]
    assert skewed["ci_high"] - skewed["value"] != pytest.approx(
        skewed["value"] - skewed["ci_low"], rel=1e-6)

"""Report context: a real metrics table in, typed panels, matrices, curves and projection out.

The table is the hand-made audit of :mod:`report_tables`, computed by the real
metrics stage; every number the context holds is checked against the row of
the table it must come from.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from report_tables import (
    DEEPFACE,
    DEPLOYMENT,
    MIN_SUBJECTS,
    MIN_TRIALS,
    SWEEP,
    WATCHLIST,
    hand_made,
    run_info,
)

from audit.metrics import table as columns
from audit.report.context import build_context, flatten
from audit.report.inputs import FaceImage, RunInfo, StatisticsInfo


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return hand_made().to_pandas()


@pytest.fixture(scope="module")
def context():
    return build_context(hand_made(), run_info())


def rows(frame, **where) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    for column, value in where.items():
        keep &= frame[column].isna() if value is None else frame[column] == value
    return frame[keep]


def test_operating_points_in_order_with_their_sources(context):
    points = context.operating_points
    assert [p.label for p in points] == ["deployment", "deepface-default", "target_fpir=0.05",
                                         "target_fmr=0.01"]
    assert [p.kind for p in points] == ["deployment", "reference", "target_fpir", "target_fmr"]
    assert points[0].threshold == DEPLOYMENT and points[0].source == "spec"
    assert points[1].threshold == DEEPFACE and points[1].source == "deepface-default"
    assert points[2].target_rate == "fpir" and points[2].target == 0.05 and points[2].calibrated
    assert points[3].target_rate == "fmr" and points[3].source is None


def test_panels_hold_the_rate_rows(context, frame):
    panel = next(p for p in context.results.identification
                 if p.operating_point.label == "deployment")
    assert panel.metrics == ("fpir", "fnir")
    expected = rows(frame, metric="fpir", grouping="group", statistic="rate",
                    operating_point="deployment")
    got = {r.group: r.rates[0] for r in panel.rows}
    assert set(got) == set(expected["group"])
    for row in expected.to_dict(orient="records"):
        rate = got[row["group"]]
        assert (rate.value, rate.ci_low, rate.ci_high, rate.n_errors, rate.sufficient) == (
            row["value"], row["ci_low"], row["ci_high"], row["n_errors"], row["sufficient"])
    assert [p.grouping for p in context.results.fta] == []  # no FTA table in this audit


def test_panel_comparisons_are_pair_rows_and_summaries_are_descriptive(context, frame):
    panel = next(p for p in context.results.identification
                 if p.operating_point.label == "deployment")
    fpir = panel.blocks[0]
    headline = fpir.comparisons[0]
    assert (headline.high.group, headline.low.group) == ("a", "c")
    pair = rows(frame, metric="fpir", grouping="group", operating_point="deployment",
                group="a", group_b="c")
    ratio = pair[pair["statistic"] == "ratio"].iloc[0]
    assert headline.ratio.value == ratio["value"] == math.inf
    assert headline.ratio.low == ratio["ci_low"] and headline.ratio.method == "mover-r-bound"
    assert fpir.n_pairs == len(rows(frame, metric="fpir", grouping="group",
                                    operating_point="deployment", statistic="ratio"))
    summary = rows(frame, metric="fpir", grouping="group", operating_point="deployment",
                   statistic="max_geomean_ratio").iloc[0]
    (descriptive,) = fpir.descriptive
    assert descriptive.stratum == "all"
    assert descriptive.values["max_geomean_ratio"] == (None if math.isnan(summary["value"])
                                                       else summary["value"])
    assert {c.stratum for c in panel.combined} == {"all"}
    assert set(panel.combined[0].values) >= {"garbe", "fdr"}


def test_cross_matrix_reads_group_and_group_b(context, frame):
    matrix = next(m for m in context.results.cross if m.operating_point.label == "deployment")
    cells = rows(frame, metric="fmr_cross", operating_point="deployment")
    assert set(matrix.probe_groups) == set(cells["group"])
    assert set(matrix.reference_groups) == set(cells["group_b"])
    for row in cells.to_dict(orient="records"):
        i, j = matrix.probe_groups.index(row["group"]), matrix.reference_groups.index(row["group_b"])
        cell = matrix.cells[i][j]
        assert (cell.n_trials, cell.n_errors, cell.sufficient) == (
            row["n_trials"], row["n_errors"], row["sufficient"])
    e = matrix.probe_groups.index("e")
    assert not any(c is not None and c.shown for c in matrix.cells[e])  # e is too small
    assert not any(row[e] is not None and row[e].shown for row in matrix.cells)


def test_projection_is_the_metrics_stage_rows(context, frame):
    projection = context.projection
    assert projection.operating_point.label == "deployment"
    assert projection.audit_watchlist == WATCHLIST
    projected = rows(frame, statistic="projection", grouping="overall",
                     operating_point="deployment").set_index("metric")
    overall = projection.overall
    for name, field in (("projected_false_alerts", "false_alerts"),
                        ("projected_precision", "share_correct"),
                        ("projected_false_alerts_per_face", "per_face")):
        value = getattr(overall, field)
        assert (value.value, value.low, value.high) == tuple(
            projected.loc[name, ["value", "ci_low", "ci_high"]])
    by_group = dict(projection.groupings)["group"]
    assert [r.group for r in by_group] == ["a", "b", "c", "d", "e"]
    assert [r.sufficient for r in by_group] == [True, True, True, True, False]


def test_no_projection_without_projection_rows():
    table = hand_made().to_pandas()
    bare = table[table["statistic"] != "projection"]
    context = build_context(columns.to_table(bare), run_info())
    assert context.projection is None and context.summary.projection is None


def test_disparity_curve_follows_the_headline_pair_on_the_sweep(context, frame):
    curve = next(c for c in context.results.disparity if c.metric == "fpir")
    assert (curve.numerator, curve.denominator, curve.reference) == ("a", "c", False)
    assert [p.threshold for p in curve.points] == sorted(SWEEP)
    sweep = rows(frame, metric="fpir", grouping="group", point_kind="sweep")
    tests = sweep[(sweep["statistic"] == "p_value")
                  & (sweep["group"].isin(["a", "c"])) & (sweep["group_b"].isin(["a", "c"]))]
    # Shown exactly where the pointwise test rejects equal rates (p < 0.05 iff the interval excludes 1).
    assert curve.shown_thresholds == tuple(sorted(tests.loc[tests["value"] < 0.05, "threshold"]))
    assert [m.label for m in curve.marks] == [p.label for p in context.operating_points]


def test_a_named_reference_group_leads_the_panels_and_the_disparity_curves(frame):
    """The same fixed pairs as the summary: each other group against the reference."""
    info = run_info(statistics=StatisticsInfo(
        confidence=0.95, interval="wilson-clustered", min_subjects=MIN_SUBJECTS,
        min_trials=MIN_TRIALS, reference_groups={"group": "b"}))
    named = build_context(hand_made(), info)
    panel = next(p for p in named.results.identification
                 if p.operating_point.label == "deployment")
    block = panel.blocks[0]
    others = {g.group for g in block.groups if g.shown} - {"b"}
    assert panel.reference == "b"
    assert {frozenset((c.high.group, c.low.group)) for c in block.comparisons[:len(others)]} == {
        frozenset(("b", g)) for g in others}
    curves = [c for c in named.results.disparity if c.metric == "fpir"]
    assert {(c.numerator, c.denominator) for c in curves} == {(g, "b") for g in others}
    assert all(c.reference for c in curves) and len({c.id for c in curves}) == len(curves)
    sweep = rows(frame, metric="fpir", grouping="group", point_kind="sweep", statistic="ratio")
    curve = curves[0]
    for p in curve.points:  # read the other way round where the table orders the pair b first
        row = sweep[(sweep["threshold"] == p.threshold) & sweep["group"].isin(
            [curve.numerator, "b"]) & sweep["group_b"].isin([curve.numerator, "b"])].iloc[0]
        value = row["value"] if row["group"] == curve.numerator else 1 / row["value"]
        if p.ratio is not None:
            assert p.ratio == pytest.approx(value)


def test_family_is_every_adjusted_test(context, frame):
    listed = [c for block in context.family for c in block.comparisons]
    adjusted = rows(frame, statistic="p_adjusted")
    assert len(listed) == len(adjusted) == context.summary.n_tests
    by_pair = adjusted.set_index(["metric", "operating_point", "group", "group_b"])["value"]
    for c in listed:
        assert c.p_adjusted == by_pair[(c.metric, c.point.label, c.high.group, c.low.group)]


def test_groupings_and_compositions(context):
    assert context.groupings == ("group",) and context.single_groupings == ("group",)
    assert context.conditions == ()
    bare = build_context(hand_made(), RunInfo(run_id="bare"))
    assert bare.compositions == ()  # no FTA rows and no datasets: nothing to count from
    assert bare.projection.inputs is None and bare.run.statistics.alpha == 0.05


def test_faces_only_when_asked(tmp_path):
    run = run_info(face_images=(FaceImage(tmp_path / "a.png", "example"),))
    assert build_context(hand_made(), run).faces == ()
    assert len(build_context(hand_made(), run, include_faces=True).faces) == 1


def test_flatten_nested_spec():
    pairs = flatten({"a": {"b": [1, 2]}, "datasets": [{"name": "lfw"}]})
    assert [(p.key, p.value) for p in pairs] == [("a.b", "1, 2"), ("datasets[0].name", "lfw")]


@pytest.mark.parametrize("column", ["ci_low", "statistic", "group_b", "point_kind"])
def test_metrics_table_is_checked(column):
    from audit.schema import SchemaError

    with pytest.raises(SchemaError, match=column):
        build_context(hand_made().drop_columns([column]), RunInfo(run_id="x"))


@pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")
def test_composition_from_fta_rows_leaves_out_groups_it_did_not_count():
    """A score log's unlisted images have labels 'unknown' and no status: the composition
    counted from the FTA rows must not show that group as 0 people and 0 images."""
    from audit.metrics import compute_metrics

    people = [f"s{i}" for i in range(8)]
    scores = pd.DataFrame({
        "trial_kind": "verification", "probe_id": [f"{p}a" for p in people],
        "reference_id": [f"{p}b" for p in people], "probe_subject": people,
        "reference_subject": people, "score": 0.8, "mated": True, "fold": None, "rank": None,
        "best_is_true_entry": None})
    ids = [*scores["probe_id"], *scores["reference_id"]]
    images = pd.DataFrame({"image_id": ids, "subject_id": [i[:-1] for i in ids],
                           "gender": ["unknown" if i.startswith("s7") else
                                      ("f", "m")[int(i[1]) % 2] for i in ids]})
    fta = pd.DataFrame({"image_id": [i for i in ids if not i.startswith("s7")], "fta": False})
    table = compute_metrics(scores, images, fta, thresholds=(0.5,), groupings=("gender",),
                            min_subjects=1, min_trials=1)
    (composition,) = build_context(table, RunInfo(run_id="log")).compositions
    assert [(r.group, r.subjects, r.images) for r in composition.rows] == [
        ("f", 4, 8), ("m", 3, 6)]


def test_a_run_without_compositions_says_so_even_with_trial_counts():
    """A run (datasets described, no FTA rows to count people from) shows neither a
    composition table nor the trial-count table (kept for score logs and bare tables), so
    it must say that no composition is available."""
    from audit.report.inputs import DatasetInfo
    from audit.report.render import render_html

    run = RunInfo(run_id="run", datasets=(DatasetInfo(name="lfw"),))
    context = build_context(hand_made(), run)
    assert context.compositions == () and context.trial_counts
    html = render_html(context)
    assert "No composition by group is available." in html
    assert "as counted from the" not in html

"""compare: matching across runs, change intervals, Benjamini-Hochberg, what leads.

Run folders are written from small hand-made audits (:func:`toy_scores`) put
through :func:`audit.metrics.compute_metrics`: every subject of a group has the
same number of errors, so rates are exact fractions a reader can check.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from statsmodels.stats.multitest import multipletests
from typer.testing import CliRunner

from audit.cli import EXIT_POLICY, app
from audit.runs.compare import compare_metrics, compare_runs
from audit.runs.tested_changes import Z95
from audit.report.comparison import FDR, INFINITE
from audit.metrics import compute_metrics
from audit.report.changes import build_changes, rate_text, text_lines
from audit.runs.layout import METRICS_FILE

pytestmark = pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")
runner = CliRunner()
HIGH, LOW = 0.9, 0.1  # error and correct scores at threshold 0.5


def toy_scores(groups: dict[str, dict], *, fmr_score: float = HIGH):
    """Scores, images and FTA of a toy audit.

    ``groups`` maps a group (column ``ethnicity``) to ``subjects`` (how many),
    ``n`` (trials of each kind per subject) and, per subject, the number of
    errors of each rate at threshold 0.5: ``fpir``, ``fnir``, ``fmr``,
    ``fnmr`` (default 0) and ``fta`` (images that failed to acquire among
    ``n`` extra images, default 0). A false match scores ``fmr_score``.
    """
    rows, images, fta = [], [], []

    def image(image_id, subject, group, failed=False):
        images.append({"image_id": image_id, "subject_id": subject, "ethnicity": group})
        fta.append({"image_id": image_id, "fta": failed})

    for group, spec in groups.items():
        n, subjects = spec.get("n", 20), [f"{group}{k}" for k in range(spec["subjects"])]
        for index, subject in enumerate(subjects):
            other = subjects[(index + 1) % len(subjects)]
            image(f"{subject}/ref", subject, group)
            for k in range(n):
                common = {"fold": 0, "reference_subject": None, "reference_id": None,
                          "rank": None, "best_is_true_entry": None}
                probe = f"{subject}/nm{k}"
                image(probe, subject, group)
                rows.append({**common, "trial_kind": "identification", "probe_id": probe,
                             "probe_subject": subject, "mated": False,
                             "score": HIGH if k < spec.get("fpir", 0) else LOW})
                probe = f"{subject}/m{k}"
                image(probe, subject, group)
                rows.append({**common, "trial_kind": "identification", "probe_id": probe,
                             "probe_subject": subject, "mated": True, "rank": 1,
                             "best_is_true_entry": True,
                             "score": LOW if k < spec.get("fnir", 0) else HIGH})
                probe = f"{subject}/v{k}"
                image(probe, subject, group)
                rows.append({**common, "trial_kind": "verification", "probe_id": probe,
                             "probe_subject": subject, "mated": True,
                             "reference_id": f"{subject}/ref", "reference_subject": subject,
                             "score": LOW if k < spec.get("fnmr", 0) else HIGH})
                rows.append({**common, "trial_kind": "verification", "probe_id": probe,
                             "probe_subject": subject, "mated": False,
                             "reference_id": f"{other}/ref", "reference_subject": other,
                             "score": fmr_score if k < spec.get("fmr", 0) else LOW})
                image(f"{subject}/x{k}", subject, group, failed=k < spec.get("fta", 0))
    return pd.DataFrame(rows), pd.DataFrame(images), pd.DataFrame(fta)


def toy_metrics(groups, *, thresholds=(0.5,), target_fmr=(), fmr_score=HIGH, **options):
    scores, images, fta = toy_scores(groups, fmr_score=fmr_score)
    settings = {"groupings": ("ethnicity",), "min_subjects": 5, "min_trials": 50,
                "sweep": (0.3, 0.7)}
    settings.update(options)
    return compute_metrics(scores, images, fta, thresholds=thresholds, target_fmr=target_fmr,
                           **settings)


def write_run(folder, metrics, *, run_id, deployment=(0.5,), policy=None):
    """A run folder as ``lfr-audit run`` leaves it, as far as ``compare`` reads it."""
    folder.mkdir(parents=True)
    pq.write_table(metrics, folder / METRICS_FILE)
    spec = {"name": "toy", "seed": 1, "thresholds": {"deployment": list(deployment)},
            "groupings": {"sensitive": ["ethnicity"], "conditions": []}}
    provenance = {"run_id": run_id, "created_utc": "2024-06-01T10:00:00+00:00", "spec": spec,
                  "dataset": {"name": "toy", "fingerprint": "sha256:abc"},
                  "versions": {"lfr-audit": "0.1.0"}, "weights": {"model.dat": "sha256:1"}}
    (folder / "provenance.json").write_text(json.dumps(provenance))
    (folder / "policy.json").write_text(json.dumps(policy or {"limits": {}, "passed": True,
                                                              "violations": []}))
    return folder


#: Run A: FPIR a 30%, b 15%, c 5% (extreme pair a/c); run B: a 10%, b 40%, c 20% (extreme
#: pair b/a: the higher group of a/b flips, and of a/c too). Groups a-c have 20 subjects,
#: d 2 in A (insufficient) and 10 in B. FNIR, FMR, FNMR, FTA change little.
BEFORE = {"a": {"subjects": 20, "fpir": 6, "fnir": 2, "fmr": 1, "fnmr": 1, "fta": 1},
          "b": {"subjects": 20, "fpir": 3, "fnir": 2, "fmr": 1, "fnmr": 1, "fta": 1},
          "c": {"subjects": 20, "fpir": 1, "fnir": 2, "fmr": 1, "fnmr": 1, "fta": 1},
          "d": {"subjects": 2, "fpir": 5, "fnir": 2, "fmr": 1, "fnmr": 1, "fta": 1}}
AFTER = {"a": {"subjects": 20, "fpir": 2, "fnir": 2, "fmr": 1, "fnmr": 1, "fta": 1},
         "b": {"subjects": 20, "fpir": 8, "fnir": 3, "fmr": 1, "fnmr": 1, "fta": 1},
         "c": {"subjects": 20, "fpir": 4, "fnir": 2, "fmr": 1, "fnmr": 2, "fta": 1},
         "d": {"subjects": 10, "fpir": 5, "fnir": 2, "fmr": 1, "fnmr": 1, "fta": 1}}


@pytest.fixture(scope="module")
def tables():
    before = toy_metrics(BEFORE, target_fmr=(0.1,))
    after = toy_metrics(AFTER, thresholds=(0.5, 0.65), target_fmr=(0.1,), fmr_score=0.8)
    return before, after


@pytest.fixture(scope="module")
def runs(tables, tmp_path_factory):
    base = tmp_path_factory.mktemp("compare")
    before = write_run(base / "r1", tables[0], run_id="r1")
    after = write_run(base / "r2", tables[1], run_id="r2", deployment=(0.5, 0.65))
    return before, after


@pytest.fixture(scope="module")
def comparison(runs):
    return compare_runs(*runs)


def _rows(table, **where):
    frame = table.to_pandas()
    for column, value in where.items():
        frame = frame[frame[column] == value]
    return frame


def _pair(comparison, metric, groups, kind="deployment"):
    (found,) = [c for c in comparison.pairs if c.metric == metric and c.point.kind == kind
                and {c.group, c.group_b} == set(groups) and c.point.matched]
    return found


def test_flipped_pair_is_matched_and_shown_in_the_before_orientation(tables, comparison):
    a_b = _pair(comparison, "fpir", "ab")
    assert (a_b.group, a_b.group_b) == ("a", "b") and a_b.flipped
    assert (a_b.before.higher, a_b.after.higher) == ("a", "b")
    recorded = _rows(tables[1], metric="fpir", statistic="ratio", grouping="ethnicity",
                     operating_point="deployment", group="b", group_b="a").iloc[0]
    assert recorded["value"] == pytest.approx(0.4 / 0.1)
    assert a_b.before.ratio == pytest.approx(0.3 / 0.15)
    assert a_b.after.ratio == pytest.approx(1 / recorded["value"])
    assert (a_b.after.ratio_low, a_b.after.ratio_high) == (
        pytest.approx(1 / recorded["ci_high"]), pytest.approx(1 / recorded["ci_low"]))
    difference = _rows(tables[1], metric="fpir", statistic="difference", group="b", group_b="a",
                       operating_point="deployment").iloc[0]
    assert (a_b.after.difference, a_b.after.difference_low, a_b.after.difference_high) == (
        pytest.approx(-difference["value"]), pytest.approx(-difference["ci_high"]),
        pytest.approx(-difference["ci_low"]))
    # The change is the factor after / before, on the log scale.
    assert a_b.change == pytest.approx(a_b.after.ratio / a_b.before.ratio)
    assert a_b.low < a_b.change < a_b.high and a_b.significant


def test_both_extreme_pairs_lead_when_the_extreme_pair_changes(comparison):
    fpir = [(c.group, c.group_b) for c in comparison.lead_pairs
            if c.metric == "fpir" and c.point.kind == "deployment"]
    assert fpir == [("a", "b"), ("a", "c")]  # extreme in B (b/a), extreme in A (a/c)
    a_c = _pair(comparison, "fpir", "ac")
    assert a_c.flipped and a_c.after.higher == "c" and a_c.after.ratio == pytest.approx(0.5)


def test_pair_in_one_run_only_says_why(comparison):
    (a_d,) = [c for c in comparison.pairs
              if c.metric == "fpir" and {c.group, c.group_b} == {"a", "d"}
              and c.point.kind == "deployment" and c.point.threshold_after == 0.5]
    assert a_d.before is None and a_d.after is not None and not a_d.tested
    assert a_d.reason == "not compared in the before run: d insufficient"


def test_rate_change_interval_and_p_from_the_two_runs_intervals(tables, comparison):
    (fpir,) = [c for c in comparison.headline if c.metric == "fpir" and c.point.kind == "deployment"
               and c.point.matched]
    a = _rows(tables[0], metric="fpir", grouping="overall", operating_point="deployment").iloc[0]
    b = _rows(tables[1], metric="fpir", grouping="overall", operating_point="deployment",
              threshold=0.5).iloc[0]
    # (120 + 60 + 20 + 10) / 1240 false alerts, then (40 + 160 + 80 + 50) / 1400
    assert (fpir.before.value, fpir.after.value) == (210 / 1240, 330 / 1400)
    d = b["value"] - a["value"]
    below = math.hypot(b["value"] - b["ci_low"], a["ci_high"] - a["value"])  # facing sides
    above = math.hypot(b["ci_high"] - b["value"], a["value"] - a["ci_low"])
    assert fpir.change == pytest.approx(d)
    assert (fpir.low, fpir.high) == (pytest.approx(d - below), pytest.approx(d + above))
    z = d / (below / Z95)
    assert fpir.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert (fpir.p_value < 0.05) == (fpir.low > 0)


def test_benjamini_hochberg_over_the_whole_family_equals_statsmodels(comparison):
    tested = [c for c in comparison.rates + comparison.pairs if c.tested]
    assert len(tested) == comparison.n_tested > 50
    expected = multipletests([c.p_value for c in tested], method="fdr_bh")[1]
    np.testing.assert_allclose([c.p_adjusted for c in tested], expected)
    assert comparison.n_significant == sum(q < FDR for q in expected)
    assert all(c.significant == (c.p_adjusted < FDR) for c in tested)
    untested = [c for c in comparison.rates + comparison.pairs if not c.tested]
    assert all(c.p_adjusted is None and not c.significant and c.reason for c in untested)


def test_insufficient_groups_and_unbounded_ratios_are_not_tested():
    before = toy_metrics({"a": {"subjects": 6, "fpir": 4}, "b": {"subjects": 6, "fpir": 0}})
    after = toy_metrics({"a": {"subjects": 6, "fpir": 5}, "b": {"subjects": 6, "fpir": 0}})
    compared = compare_metrics(before.to_pandas(), after.to_pandas())
    a_b = _pair(compared, "fpir", "ab")
    assert math.isinf(a_b.before.ratio) and a_b.before.at_least and a_b.reason == INFINITE
    assert not a_b.tested and compared.n_unbounded >= 1
    lines = text_lines(build_changes(compared))
    assert any("FPIR a / b (ethnicity): at least" in line and INFINITE in line for line in lines)


def test_calibrated_point_matched_by_target_while_its_threshold_changed(comparison):
    (point,) = [p for p in comparison.points if p.kind == "target_fmr"]
    assert point.matched and point.target == 0.1
    assert (point.threshold_before, point.threshold_after) == (HIGH, 0.8)
    (fmr,) = [c for c in comparison.headline if c.point is point and c.metric == "fmr"]
    assert fmr.tested and fmr.before.value == pytest.approx(0.05)


def test_fixed_point_matched_by_threshold_value(comparison):
    deployment = [p for p in comparison.points if p.kind == "deployment"]
    assert [(p.threshold_before, p.threshold_after) for p in deployment] == [
        (0.5, 0.5), (None, 0.65)]
    new = [c for c in comparison.headline if c.point is deployment[1]]
    assert [c.metric for c in new] == ["fpir", "fnir", "fmr", "fnmr"]
    assert all(c.before is None and c.reason == "operating point not in the before run"
               for c in new)
    assert not any(c.point is deployment[1] for c in comparison.lead_pairs)


def test_sweep_rows_are_never_compared(tables, comparison):
    assert (tables[0].to_pandas()["point_kind"] == "sweep").any()
    assert all(p.kind != "sweep" for p in comparison.points)
    compared = compare_metrics(tables[0].to_pandas(), tables[1].to_pandas())
    assert all(p.kind != "sweep" for p in compared.points)
    assert compared.n_tested == comparison.n_tested


def test_others_are_the_remaining_significant_changes_by_adjusted_p(comparison):
    others = comparison.others
    shown = {id(c) for c in comparison.headline + comparison.lead_pairs}
    assert all(c.significant and id(c) not in shown for c in others)
    assert len(others) == comparison.n_significant - sum(
        c.significant for c in comparison.headline + comparison.lead_pairs)
    size = [abs(math.log(c.change)) if c.kind == "pair" else abs(c.change) for c in others]
    keys = [(c.p_adjusted, -s) for c, s in zip(others, size)]
    assert keys == sorted(keys)


@pytest.mark.parametrize(("rate", "text"), [(0.46, "46.0%"), (0.6812, "68.1%"),
                                            (0.00184, "0.184%"), (0.001, "0.100%"),
                                            (0.0, "0%"), (None, "—")])
def test_rate_format_keeps_three_significant_digits(rate, text):
    assert rate_text(rate) == text


def test_to_json_is_strict_json(comparison):
    data = json.loads(json.dumps(comparison.to_json(), allow_nan=False))
    assert data["testing"]["correction"] == "Benjamini-Hochberg"
    assert data["testing"]["n_tested"] == comparison.n_tested
    assert data["headline"][0]["metric"] == "fpir" and data["headline"][0]["point"] == "deployment"
    flipped = [p for p in data["pair_changes"] if p["flipped"]]
    assert flipped and all(p["after"]["higher"] != p["group"] for p in flipped)


def test_cli_leads_with_the_headline_and_states_the_correction(runs, tmp_path):
    before, after = runs
    result = runner.invoke(app, ["compare", str(before), str(after), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = result.output
    order = [out.index(s) for s in ("Headline:", "Fixed pairs", "Other significant changes",
                                    "Multiple testing:", "changed thresholds.deployment")]
    assert order == sorted(order)
    headline = out[out.index("Headline:"):out.index("Fixed pairs")]
    first = headline.splitlines()[1:3]
    assert first == ["  deployment, threshold 0.50", first[1]]
    assert re.match(r"    FPIR: 16\.9% -> 23\.6%, \+6\.64 points \(95% CI \+[\d.]+ to \+[\d.]+\); "
                    r"significant \(adjusted p [<= ]+[\d.]+\)$", first[1]), first[1]
    assert "  target_fmr=0.1, threshold 0.90 -> 0.80" in headline
    assert "  deployment, threshold 0.65 (after run only)" in headline
    assert "    FPIR a / b (ethnicity): 2.00 (" in out and "[b now higher]" in out
    assert re.search(r"Multiple testing: \d+ changes tested .*Benjamini-Hochberg, false "
                     r"discovery rate 5%", out)
    assert "changed thresholds.deployment: [0.5] -> [0.5, 0.65]" in out
    assert (tmp_path / "compare.json").is_file() and (tmp_path / "changes.html").is_file()


def test_cli_exit_code_3_when_the_later_run_breaks_a_limit(tables, tmp_path):
    broken = {"limits": {"max_fpir": 0.1}, "passed": False,
              "violations": [{"limit": "max_fpir", "allowed": 0.1, "observed": 0.233,
                              "where": "overall at 0.5", "sentence": "max_fpir broken"}]}
    before = write_run(tmp_path / "r1", tables[0], run_id="r1")
    after = write_run(tmp_path / "r2", tables[1], run_id="r2", policy=broken)
    result = runner.invoke(app, ["compare", str(before), str(after)])
    assert result.exit_code == EXIT_POLICY and "Headline:" in result.output


def test_changes_report_in_the_same_order(runs, tmp_path):
    from audit.runs.report import render_changes

    written = render_changes(compare_runs(*runs), tmp_path, formats=("html",))
    html = written["html"].read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    order = [text.index(s) for s in ("Overall error rates at each operating point",
                                     "Ratio between two named groups", "Other significant changes",
                                     "What changed in the set-up")]
    assert order == sorted(order)
    assert "16.9% 23.6% +6.64 points" in text and "Benjamini-Hochberg" in text
    assert "(b now higher)" in text and "target_fmr=0.1, threshold 0.90 → 0.80" in text


def test_a_runs_tables_are_compared_as_their_run_folders(tables, tmp_path):
    """Pointed at two runs' metrics.parquet, compare judged them as score-log tables with no
    record: the later run's broken policy was ignored and it exited 0."""
    broken = {"limits": {"max_fpir": 0.1}, "passed": False,
              "violations": [{"limit": "max_fpir", "allowed": 0.1, "observed": 0.233,
                              "where": "overall at 0.5", "sentence": "max_fpir broken"}]}
    before = write_run(tmp_path / "r1", tables[0], run_id="r1")
    after = write_run(tmp_path / "r2", tables[1], run_id="r2", policy=broken)
    result = runner.invoke(app, ["compare", str(before / METRICS_FILE),
                                 str(after / METRICS_FILE)])
    assert result.exit_code == EXIT_POLICY, result.output
    assert f"is a run's table: comparing its run folder {after}" in " ".join(
        result.output.split())

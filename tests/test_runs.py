"""Audit runs end to end on a small real LFW subset: run folders, reuse, compare, gates.

One real run embeds the subset (the faces cache is shared by the module), the
others change only thresholds, policy or report options and must not touch
deepface.
"""

from __future__ import annotations

import html
import json
import re
import sys

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from audit.runs import workflow
from audit.cli import EXIT_POLICY, EXIT_POLICY_NOT_EVALUATED, EXIT_USAGE, app
from audit.runs.layout import list_runs

pytestmark = pytest.mark.integration

SPEC = """
name = "test audit"
seed = 7
data_dir = "{data_dir}"

[dataset]
name = "lfw"
subjects = 40
min_images = 3

[pipeline]
workers = 1

[matching]
mated_per_subject = 3
nonmated_per_cell = 2000

[watchlist]
size = 20
draws = 2

[thresholds]
deployment = [{threshold}]
deepface_default = false
target_fmr = [0.01]
target_fpir = [0.05]

[groupings]
sensitive = ["gender"]
conditions = ["face_height_band"]

[statistics]
min_subjects = 5
min_trials = 20

[projection]
watchlist = 20

[report]
formats = {formats}

[policy]
{policy}
"""

runner = CliRunner()


def write_spec(folder, data_dir, *, threshold=0.93, formats='["html"]', policy=""):
    path = folder / f"spec-{threshold}-{len(policy)}-{len(formats)}.toml"
    path.write_text(SPEC.format(data_dir=data_dir, threshold=threshold, formats=formats,
                                policy=policy))
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory, data_dir):
    """Isolated weights, cache and runs folders, shared by this module's runs."""
    base = tmp_path_factory.mktemp("runs-env")
    mp = pytest.MonkeyPatch()
    mp.setenv("DEEPFACE_HOME", str(base / "home"))
    mp.setenv("LFR_AUDIT_CACHE", str(base / "cache"))
    mp.setenv("LFR_AUDIT_RUNS", str(base / "runs"))
    mp.setenv("COLUMNS", "200")
    yield base, data_dir
    mp.undo()


@pytest.fixture(scope="module")
def first_run(env):
    base, data_dir = env
    spec = write_spec(base, data_dir, formats='["html", "pdf"]')
    result = runner.invoke(app, ["run", str(spec)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "policy: no policy"
    (folder,) = list_runs(base / "runs")
    return folder


def test_run_folder_holds_spec_provenance_tables_and_report(first_run):
    for name in ("spec.toml", "provenance.json", "summary.json", "policy.json", "notes.json",
                 "manifest.parquet", "faces.parquet", "scores.parquet", "metrics.parquet",
                 "report.html", "report.pdf", "short-report.html", "short-report.pdf"):
        assert (first_run / name).is_file(), name
    provenance = json.loads((first_run / "provenance.json").read_text())
    assert provenance["seed"] == 7 and provenance["dataset"]["fingerprint"].startswith("sha256:")
    assert provenance["weights"]["dlib_face_recognition_resnet_model_v1.dat"].startswith("sha256:")
    assert set(provenance["timings_s"]) >= {"dataset", "faces", "scores", "metrics", "report"}
    assert "user" not in json.dumps(provenance["host"]).lower()
    metrics = pq.read_table(first_run / "metrics.parquet").to_pandas()
    assert {"fmr", "fnmr", "fpir", "fnir", "fta"} <= set(metrics.metric)
    assert not list(first_run.parent.glob(".partial-*"))


def test_report_says_why_a_group_too_small_for_a_rate_can_have_a_size_curve(first_run):
    """The summary's "too few ... were measured" names its counts, and the watchlist-size
    section, which counts everyone, says its counts differ from the drawn watchlists'."""
    said = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ",
                                                     (first_run / "report.html").read_text())))
    assert "False alerts against watchlist size" in said
    assert ("not only the watchlists drawn for the rates stated elsewhere in this report, so "
            "their counts, and which groups have enough data, can differ") in said
    for note in re.findall(r"too few [^.]* were measured to state or compare their rate[^.]*\.",
                           said):
        assert "; a rate is stated from 5 people and 20 " in note, note


def test_threshold_only_rerun_reuses_scores_and_never_loads_deepface(env, first_run,
                                                                      monkeypatch):
    base, data_dir = env

    def no_deepface(*args, **kwargs):
        raise AssertionError("a threshold-only re-run called the pipeline")

    monkeypatch.setattr(workflow, "embed", no_deepface)
    monkeypatch.setattr(workflow, "match", no_deepface)
    loaded = set(sys.modules)
    outcome = workflow.run_audit(write_spec(base, data_dir, threshold=0.95),
                                 runs_dir=base / "runs", data_dir=None, cache_dir=base / "cache")
    assert outcome.reused == ["faces", "scores"]
    assert not {m for m in set(sys.modules) - loaded if m.startswith("deepface")}


def test_compare_matches_fixed_thresholds_by_value_and_reports_changes(env, first_run):
    """Run B adds a second deployment threshold and halves the mated-pair cap.

    Rows at 0.93 are compared with rows at 0.93 (the known change: other mated
    pairs); the new 0.99 rows have nothing before them and are not a 'change'.
    """
    base, data_dir = env
    spec = write_spec(base, data_dir, threshold="0.93, 0.99").read_text().replace(
        "mated_per_subject = 3", "mated_per_subject = 1")
    path = base / "spec-b.toml"
    path.write_text(spec)
    result = runner.invoke(app, ["run", str(path), "--previous", str(first_run)])
    assert result.exit_code == 0, result.output
    later = list_runs(base / "runs")[-1]
    assert "Changes since the previous run" in (later / "report.html").read_text()
    result = runner.invoke(app, ["compare", str(first_run), str(later)])
    assert result.exit_code == 0, result.output
    assert "changed thresholds.deployment" in result.output
    assert "changed matching.mated_per_subject: 3 -> 1" in result.output
    assert result.output.index("Headline:") < result.output.index("changed thresholds")
    assert "Benjamini-Hochberg, false discovery rate 5%" in result.output
    assert f"changes report: {later / 'changes.html'}" in " ".join(result.output.split())
    diff = json.loads((later / "compare.json").read_text())
    rows = {(c["metric"], c["grouping"], c["threshold_after"]): c for c in diff["rate_changes"]
            if c["point_kind"] == "deployment"}
    same = rows[("fnmr", "overall", 0.93)]
    after = pq.read_table(later / "metrics.parquet").to_pandas()
    value = after.query("metric == 'fnmr' and grouping == 'overall' and threshold == 0.93 "
                        "and statistic == 'rate'")
    assert same["after"]["value"] == pytest.approx(value["value"].iloc[0])
    assert same["change"] == pytest.approx(same["after"]["value"] - same["before"]["value"])
    new = rows[("fnmr", "overall", 0.99)]
    assert new["before"] is None and not new["significant"]
    assert new["reason"] == "operating point not in the before run"
    assert (later / "changes.html").is_file()


def test_broken_policy_limit_exits_with_its_own_code(env, first_run):
    base, data_dir = env
    spec = write_spec(base, data_dir, policy="max_fnmr = 0.0001\nmax_fta = 0.5")
    result = runner.invoke(app, ["run", str(spec)])
    assert result.exit_code == EXIT_POLICY
    assert "max_fnmr = 0.0001 broken" in result.output and "max_fta" not in result.output
    record = json.loads((list_runs(base / "runs")[-1] / "policy.json").read_text())
    assert record["state"] == "broken"
    result = runner.invoke(app, ["runs", "list"])
    assert result.exit_code == 0 and "broken" in result.output and "no policy" in result.output


def test_limit_that_cannot_be_evaluated_exits_with_its_own_code_unless_skipped(env, first_run):
    """No group (nor overall) reaches 1000 subjects: max_fnir cannot be judged."""
    base, data_dir = env
    text = write_spec(base, data_dir, policy="max_fnir = 0.5").read_text().replace(
        "min_subjects = 5", "min_subjects = 1000")
    for skip, code, last in ((False, EXIT_POLICY_NOT_EVALUATED, "policy: not evaluated"),
                             (True, EXIT_POLICY_NOT_EVALUATED, "policy: not evaluated")):
        path = base / f"unevaluable-{skip}.toml"
        path.write_text(text + f"skip_unevaluable = {str(skip).lower()}\n")
        result = runner.invoke(app, ["run", str(path)])
        assert result.exit_code == code, result.output
        assert "max_fnir = 0.5 not evaluated (estimate): FNIR overall" in result.output
        assert result.output.strip().splitlines()[-1].startswith(last)
    result = runner.invoke(app, ["runs", "list"])
    assert "not evaluated" in result.output


def test_bad_spec_is_a_usage_error(env, tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text('[dataset]\nname = "lfw"\n[policy]\nmax_fpir_ration = 2\n')
    result = runner.invoke(app, ["run", str(spec)])
    assert result.exit_code == EXIT_USAGE
    assert "unknown key 'policy.max_fpir_ration'" in result.output


def test_interrupted_run_leaves_no_finished_looking_folder(env, first_run, monkeypatch):
    base, data_dir = env
    before = list_runs(base / "runs")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(workflow, "_report", crash)
    with pytest.raises(KeyboardInterrupt):
        workflow.run_audit(write_spec(base, data_dir, threshold=0.9),
                           runs_dir=base / "runs", data_dir=None, cache_dir=base / "cache")
    assert list_runs(base / "runs") == before
    assert not list((base / "runs").glob(".partial-*"))


def test_report_command_renders_one_format_from_a_run_or_a_metrics_table(first_run, tmp_path):
    import shutil

    shutil.copy(first_run / "metrics.parquet", tmp_path / "metrics.parquet")
    result = runner.invoke(app, ["report", str(tmp_path / "metrics.parquet"), "--format", "html"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").is_file() and not (tmp_path / "report.pdf").exists()
    assert (tmp_path / "short-report.html").is_file() and not (tmp_path / "short-report.pdf").exists()
    assert f"short report: {tmp_path / 'short-report.html'}" in result.output
    assert "<script" not in (tmp_path / "report.html").read_text().lower()
    result = runner.invoke(app, ["report", str(first_run), "--out", str(tmp_path / "x")])
    assert result.exit_code == EXIT_USAGE and "drop --out" in result.output


def test_watchlist_larger_than_the_data_is_refused_before_embedding(env, tmp_path, monkeypatch):
    base, data_dir = env
    spec = write_spec(tmp_path, data_dir).read_text().replace("size = 20", "size = 40")
    path = tmp_path / "big-watchlist.toml"
    path.write_text(spec)

    def no_embedding(*args, **kwargs):
        raise AssertionError("embedded before checking the watchlist size")

    monkeypatch.setattr(workflow, "embed", no_embedding)
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == EXIT_USAGE
    assert "[watchlist] size = 40" in result.output and "Traceback" not in result.output


def _measured_at(run_folder, folder, confidence):
    """A copy of a run folder whose spec says it was measured at ``confidence``."""
    import shutil

    shutil.copytree(run_folder, folder)
    provenance = json.loads((folder / "provenance.json").read_text())
    provenance["spec"].setdefault("statistics", {})["confidence"] = confidence
    (folder / "provenance.json").write_text(json.dumps(provenance))
    return folder


@pytest.mark.parametrize("case", ["no run", "other level", "this spec's level"])
def test_a_previous_run_that_cannot_be_compared_is_refused_before_embedding(
        env, first_run, tmp_path, monkeypatch, case):
    """Found only at the report, the run's work would be done and its folder discarded."""
    base, data_dir = env
    spec = write_spec(tmp_path, data_dir)
    previous = tmp_path / "absent"
    if case == "other level":
        previous = _measured_at(first_run, tmp_path / "at-90", 0.9)
    if case == "this spec's level":
        previous = first_run
        spec.write_text(spec.read_text().replace("[statistics]", "[statistics]\nconfidence = 0.9"))

    def no_embedding(*args, **kwargs):
        raise AssertionError("embedded before checking --previous")

    monkeypatch.setattr(workflow, "embed", no_embedding)
    result = runner.invoke(app, ["run", str(spec), "--previous", str(previous)])
    assert result.exit_code == EXIT_USAGE, result.output
    said = " ".join(result.output.split())
    assert "Traceback" not in said and {
        "no run": "is not a finished lfr-audit run folder",
        "other level": "was measured at confidence 0.9",
        "this spec's level": "this spec's [statistics] confidence is 0.9",
    }[case] in said


def test_runs_measured_at_another_level_are_not_compared(first_run, tmp_path):
    """The changes' tests read both runs' intervals as 95% ones."""
    other = _measured_at(first_run, tmp_path / "at-99", 0.99)
    result = runner.invoke(app, ["compare", str(first_run), str(other),
                                 "--out", str(tmp_path / "cmp")])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "was measured at confidence 0.99" in " ".join(result.output.split())

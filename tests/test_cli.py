"""The command line as a user meets it: exit codes, one-line errors, no heavy imports."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow.parquet as pq
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli import EXIT_USAGE, app

runner = CliRunner()


def test_help_does_not_import_deepface_or_tensorflow():
    code = ("import sys; from typer.testing import CliRunner; from audit.cli import app;"
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output;"
            "bad = [m for m in ('deepface', 'tensorflow') if m in sys.modules];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_models_list_names_every_model_and_the_weights_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0
    for name in ("Dlib", "ArcFace", "Facenet512", "retinaface", "mtcnn", "opencv"):
        assert name in result.output
    assert str(tmp_path / ".deepface" / "weights") in result.output


def test_model_without_weights_fails_before_any_other_work(tmp_path):
    """The weights check comes first: the dataset root does not even exist here.

    (The time limit itself, 5 s, is a property of `require`, which only checks
    that files exist; tests/test_weights.py times it in-process.)
    """
    env = {**os.environ, "DEEPFACE_HOME": str(tmp_path), "COLUMNS": "300"}
    done = subprocess.run(
        [sys.executable, "-m", "audit", "embed", "lfw", "--root", str(tmp_path / "no-lfw"),
         "--model", "ArcFace", "--out", str(tmp_path / "faces.parquet")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == EXIT_USAGE
    assert "arcface_weights.h5" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "faces.parquet").exists()


def test_user_mistakes_are_one_line_errors(tmp_path):
    result = runner.invoke(app, ["embed", "lfw", "--out", str(tmp_path / "x.parquet")],
                           env={"LFR_AUDIT_DATA": ""})
    assert result.exit_code == EXIT_USAGE
    assert "--data-dir" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["embed", str(tmp_path / "nope.csv"), "--root", str(tmp_path),
                                 "--out", str(tmp_path / "x.parquet")])
    assert result.exit_code == EXIT_USAGE


def test_datasets_info_reports_label_quirks(lfw_root, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    result = runner.invoke(app, ["datasets", "info", "lfw", "--root", str(lfw_root)])
    assert result.exit_code == 0, result.output
    assert "13233 images of 5749 subjects" in result.output
    assert "'conflicting': 5" in result.output and "'missing': 4" in result.output


@pytest.mark.integration
def test_embed_a_custom_manifest(tmp_path, lfw_root, monkeypatch):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path / "home"))
    people = ["Aaron_Peirsol", "Abdullah_Gul"]
    lines = ["path,subject_id,gender"] + [
        f"images/{p}/{p}_000{i}.jpg,{p},male" for p in people for i in (1, 2)]
    manifest = tmp_path / "mine.csv"
    manifest.write_text("\n".join(lines) + "\n")
    out = tmp_path / "faces.parquet"
    result = runner.invoke(app, ["embed", str(manifest), "--root", str(lfw_root), "--out",
                                 str(out), "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    faces = pq.read_table(out).to_pandas()
    assert len(faces) == 4 and set(faces.status) == {"ok"}


def _people(tmp_path, n: int):
    """A per-subject attribute file: s0..s{n-1}, alternately male and female."""
    people = tmp_path / "people.csv"
    people.write_text("subject_id,gender\n" + "\n".join(
        f"s{i},{'female' if i % 2 else 'male'}" for i in range(n)) + "\n")
    return people


def test_metrics_from_vendor_score_logs(tmp_path):
    """A score export goes straight to the metrics stage; bad rows are numbered."""
    import json

    rows = ["trial_kind,probe_id,probe_subject,reference_id,reference_subject,score,mated"]
    for i in range(40):
        rows.append(f"verification,p{i}a,s{i},p{i}b,s{i},{0.9 if i % 10 else 0.4},true")
        rows.append(f"verification,p{i}a,s{i},p{(i + 1) % 40}b,s{(i + 1) % 40},"
                    f"{0.7 if i % 20 == 0 else 0.2},false")
    trials = tmp_path / "trials.csv"
    trials.write_text("\n".join(rows) + "\n")
    people = _people(tmp_path, 40)
    out = tmp_path / "m.parquet"
    result = runner.invoke(app, ["metrics", str(trials), "--attributes", str(people),
                                 "--threshold", "0.5", "--grouping", "gender",
                                 "--interval", "wilson-clustered", "--min-subjects", "5",
                                 "--min-trials", "10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pq.read_table(out).to_pandas().set_index(["metric", "grouping", "group"])
    assert frame.loc[("fmr", "overall", "all"), "n_errors"] == 2
    assert frame.loc[("fnmr", "overall", "all"), "value"] == pytest.approx(4 / 40)
    assert json.loads(out.with_suffix(".json").read_text())["operating_points"]
    csv = pd.read_csv(out.with_suffix(".csv"))
    assert csv.set_index(["metric", "grouping", "group"]).loc[
        ("fnmr", "overall", "all"), "n_errors"] == 4
    assert "Overall rates" in result.output and "Largest fixed-pair ratios" in result.output
    fnmr = next(line for line in result.output.splitlines() if line.startswith("│ fnmr "))
    assert "│ 10%" in fnmr and "│ 40 " in fnmr
    as_json = runner.invoke(app, ["metrics", str(trials), "--attributes", str(people),
                                  "--threshold", "0.5", "--min-subjects", "5", "--json",
                                  "--out", str(out)])
    assert json.loads(as_json.stdout)["overall"][0]["metric"] == "fmr"

    trials.write_text(rows[0] + "\nverification,p1,s1,p2,s2,high,false\n")
    result = runner.invoke(app, ["metrics", str(trials), "--attributes", str(people),
                                 "--threshold", "0.5", "--out", str(out)])
    assert result.exit_code == EXIT_USAGE and "row 1: score 'high' is not a number" in (
        result.output)
    result = runner.invoke(app, ["metrics", str(trials), "--attributes", str(people)])
    assert result.exit_code == EXIT_USAGE and "no operating point" in result.output
    trials.write_text("\n".join(rows) + "\n")
    result = runner.invoke(app, ["metrics", str(trials), "--attributes", str(people),
                                 "--threshold", "0.5", "--grouping", "gender x age"])
    assert result.exit_code == EXIT_USAGE
    assert ("people.csv: no label column 'age' for --grouping 'gender x age'; its label "
            "columns are gender") in " ".join(result.output.split())


def test_init_states_the_policy_default_and_one_line_per_mode(tmp_path):
    path = tmp_path / "audit.toml"
    result = runner.invoke(app, ["init", str(path)])
    assert result.exit_code == 0, result.output
    lines = path.read_text().splitlines()
    assert [line.split("#")[0].strip() for line in lines
            if line.startswith(("evaluate", "skip_unevaluable"))] == [
        'evaluate = "estimate"', "skip_unevaluable = false"]
    for mode in ("estimate", "evidence", "precaution"):
        assert sum(f"# {mode}: " in line for line in lines) == 1, mode


@pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")
def test_metrics_projects_a_score_log_as_the_run_path_does(tmp_path):
    """The log's projection rows equal project_deployment on the same metrics table."""
    from audit.metrics import compute_metrics, project_deployment
    from audit.metrics.score_logs import read_score_logs

    rng = np.random.default_rng(3)
    lines = ["trial_kind,probe_id,probe_subject,score,mated,best_is_true_entry"]
    for i in range(400):
        mated = i % 2 == 0
        lines.append(f"identification,c{i},s{i % 80},{rng.random():.4f},"
                     f"{str(mated).lower()},{'true' if mated and i % 6 else ('false' if mated else '')}")
    log = tmp_path / "searches.csv"
    log.write_text("\n".join(lines) + "\n")
    people = _people(tmp_path, 80)
    out = tmp_path / "m.parquet"
    options = ["--threshold", "0.7", "--grouping", "gender", "--min-subjects", "5"]
    result = runner.invoke(app, ["metrics", str(log), "--attributes", str(people), *options,
                                 "--crowd", "50000", "--audit-watchlist", "80",
                                 "--share-on-watchlist", "0.001", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Deployment projection" in result.output
    written = pq.read_table(out).to_pandas()
    projected = written[written["statistic"] == "projection"].reset_index(drop=True)
    logs = read_score_logs(log, people)
    rates = compute_metrics(logs.scores, logs.images, thresholds=(0.7,), groupings=("gender",),
                            min_subjects=5)
    expected = project_deployment(rates, crowd_size=50000, watchlist_share=0.001,
                                  watchlist_size=80, audit_watchlist_size=80).to_pandas()
    pd.testing.assert_frame_equal(projected, expected, check_dtype=False)
    missing = runner.invoke(app, ["metrics", str(log), "--attributes", str(people), *options,
                                  "--crowd", "50000"])
    assert missing.exit_code == EXIT_USAGE and "--audit-watchlist" in missing.output


def test_metrics_kfold_accuracy_from_a_pairs_score_file_equals_lfw_accuracy(tmp_path):
    """A pairs score file with folds gives lfw_accuracy's table, and needs a fold."""
    from audit.metrics.lfw_accuracy import format_lfw_accuracy, lfw_accuracy

    rng = np.random.default_rng(5)
    lines = ["trial_kind,probe_id,probe_subject,reference_id,reference_subject,score,mated,fold"]
    for i in range(200):
        mated = i % 2 == 0
        a, b = f"s{i % 20}", f"s{i % 20}" if mated else f"s{(i + 7) % 20}"
        score = "" if i % 37 == 0 else f"{rng.normal(0.7 if mated else 0.4, 0.12):.4f}"
        lines.append(f"verification,{a}_{i}a,{a},{b}_{i}b,{b},{score},{str(mated).lower()},"
                     f"{i % 4}")
    log = tmp_path / "pairs.csv"
    log.write_text("\n".join(lines) + "\n")
    people = _people(tmp_path, 20)
    result = runner.invoke(app, ["metrics", str(log), "--attributes", str(people),
                                 "--kfold", "gender", "--out", str(tmp_path / "m.parquet")])
    assert result.exit_code == 0, result.output
    from audit.metrics.score_logs import read_score_logs

    logs = read_score_logs(log, people)
    manifest = logs.images.assign(path="", dataset="score-log")
    expected = format_lfw_accuracy(lfw_accuracy(logs.scores, manifest, group_column="gender"))
    assert expected in result.output
    log.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    result = runner.invoke(app, ["metrics", str(log), "--attributes", str(people),
                                 "--kfold", "gender"])
    assert result.exit_code == EXIT_USAGE and "--kfold:" in result.output

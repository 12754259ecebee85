"""``lfr-audit metrics`` on a score log as a new user met it (issue 14): whole error lines in
a pipe, unlabelled trials told apart from small groups, a line when no disparity was asked
for, thresholds without float noise, the JSON's verdicts, the record's checksums and columns."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli import EXIT_USAGE, app

runner = CliRunner()
pytestmark = pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")
COLUMNS = {"trial_kind": "mode", "probe_id": "img_a", "probe_subject": "person_a",
           "reference_id": "img_b", "reference_subject": "person_b", "score": "similarity",
           "mated": "genuine", "image_id": "photo", "subject_id": "person"}


def _files(tmp_path, n_people: int = 200, blank=(), seed: int = 5):
    """A mated and a non-mated 1:1 pair per person (its first image against the next one's
    second), per-image labels (``blank``: no sex),
    and a [columns] file mapping the format onto the user's names."""
    rng = np.random.default_rng(seed)
    rows = ["mode,img_a,person_a,img_b,person_b,similarity,genuine"]
    for i in range(n_people):
        j = (i + 1) % n_people
        rows.append(f"verification,P{i}-0,P{i},P{i}-1,P{i},{rng.uniform(0.4, 1):.4f},yes")
        rows.append(f"verification,P{i}-0,P{i},P{j}-1,P{j},{rng.uniform(0, 0.6):.4f},no")
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    pd.DataFrame([{"photo": f"P{i}-{k}", "person": f"P{i}",
                   "sex": "" if i in blank else ("female" if i % 2 else "male")}
                  for i in range(n_people) for k in range(2)]).to_csv(tmp_path / "people.csv",
                                                                       index=False)
    (tmp_path / "cols.toml").write_text("[columns]\n" + "".join(
        f'{k} = "{v}"\n' for k, v in COLUMNS.items()))
    return [str(tmp_path / "log.csv"), "--attributes", str(tmp_path / "people.csv"),
            "--columns", str(tmp_path / "cols.toml"), "--out", str(tmp_path / "m.parquet")]


def _metrics(*args, **kwargs):
    return runner.invoke(app, ["metrics", *args], **kwargs)


def test_a_long_error_stays_one_line_in_a_pipe(tmp_path):
    result = _metrics(*_files(tmp_path, blank={3, 4, 5}), "--threshold", "0.5",
                      "--grouping", "sex")
    assert result.exit_code == EXIT_USAGE  # 7 trials: 3 mated, the non-mated of probes 2 to 5
    line = ("error: people.csv: column 'sex' is empty for 6 images of 3 people, carrying 7 "
            "trial(s) (1.75%); more than 1% of the trials unlabelled in a --grouping column "
            "is refused: fill in the labels or leave those trials out")
    assert line in result.output.splitlines()


def test_a_wrong_map_key_is_blamed_on_map_not_on_the_columns_file(tmp_path):
    result = _metrics(*_files(tmp_path), "--map", "scor=similarity", "--threshold", "0.5")
    assert result.exit_code == EXIT_USAGE
    assert result.output.startswith("error: --map: unknown key 'scor'; keys are trial_kind")


def test_unlabelled_trials_are_not_listed_as_a_group_too_small(tmp_path):
    """One person without a sex (3 of 400 trials): counted overall, not 'too small'."""
    result = _metrics(*_files(tmp_path, blank={3}), "--threshold", "0.5", "--grouping", "sex",
                      env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "note: people.csv: column 'sex' is empty for 2 images of 1 person" in result.output
    table = result.output.split("Overall rates", 1)[1].split("Largest fixed-pair", 1)[0]
    assert "unknown" not in table.split("'unknown'", 1)[0]  # only in the caption
    assert ("'unknown': no label in that column (unlabelled, not a group): never ranked"
            in [line.strip() for line in table.splitlines()])


def test_without_grouping_one_line_says_no_disparity_was_computed(tmp_path):
    result = _metrics(*_files(tmp_path), "--threshold", "0.5")
    assert result.exit_code == 0, result.output
    assert ("no disparity computed: no --grouping given; add --grouping COLUMN (label columns "
            "of people.csv: sex) to compare groups") in result.output.splitlines()
    grouped = _metrics(*_files(tmp_path), "--threshold", "0.5", "--grouping", "sex")
    assert "no disparity computed" not in grouped.output


def test_composition_by_must_be_a_label_column(tmp_path):
    about = tmp_path / "about.toml"
    about.write_text('[watchlist]\ncomposition_by = "gender"\n'
                     'composition = { female = 0.3, male = 0.7 }\n')
    args = _files(tmp_path)
    log = tmp_path / "log.csv"
    log.write_text(log.read_text().replace(",yes\n", ",maybe\n", 1))  # a row error, unread
    result = _metrics(*args, "--threshold", "0.5", "--about", str(about))
    assert result.exit_code == EXIT_USAGE  # from the header, before the log is read
    assert result.output == ("error: people.csv: no label column 'gender' for [watchlist] "
                             "composition_by; its label columns are sex\n")


def test_a_calibrated_threshold_prints_without_float_noise_and_decides_alike(tmp_path):
    """The threshold just above the top non-mated score prints as the shortest number
    between that score and the next one up: deployed, it gives the calibrated rates."""
    args = _files(tmp_path)
    result = _metrics(*args, "--target-fmr", "0", env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    printed = re.search(r"target_fmr=0 (\S+)", result.output).group(1)
    scores = np.sort(pd.read_csv(tmp_path / "log.csv")["similarity"].to_numpy())
    top = pd.read_csv(tmp_path / "log.csv").query("genuine == 'no'")["similarity"].max()
    above = scores[scores > top].min()
    assert top < float(printed) <= above
    assert len(printed.split(".")[1]) <= 4  # scores have four decimals: no more needed
    calibrated = pd.read_parquet(tmp_path / "m.parquet").query(
        "grouping == 'overall' and statistic == 'rate'").set_index("metric")
    deployed = _metrics(*args, "--threshold", printed)
    assert deployed.exit_code == 0, deployed.output
    again = pd.read_parquet(tmp_path / "m.parquet").query(
        "grouping == 'overall' and statistic == 'rate'").set_index("metric")
    for metric in ("fmr", "fnmr"):
        assert again.loc[metric, "n_errors"] == calibrated.loc[metric, "n_errors"]


def test_json_gives_the_shown_verdict_of_every_pair_as_the_terminal_does(tmp_path):
    args = [*_files(tmp_path), "--threshold", "0.5", "--grouping", "sex",
            "--min-subjects", "5", "--min-trials", "10"]
    digest = json.loads(_metrics(*args, "--json").stdout)
    terminal = _metrics(*args, env={"COLUMNS": "250"}).output
    table = pd.read_parquet(tmp_path / "m.parquet")
    adjusted = table[table["statistic"] == "p_adjusted"]
    assert len(digest["disparities"]) == (table["statistic"] == "ratio").sum() > 0
    for pair in digest["disparities"]:
        p = adjusted[(adjusted["metric"] == pair["metric"]) & (adjusted["group"] == pair["group"])
                     ]["value"].iloc[0]
        assert pair["p_adjusted"] == pytest.approx(p)
        expected = "yes" if p < 0.05 else (
            "not shown after correction" if pair["ci_low"] > 1 else "not shown")
        assert pair["shown"] == expected
        row = next(line for line in terminal.splitlines()
                   if re.match(rf"│ {pair['metric']} +│", line) and " / " in line)
        assert row.rstrip(" │").endswith(expected)


def test_the_record_keeps_each_files_checksum_and_the_columns_read(tmp_path):
    args = _files(tmp_path)
    result = _metrics(*args, "--threshold", "0.5", "--map", "score=similarity")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "m.about.json").read_text())
    mapping = tomllib.loads((tmp_path / "cols.toml").read_text())["columns"]
    for role, name in (("trials", "log.csv"), ("attributes", "people.csv")):
        given = record["inputs"][role]
        assert given["file"] == name
        assert given["sha256"] == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
    assert record["inputs"]["trials"]["columns"] == {
        k: v for k, v in mapping.items() if k not in ("image_id", "subject_id")}
    assert record["inputs"]["attributes"]["columns"] == {"image_id": "photo",
                                                         "subject_id": "person"}
    assert record["inputs"]["attributes"]["labels"] == ["sex"]


def test_the_terminal_ends_with_the_policy_state(tmp_path):
    args = [*_files(tmp_path), "--threshold", "0.5", "--grouping", "sex"]
    result = _metrics(*args)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "policy: none set (add a [policy] table to the --about file, with an audit spec's "
        "keys, e.g. max_fpir_ratio = 1.5; docs/score-logs.md)")


def test_an_about_files_policy_is_judged_as_a_runs_is(tmp_path):
    """FNMR is far above 1% in every group: broken, exit 3, after the table is written."""
    about = tmp_path / "about.toml"
    about.write_text("[policy]\nmax_fnmr = 0.01\n")
    result = _metrics(*_files(tmp_path), "--threshold", "0.5", "--grouping", "sex",
                      "--about", str(about))
    assert result.exit_code == 3, result.output
    fnmr = pd.read_parquet(tmp_path / "m.parquet").query(
        "metric == 'fnmr' and statistic == 'rate' and grouping == 'overall'")["value"].iloc[0]
    assert fnmr > 0.01
    assert "policy: max_fnmr = 0.01 broken (estimate): FNMR of" in result.output
    assert result.output.splitlines()[-1].startswith("policy: broken (1 limit;")


def test_runs_list_without_runs_says_so(tmp_path):
    result = runner.invoke(app, ["runs", "list", "--runs-dir", str(tmp_path / "none")])
    assert result.exit_code == 0, result.output
    assert result.output == (f"no runs in {tmp_path / 'none'}; `lfr-audit run SPEC` writes one "
                             "there (--runs-dir or LFR_AUDIT_RUNS to look elsewhere)\n")


def test_the_reports_provenance_appendix_lists_the_inputs_read(tmp_path):
    from audit.runs.log_info import run_info_from_record
    from audit.runs.log_record import read_record

    assert _metrics(*_files(tmp_path), "--threshold", "0.5").exit_code == 0
    record = read_record(tmp_path / "m.parquet")
    info = run_info_from_record(record, run_id="m")
    assert info.provenance["inputs"] == record["inputs"]
    assert info.provenance["inputs"]["trials"]["columns"]["score"] == "similarity"


def test_a_calibrated_threshold_on_a_score_is_printed_as_it_is_and_can_be_given_again(
        tmp_path):
    """A target above 0 calibrates to a score of the log (four decimals here): printed as
    it is, not replaced by another number; given again as --threshold beside its target,
    the deployment and calibrated rows are two rows of the terminal's pair table (it used
    to fail on the repeated key)."""
    args = _files(tmp_path)
    result = _metrics(*args, "--target-fmr", "0.05", "--grouping", "sex",
                      env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    computed = pd.read_parquet(tmp_path / "m.parquet").query(
        "point_kind == 'target_fmr'")["threshold"].iloc[0].item()
    assert f"target_fmr=0.05 {computed!r}" in result.output
    assert "thresholds shown" not in result.output
    again = _metrics(*args, "--target-fmr", "0.05", "--threshold", repr(computed),
                     "--grouping", "sex", env={"COLUMNS": "250"})
    assert again.exit_code == 0, again.output
    assert f"deployment {computed!r}" in again.output
    assert f"target_fmr=0.05 {computed!r}" in again.output


def test_a_note_true_at_several_thresholds_is_printed_once(tmp_path):
    """"fewer than two sufficient groups" held at both thresholds and was printed twice."""
    result = _metrics(*_files(tmp_path, n_people=20), "--grouping", "sex", "--threshold",
                      "0.5", "--threshold", "0.55")
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert any("fewer than two sufficient groups" in line for line in notes), notes
    assert len(notes) == len(set(notes)), notes

"""``lfr-audit metrics`` on a score log, as a new user tried it: mistakes answered in one line
with exit 2 (before the log is read where the options alone tell), k-fold output written,
a sweep for the report's figures, thresholds printed so that they can be deployed."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from audit.cli import EXIT_USAGE, app

runner = CliRunner()
pytestmark = pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")


def _verification_log(tmp_path, n_subjects: int = 40, seed: int = 4):
    """Mated and non-mated 1:1 rows of ``n_subjects`` people (scores with five decimals)."""
    rng = np.random.default_rng(seed)
    rows = ["trial_kind,probe_id,probe_subject,reference_id,reference_subject,score,mated"]
    for i in range(n_subjects):
        for k in range(3):
            rows.append(f"verification,p{i}_{k},s{i},r{i}_{k},s{i},"
                        f"{rng.normal(0.7, 0.1):.5f},true")
            j = (i + k + 1) % n_subjects
            rows.append(f"verification,p{i}_{k},s{i},r{j}_{k},s{j},"
                        f"{rng.normal(0.3, 0.1):.5f},false")
    trials = tmp_path / "trials.csv"
    trials.write_text("\n".join(rows) + "\n")
    return trials


def _identification_log(tmp_path, n_subjects: int = 40):
    rows = ["trial_kind,probe_id,probe_subject,score,mated,best_is_true_entry"]
    rows += [f"identification,c{i},s{i},{0.2 + 0.6 * (i % 2)},{'true' if i % 2 else 'false'},"
             f"{'true' if i % 2 else ''}" for i in range(n_subjects)]
    trials = tmp_path / "searches.csv"
    trials.write_text("\n".join(rows) + "\n")
    return trials


def _people(tmp_path, n: int = 40):
    people = tmp_path / "people.csv"
    people.write_text("subject_id,gender\n" + "\n".join(
        f"s{i},{'female' if i % 2 else 'male'}" for i in range(n)) + "\n")
    return people


def _one_line_error(result, expected: str) -> None:
    assert result.exit_code == EXIT_USAGE, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(
        result.exception, SystemExit)
    assert expected in " ".join(result.output.split()), result.output


@pytest.mark.parametrize("option, value, expected", [
    ("--target-fmr", "2", "--target-fmr 2.0: a target is a rate between 0 and 1"),
    ("--target-fmr", "-0.1", "--target-fmr -0.1: a target is a rate between 0 and 1"),
    ("--target-fpir", "nan", "--target-fpir nan: a target is a rate between 0 and 1"),
    ("--threshold", "nan", "--threshold nan: a threshold must be a finite similarity score"),
    ("--threshold", "-inf", "--threshold -inf: a threshold must be a finite similarity score"),
])
def test_bad_operating_points_are_refused_before_the_log_is_read(tmp_path, option, value,
                                                                 expected):
    """The trials file does not exist: the option's own error comes first."""
    result = runner.invoke(app, ["metrics", str(tmp_path / "absent.csv"), "--attributes",
                                 str(tmp_path / "absent-people.csv"), option, value])
    _one_line_error(result, expected)


def test_a_target_with_nothing_to_calibrate_on_is_a_user_error(tmp_path):
    people = _people(tmp_path)
    searches = _identification_log(tmp_path)
    result = runner.invoke(app, ["metrics", str(searches), "--attributes", str(people),
                                 "--target-fmr", "1e-3", "--out", str(tmp_path / "m.parquet")])
    _one_line_error(result, "--target-fmr: the log has no scored non-mated verification rows "
                            "to calibrate on (it has 40 identification rows); use --target-fpir")
    pairs = _verification_log(tmp_path)
    result = runner.invoke(app, ["metrics", str(pairs), "--attributes", str(people),
                                 "--target-fpir", "0.01", "--threshold", "0.5",
                                 "--out", str(tmp_path / "m.parquet")])
    _one_line_error(result, "--target-fpir: the log has no scored non-mated identification rows")
    assert not (tmp_path / "m.parquet").exists()


def test_kfold_without_a_fold_column_names_it_before_reading(tmp_path):
    pairs = _verification_log(tmp_path)
    result = runner.invoke(app, ["metrics", str(pairs), "--attributes",
                                 str(tmp_path / "absent-people.csv"), "--kfold", "gender",
                                 "--map", "fold=protocol_fold"])
    _one_line_error(result, "--kfold: trials.csv has no column 'protocol_fold' (the protocol "
                            "fold of each pair); name yours with --map fold=COLUMN; its "
                            "columns are trial_kind, probe_id")


def test_kfold_writes_its_tables_beside_out(tmp_path):
    from audit.metrics.log_kfold import log_kfold_accuracy
    from audit.metrics.score_logs import read_score_logs

    text = _verification_log(tmp_path).read_text().splitlines()
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("\n".join([text[0] + ",fold"] + [f"{line},{i % 4}" for i, line in
                                                       enumerate(text[1:])]) + "\n")
    people = _people(tmp_path)
    out = tmp_path / "out" / "m.parquet"
    result = runner.invoke(app, ["metrics", str(pairs), "--attributes", str(people),
                                 "--kfold", "gender", "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = log_kfold_accuracy(read_score_logs(pairs, people), "gender")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / "m-kfold.csv"),
                                  expected.summary.reset_index(drop=True), check_dtype=False)
    folds = pd.read_csv(tmp_path / "out" / "m-kfold-folds.csv")
    assert len(folds) == len(expected.folds) and set(folds["fold"]) == {0, 1, 2, 3}
    assert "m-kfold.csv" in result.output


def test_calibrated_threshold_printed_reproduces_the_calibrated_rate(tmp_path):
    """Target FMR 0 puts the threshold just above the top non-mated score: printed to six
    digits it would be that score, and deploying it would give a false match."""
    pairs, people = _verification_log(tmp_path), _people(tmp_path)
    out = tmp_path / "m.parquet"
    options = ["--attributes", str(people), "--out", str(out)]
    result = runner.invoke(app, ["metrics", str(pairs), *options, "--target-fmr", "0"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    printed = re.search(r"target_fmr=0 (\S+)", result.output).group(1)
    top = pd.read_csv(pairs).query("not mated")["score"].max()
    assert float(printed) > top
    deployed = runner.invoke(app, ["metrics", str(pairs), *options, "--threshold", printed])
    assert deployed.exit_code == 0, deployed.output
    frame = pq.read_table(out).to_pandas().set_index(["metric", "grouping"])
    assert frame.loc[("fmr", "overall"), "n_errors"] == 0


def test_sweep_adds_the_run_sweep_rows_counted_from_the_scores(tmp_path):
    pairs, people = _verification_log(tmp_path), _people(tmp_path)
    out = tmp_path / "m.parquet"
    result = runner.invoke(app, ["metrics", str(pairs), "--attributes", str(people),
                                 "--threshold", "0.5", "--grouping", "gender", "--sweep",
                                 "--min-subjects", "5", "--min-trials", "10",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pq.read_table(out).to_pandas()
    swept = frame[frame["point_kind"] == "sweep"]
    fmr = swept[(swept["metric"] == "fmr") & (swept["grouping"] == "overall")
                & (swept["statistic"] == "rate")]
    log = pd.read_csv(pairs)
    nonmated = log.loc[~log["mated"], "score"].to_numpy()
    assert 0.5 in set(fmr["threshold"]) and len(fmr) >= 100
    for row in fmr.itertuples():  # brute force: the share of non-mated scores >= t
        assert row.value == pytest.approx(np.mean(nonmated >= row.threshold))
    by_gender = swept[(swept["grouping"] == "gender") & (swept["statistic"] == "rate")]
    assert set(by_gender["group"]) == {"female", "male"}
    assert (swept["group_b"].notna() & (swept["statistic"] == "ratio")).any()  # disparity curve
    answers = result.output.split("Overall rates", 1)[1].split("metrics: ")[0]
    assert "sweep" not in answers  # the terminal tables stay at the audited points


def test_columns_help_shows_the_table_name():
    result = runner.invoke(app, ["metrics", "--help"], env={"COLUMNS": "200"})
    assert "TOML file whose [columns] table maps" in " ".join(
        result.output.replace("│", " ").split())

"""A custom manifest with bad rows and hostile labels, through `lfr-audit run`.

By default the run stops before any embedding, listing every bad row (exit 2);
with --skip-bad-rows it audits the good rows, lists the others in the run
folder and states their count in the report. A grouping column the manifest
lacks stops the run before embedding too, naming the columns that exist.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from audit.runs import workflow
from audit.cli import EXIT_USAGE, app
from audit.datasets import SKIPPED_ROWS_FILE
from audit.runs.layout import list_runs

pytestmark = pytest.mark.integration

SPEC = """
name = "bad rows"
[dataset]
name = "captures.csv"
root = "{root}"
[pipeline]
face_selection = "largest"
[matching]
mated_per_subject = 2
nonmated_per_cell = 500
[watchlist]
size = 10
draws = 1
[thresholds]
deepface_default = false
target_fmr = [0.05]
target_fpir = [0.2]
[groupings]
sensitive = [{sensitive}]
conditions = []
[statistics]
min_subjects = 3
min_trials = 10
[report]
formats = ["html"]
"""

#: Rows appended to the good ones: (path, subject, gender, why it is bad).
BAD_ROWS = [
    ("images/a\0b.jpg", "x1", "f", "NUL in the path"),
    ("images/" + "n" * 300 + ".jpg", "x2", "f", "file name too long"),
    ("../outside.jpg", "x3", "f", "leaves the root"),
    ("{first}", "x4", "m", "repeats row 1 with other labels"),
    ("images/fine.jpg", "x5", "fe\x07male", "control character in a label"),
]


@pytest.fixture
def audit_folder(tmp_path, lfw_root, lfw_rows, monkeypatch, weights_home):
    monkeypatch.setenv("LFR_AUDIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LFR_AUDIT_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("COLUMNS", "250")
    good = lfw_rows(16, 2)
    hostile = ["<script>alert(1)</script>", "Female", "female", " UNKNOWN "]
    lines = ["path,subject_id,gender"] + [
        f"{row['path']},{row['subject_id']},{hostile[i % 4]}" for i, row in enumerate(good)]
    lines += [",".join((p.format(first=good[0]["path"]), s, g)) for p, s, g, _ in BAD_ROWS]
    (tmp_path / "captures.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def spec(sensitive='"gender"'):
        path = tmp_path / "audit.toml"
        path.write_text(SPEC.format(root=lfw_root, sensitive=sensitive))
        return path

    return tmp_path, spec


def _no_embedding(*args, **kwargs):
    raise AssertionError("embedded before the manifest and groupings were checked")


def test_bad_rows_stop_the_run_before_embedding_listing_them_all(audit_folder, monkeypatch):
    _, spec = audit_folder
    monkeypatch.setattr(workflow, "embed", _no_embedding)
    result = CliRunner().invoke(app, ["run", str(spec())])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "5 problem(s)" in result.output and "--skip-bad-rows" in result.output
    for row in range(33, 38):
        assert f"row {row} (line {row + 1} of the CSV)" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_grouping_column_stops_the_run_before_embedding(audit_folder, monkeypatch):
    _, spec = audit_folder
    monkeypatch.setattr(workflow, "embed", _no_embedding)
    result = CliRunner().invoke(app, ["run", str(spec('"gender x ethnicity"')),
                                      "--skip-bad-rows"])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "column 'ethnicity', which the captures manifest lacks" in result.output
    assert "its columns: subject_id, dataset, gender" in result.output


def test_skip_bad_rows_audits_the_rest_and_says_so(audit_folder):
    folder, spec = audit_folder
    result = CliRunner().invoke(app, ["run", str(spec()), "--skip-bad-rows"])
    assert result.exit_code == 0, result.output
    (run,) = list_runs(folder / "runs")
    skipped = json.loads((run / SKIPPED_ROWS_FILE).read_text())
    assert [line.split(":")[0] for line in skipped] == [
        f"row {row} (line {row + 1} of the CSV)" for row in range(33, 38)]
    manifest = __import__("pyarrow.parquet").parquet.read_table(run / "manifest.parquet")
    assert manifest.num_rows == 32
    assert set(manifest.column("gender").to_pylist()) == {
        "<script>alert(1)</script>", "female", "unknown"}
    html = (run / "report.html").read_text()
    assert "5 manifest row(s) with problems were left out" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "gender: 8 value(s) lower-cased or with spaces trimmed" in html

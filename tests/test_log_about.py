"""A score log's report states its system, data and labels: the about file, its record
beside the metrics table, and what the report says with and without them."""

from __future__ import annotations

import json
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli import EXIT_USAGE, app
from audit.log_about import LogAbout, load_about
from audit.report.context import build_context
from audit.report.inputs import OTHER, SELF_REPORTED
from audit.runs.log_info import run_info_from_record
from audit.runs.log_record import log_counts, read_record, record_path
from audit.tables import read_table

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()
HOSTILE = "<script>alert('x')</script>"
#: Every stated text field, each with markup that must reach the reader as text.
STATED = {
    ("report", "title"): "Acme FaceWatch audit " + HOSTILE,
    ("system", "vendor"): "Acme <b>Biometrics</b>",
    ("system", "product"): "FaceWatch <i>Live</i>",
    ("system", "version"): "4.2.1 <u>beta</u>",
    ("system", "model"): "FW-R100 <em>x</em>",
    ("system", "detector"): "FD-7 <s>y</s>",
    ("system", "score"): "similarity 0 to 1 <img src=x>",
    ("system", "threshold_origin"): "the operator's setting " + HOSTILE,
    ("dataset", "name"): "Field trial " + HOSTILE,
    ("dataset", "description"): "Volunteers at a station <iframe></iframe>",
    ("dataset", "collection"): "two cameras, spring 2025 <object></object>",
    ("dataset", "citation"): "Operator X, trial report <a href='http://x'>2025</a>",
    ("dataset", "licence"): "shared under agreement <embed>",
    ("dataset", "label_origin"): "stated on the consent form <link rel=x>",
    ("watchlist", "description"): "one custody photograph each <svg onload=x>",
}


def _toml(stated: dict, extra: dict[str, list[str]]) -> str:
    sections: dict[str, list[str]] = {}
    for (section, key), value in stated.items():
        sections.setdefault(section, []).append(f"{key} = {json.dumps(value)}")
    for section, lines in extra.items():
        sections[section] += lines
    return "\n".join(f"[{s}]\n" + "\n".join(lines) for s, lines in sections.items()) + "\n"


#: Non-text keys stated beside STATED.
EXTRA = {"watchlist": ["size = 60", 'composition_by = "gender"',
                       "composition = { female = 0.25, male = 0.75 }"],
         "dataset": ['label_provenance = "self-reported"', "subjects = 900"]}


def write_log(folder: Path) -> tuple[Path, Path]:
    """60 people (alternately female/male), three images each: a mated and a non-mated
    1:1 comparison per person, and a mated and a non-mated 1:N search per person."""
    rows = ["trial_kind,probe_id,probe_subject,reference_id,reference_subject,score,mated,"
            "best_is_true_entry"]
    for i in range(60):
        j = (i + 1) % 60
        rows.append(f"verification,s{i}_0,s{i},s{i}_1,s{i},{0.9 if i % 7 else 0.3},true,")
        rows.append(f"verification,s{i}_0,s{i},s{j}_1,s{j},{0.8 if i % 11 == 0 else 0.2},"
                    "false,")
        rows.append(f"identification,s{i}_2,s{i},,,{0.85 if i % 5 else 0.4},true,"
                    f"{'true' if i % 9 else 'false'}")
        rows.append(f"identification,s{i}_3,s{i},,,{0.75 if i % 13 == 0 else 0.1},false,")
    trials = folder / "trials.csv"
    trials.write_text("\n".join(rows) + "\n")
    people = folder / "people.csv"
    people.write_text("image_id,subject_id,gender\n" + "".join(
        f"s{i}_{k},s{i},{'female' if i % 2 else 'male'}\n" for i in range(60) for k in range(4)))
    return trials, people


def metrics_args(trials: Path, people: Path, out: Path, *extra: str) -> list[str]:
    return ["metrics", str(trials), "--attributes", str(people), "--threshold", "0.7",
            "--grouping", "gender", "--min-subjects", "5", "--min-trials", "10",
            "--out", str(out), *extra]


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def described(tmp_path_factory):
    """A log's metrics run with an about file stating every field, then its HTML report."""
    folder = tmp_path_factory.mktemp("described")
    trials, people = write_log(folder)
    about = folder / "about.toml"
    about.write_text(_toml(STATED, EXTRA))
    out = folder / "metrics.parquet"
    result = runner.invoke(app, metrics_args(trials, people, out, "--about", str(about),
                                             "--crowd", "10000"))
    assert result.exit_code == 0, result.output
    report = runner.invoke(app, ["report", str(out), "--format", "html"])
    assert report.exit_code == 0, report.output
    return folder, out, (folder / "report.html").read_text(encoding="utf-8")


def test_the_record_is_plain_json_holding_the_about_file_options_and_counts(described):
    folder, out, _ = described
    record = json.loads(record_path(out).read_text())
    assert record_path(out).name == "metrics.about.json"
    stated = tomllib.loads((folder / "about.toml").read_text())
    assert record["about"] == LogAbout.model_validate(stated).model_dump(mode="json")
    assert record["sources"] == {"trials": "trials.csv", "attributes": "people.csv"}
    assert record["options"]["thresholds"] == [0.7]
    assert record["options"]["projection"]["audit_watchlist"] == 60  # from [watchlist] size
    frame = pd.read_csv(folder / "trials.csv")
    assert record["counts"] == {
        "subjects": frame["probe_subject"].nunique(),
        "images": len(set(frame["probe_id"]) | set(frame["reference_id"].dropna())),
        "verification_trials": int((frame["trial_kind"] == "verification").sum()),
        "identification_searches": int((frame["trial_kind"] == "identification").sum()),
        "label_values": {"gender": sorted(pd.read_csv(folder / "people.csv")["gender"].unique())},
    }


def test_the_record_becomes_the_reports_description(described):
    _, out, _ = described
    run = run_info_from_record(read_record(out), run_id="metrics")
    assert run.score_log and run.described and run.run_id == "trials.csv"
    assert run.title == STATED[("report", "title")]
    system = run.system
    assert (system.vendor, system.product, system.version, system.model, system.detector,
            system.score_note) == tuple(STATED[("system", k)] for k in (
                "vendor", "product", "version", "model", "detector", "score"))
    assert [(t.value, t.source, t.how_chosen) for t in system.thresholds] == [
        (0.7, OTHER, STATED[("system", "threshold_origin")])]
    (data,) = run.datasets
    assert data.label_source == SELF_REPORTED and data.subjects == 60 and data.images == 240
    assert (data.comparisons, data.searches) == (120, 120)
    assert data.collection == STATED[("dataset", "collection")]
    assert run.watchlist.size == 60 and dict(run.watchlist.composition) == {
        "female": 0.25, "male": 0.75}
    assert run.projection.crowd == 10000 and run.statistics.min_subjects == 5


def test_the_report_states_every_field_escaped(described):
    _, _, html = described
    page = Page()
    page.feed(html)
    for tag in ("script", "img", "iframe", "object", "embed", "link"):
        assert tag not in page.tags, tag
    # Each value read back as text, tags and all: none of its markup was taken as markup.
    assert not re.search(r"<a href=\"http", html)
    text = " ".join(" ".join(page.text).split())
    for key, value in STATED.items():
        assert value in text, key
    assert "Stated make-up by gender: female 25%, male 75%." in text
    assert "self-reported" in text and "the whole dataset holds 900 people" in text.lower()
    assert "not described" not in text


def test_the_data_section_counts_people_and_trials_by_group_from_the_log(described):
    folder, out, _ = described
    run = run_info_from_record(read_record(out), run_id="metrics")
    context = build_context(read_table(out), run)
    (counts,) = context.trial_counts
    frame = pd.read_csv(folder / "trials.csv")
    frame["gender"] = frame["probe_subject"].str[1:].astype(int).map(
        lambda i: "female" if i % 2 else "male")
    kinds = {"mated_comparisons": ("verification", True), "nonmated_comparisons": (
        "verification", False), "mated_searches": ("identification", True),
        "nonmated_searches": ("identification", False)}
    assert counts.kinds == tuple(kinds)
    for row in counts.rows:
        for kind, count in zip(counts.kinds, row.counts):
            kind_name, mated = kinds[kind]
            chosen = frame[(frame.trial_kind == kind_name) & (frame.mated == mated)
                           & (frame.gender == row.group)]
            assert (count.subjects, count.trials) == (chosen.probe_subject.nunique(),
                                                      len(chosen)), (row.group, kind)
    assert [c.trials for c in counts.overall.counts] == [60, 60, 60, 60]


def test_without_a_record_or_an_about_file_the_report_says_how_to_add_one(tmp_path):
    trials, people = write_log(tmp_path)
    out = tmp_path / "metrics.parquet"
    assert runner.invoke(app, metrics_args(trials, people, out)).exit_code == 0
    record = read_record(out)
    assert record["about"] is None
    for remove in (False, True):
        if remove:
            record_path(out).unlink()
        result = runner.invoke(app, ["report", str(out), "--format", "html"])
        assert result.exit_code == 0, result.output
        page = Page()
        page.feed((tmp_path / "report.html").read_text(encoding="utf-8"))
        text = " ".join(" ".join(page.text).split())
        assert ("The system, the data and how people were labelled are not described in "
                "this report: add them with an about file, lfr-audit report metrics.parquet "
                "--about about.toml (docs/score-logs.md).") in text
        assert ("Score log trials.csv" in text) is not remove


def test_report_about_describes_a_table_after_the_fact(tmp_path):
    trials, people = write_log(tmp_path)
    out = tmp_path / "metrics.parquet"
    assert runner.invoke(app, metrics_args(trials, people, out)).exit_code == 0
    about = tmp_path / "about.toml"
    about.write_text('[system]\nvendor = "Later Vendor"\n[dataset]\nname = "lfw"\n')
    result = runner.invoke(app, ["report", str(out), "--format", "html", "--about", str(about)])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Later Vendor" in html and "Labeled Faces in the Wild" in html  # lfw's card
    assert "not described in this report" not in html


@pytest.mark.parametrize(("toml", "message"), [
    ('[system]\nvendr = "x"\n', "unknown key 'system.vendr'"),
    ("[dataset]\nsubjects = \"many\"\n", "dataset.subjects: Input should be a valid integer"),
    ('[dataset]\nlabel_provenance = "guessed"\n', "dataset.label_provenance: Input should be"),
    ('[dataset]\nname = "lfw"\nlabel_provenance = "self-reported"\n',
     "lfw labels are perceived"),
    ("[watchlist]\ncomposition = { a = 0.5, b = 0.6 }\ncomposition_by = \"g\"\n",
     "watchlist.composition"),
    ("[watchlist]\ncomposition = { a = 0.5, b = 0.5 }\n", "needs composition_by"),
    ("title = \"top level\"\n", "unknown key 'title'"),
    ("[system\n", "is not valid TOML"),
])
def test_a_bad_about_file_is_one_line_and_exit_2_before_the_log_is_read(tmp_path, toml,
                                                                        message, monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")
    about = tmp_path / "about.toml"
    about.write_text(toml)
    missing = tmp_path / "no-such-log.csv"
    result = runner.invoke(app, metrics_args(missing, missing, tmp_path / "m.parquet",
                                             "--about", str(about)))
    assert result.exit_code == EXIT_USAGE
    assert message in result.output and "no-such-log" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_option_mistakes_with_an_about_file_are_one_line_errors(tmp_path):
    trials, people = write_log(tmp_path)
    about = tmp_path / "about.toml"
    about.write_text("[watchlist]\nsize = 100\n")
    result = runner.invoke(app, metrics_args(trials, people, tmp_path / "m.parquet", "--about",
                                             str(about), "--crowd", "1000",
                                             "--audit-watchlist", "60"))
    assert result.exit_code == EXIT_USAGE
    assert "--audit-watchlist 60 disagrees with [watchlist] size = 100 in about.toml" in (
        " ".join(result.output.split()))
    result = runner.invoke(app, ["metrics", str(tmp_path), "--threshold", "0.5", "--about",
                                 str(about)])
    assert result.exit_code == EXIT_USAGE and "a run folder is described by its audit spec" in (
        " ".join(result.output.split()))
    result = runner.invoke(app, ["report", str(tmp_path / "m.parquet"), "--about",
                                 str(tmp_path / "none.toml")])
    assert result.exit_code == EXIT_USAGE and "lfr-audit init" in result.output


def test_log_counts_leave_images_unknown_without_image_ids():
    import pyarrow as pa

    scores = pa.table({"trial_kind": pa.array(["verification"] * 3 + ["identification"])
                       .dictionary_encode()})
    with_ids = pd.DataFrame({"image_id": ["a1", "a2", "b1"], "subject_id": ["a", "a", "b"]})
    without = pd.DataFrame({"image_id": ["a", "b"], "subject_id": ["a", "b"]})
    assert log_counts(scores, with_ids) == {"subjects": 2, "images": 3,
                                            "verification_trials": 3,
                                            "identification_searches": 1, "label_values": {}}
    assert log_counts(scores, without)["images"] is None


def test_init_about_template_and_the_documented_example_are_valid(tmp_path):
    path = tmp_path / "about.toml"
    result = runner.invoke(app, ["init", str(path), "--about"])
    assert result.exit_code == 0, result.output
    assert not load_about(path).stated  # every value empty: states nothing until edited
    docs = (REPO / "docs" / "score-logs.md").read_text()
    example = re.search(r"```toml\n(# about\.toml.*?)```", docs, re.S).group(1)
    (tmp_path / "example.toml").write_text(example)
    stated = load_about(tmp_path / "example.toml")
    assert stated.stated and stated.system.vendor and stated.dataset.label_origin


def test_metrics_report_renders_at_once_and_keeps_json_on_stdout(tmp_path):
    trials, people = write_log(tmp_path)
    out = tmp_path / "metrics.parquet"
    result = runner.invoke(app, metrics_args(trials, people, out, "--report", "--json"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["operating_points"]
    for name in ("report.html", "report.pdf", "short-report.html", "short-report.pdf"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_a_projections_audited_watchlist_is_the_watchlist_the_report_states():
    """Without ``[watchlist] size``, ``--audit-watchlist`` is the audited size (the
    projection's rates hold for it); a stated size wins; the deployment's own size stays
    the projection's."""
    options = {"projection": {"crowd": 100_000, "share_on_watchlist": 0.001,
                              "watchlist": 5_000, "audit_watchlist": 300}}
    record = {"format": 1, "options": options, "counts": {}}
    info = run_info_from_record(record, run_id="log")
    assert info.watchlist.size == 300 and info.projection.watchlist == 5_000
    stated = run_info_from_record(record, run_id="log", about={"watchlist": {"size": 250}})
    assert stated.watchlist.size == 250
    assert run_info_from_record({"format": 1, "options": {}}, run_id="log").watchlist.size is None

"""A score log's policy outcome and projection reach every output (issue 14, a new user's
trial): the record, the JSON digest, both reports and a later ``report``; the outcome of
skipped checks is never worded as plain "met"; the projection states its assumptions and
where each came from; an overall rate too small for the policy is marked in the table."""

from __future__ import annotations

import json
import re
from html import unescape

import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli import EXIT_POLICY, app
from audit.config import PolicySpec
from audit.runs.log_record import read_record
from audit.runs.policy import check_policy
from test_log_about import metrics_args, write_log

runner = CliRunner()
pytestmark = pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")


def _text(path) -> str:
    """A page's words, tags dropped and spaces collapsed."""
    html = re.sub(r"<style.*?</style>", "", path.read_text(encoding="utf-8"), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _about(tmp_path, text: str, name: str = "about.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_policy_outcome_reaches_the_record_the_json_and_both_reports(tmp_path):
    """FNIR is 17 misses in 60 mated searches (28%): max_fnir = 0.01 is broken; the outcome
    the terminal states is the one recorded, printed as JSON and shown in both reports, now
    and when the table is rendered again later."""
    trials, people = write_log(tmp_path)
    out = tmp_path / "metrics.parquet"
    about = _about(tmp_path, "[policy]\nmax_fnir = 0.01\n")
    result = runner.invoke(app, metrics_args(trials, people, out, "--about", about,
                                             "--json", "--report"))
    assert result.exit_code == EXIT_POLICY, result.output
    expected = check_policy(PolicySpec(max_fnir=0.01), pd.read_parquet(out),
                            ("gender",)).to_json()
    assert expected["state"] == "broken"
    assert json.loads(result.stdout)["policy"] == expected
    assert json.loads(out.with_suffix(".json").read_text())["policy"] == expected
    assert read_record(out)["policy"] == expected
    later = tmp_path / "later"
    again = runner.invoke(app, ["report", str(out), "--format", "html", "--out", str(later)])
    assert again.exit_code == 0, again.output
    for folder in (tmp_path, later):
        assert "Agreed limits broken: max_fnir allows 0.01, observed 0.283" in _text(
            folder / "report.html")
        short = _text(folder / "short-report.html")
        assert "Broken: max_fnir." in short and "No policy outcome" not in short


def test_report_with_another_about_file_judges_its_policy(tmp_path):
    trials, people = write_log(tmp_path)
    out = tmp_path / "metrics.parquet"
    assert runner.invoke(app, metrics_args(trials, people, out)).exit_code == 0
    assert read_record(out)["policy"]["state"] == "no policy"
    about = _about(tmp_path, "[policy]\nmax_fnir = 0.5\n")
    result = runner.invoke(app, ["report", str(out), "--format", "html", "--about", about])
    assert result.exit_code == 0, result.output
    assert "Agreed limits: all 3 limits" not in _text(tmp_path / "report.html")
    assert "Agreed limits: the limit set for this audit was met (max_fnir 0.5)" in _text(
        tmp_path / "report.html")


def test_skipped_checks_are_not_worded_as_met(tmp_path, monkeypatch):
    """With at least 40 people per group, each gender (30 people) cannot be judged: the
    overall check is met, two are skipped as the spec allows, and every output says so."""
    monkeypatch.setenv("COLUMNS", "300")
    trials, people = write_log(tmp_path)
    out = tmp_path / "metrics.parquet"
    about = _about(tmp_path, "[policy]\nmax_fnir = 0.99\nskip_unevaluable = true\n")
    result = runner.invoke(app, metrics_args(trials, people, out, "--about", about,
                                             "--min-subjects", "40"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "policy: met where evaluated: 1 of 3 checks (1 limit; 2 not evaluated, skipped as "
        '[policy] skip_unevaluable = true allows; evaluate = "estimate")')
    assert runner.invoke(app, ["report", str(out), "--format", "html"]).exit_code == 0
    assert ("Agreed limits met where evaluated: 1 of 3 checks of the limit set for this audit "
            "(max_fnir 0.99) were evaluated and met") in _text(tmp_path / "report.html")
    assert ("Met where evaluated: 1 of 3 checks were evaluated and met; 2 checks of max_fnir "
            "could not be judged and were skipped, as the about file allows") in _text(
        tmp_path / "short-report.html")


def test_the_projection_states_its_assumptions_and_their_origins(tmp_path, monkeypatch):
    """Rates measured with a watchlist of 60, a deployment of 600 given by --watchlist:
    the figures hold for 60 and every output says they are not projected to 600."""
    monkeypatch.setenv("COLUMNS", "300")
    trials, people = write_log(tmp_path)
    out = tmp_path / "metrics.parquet"
    projection = ["--crowd", "10000", "--audit-watchlist", "60", "--watchlist", "600",
                  "--share-on-watchlist", "0.001"]
    result = runner.invoke(app, metrics_args(trials, people, out, *projection))
    assert result.exit_code == 0, result.output
    assert ("projection assumes: a crowd of 10,000 faces (--crowd), 1 in 1,000 of them on the "
            "watchlist (--share-on-watchlist), rates measured with a watchlist of 60 people "
            "(--audit-watchlist); applied unchanged, not projected, to the deployment's "
            "watchlist of 600 (--watchlist)") in " ".join(result.output.split())
    assumptions = json.loads(out.with_suffix(".json").read_text())["projection_assumptions"]
    assert assumptions == {
        "crowd": 10000, "share_on_watchlist": 0.001, "watchlist": 600, "audit_watchlist": 60,
        "figures_at_watchlist": 60,
        "origins": {"crowd": "--crowd", "share_on_watchlist": "--share-on-watchlist",
                    "watchlist": "--watchlist", "audit_watchlist": "--audit-watchlist"}}
    assert read_record(out)["options"]["projection"] == assumptions
    assert runner.invoke(app, ["report", str(out), "--format", "html"]).exit_code == 0
    report = _text(tmp_path / "report.html")
    assert ("It assumes a crowd of 10,000 faces scanned (--crowd), of whom 1 in 1,000 is on "
            "the watchlist (--share-on-watchlist), and a deployment watchlist of 600 people "
            "(--watchlist).") in report
    assert ("These figures hold for a watchlist of 60 people, the size audited "
            "(--audit-watchlist), not for the deployment’s 600.") in report
    assert "these figures are not a projection to the deployment’s watchlist" in report
    assert "described in the audit specification" not in report
    short = _text(tmp_path / "short-report.html")
    assert "with 1 in 1,000 of the people scanned on the watchlist, for a watchlist of 60" in short
    assert "own watchlist of 600 people was not audited" in short


def test_an_overall_rate_too_small_for_the_policy_is_marked_in_the_table(tmp_path,
                                                                         monkeypatch):
    """60 people, at least 100 asked: the policy finds overall FNIR too small to judge and
    the table names it where it names small groups."""
    monkeypatch.setenv("COLUMNS", "300")
    trials, people = write_log(tmp_path)
    about = _about(tmp_path, "[policy]\nmax_fnir = 0.5\n")
    result = runner.invoke(app, metrics_args(trials, people, tmp_path / "m.parquet",
                                             "--about", about, "--min-subjects", "100"))
    assert "max_fnir = 0.5 not evaluated (estimate): FNIR overall" in result.output
    fnir = next(line for line in result.output.splitlines() if line.startswith("│ fnir"))
    assert "overall: all (60 subjects, 60 trials)" in fnir


def test_a_smaller_deployment_watchlist_likely_has_fewer_false_alerts_not_more():
    """--watchlist 50 against an audited 300 read "its false alerts are likely more"."""
    from audit.cli.log_projection import assumptions_line, projection_assumptions

    for deployed, likely in ((50, "fewer"), (3000, "more")):
        line = assumptions_line(projection_assumptions(
            crowd=50_000, share=None, watchlist=deployed, audit_watchlist=300,
            audit_watchlist_given=True))
        assert line.endswith(f"its false alerts are likely {likely}"), line
        assert f"watchlist of {deployed:,}" in line

"""Terminal answers: a run's headline, its largest disparity, and the short tables."""

from __future__ import annotations

import pandas as pd
from rich.console import Console

from audit.cli.answers import headline, largest_disparity, lead_point, tables

SUMMARY = {
    "operating_points": [{"operating_point": "target_fmr=0.001"},
                         {"operating_point": "deployment"}],
    "overall": [
        {"metric": "fmr", "operating_point": "deployment", "value": 0.00123,
         "ci_low": 0.001, "ci_high": 0.0015, "sufficient": True},
        {"metric": "fpir", "operating_point": "deployment", "value": 0.0,
         "ci_low": 0.0, "ci_high": 0.23, "sufficient": False},
        {"metric": "fnir", "operating_point": "deployment", "value": None},
        {"metric": "fmr", "operating_point": "target_fmr=0.001", "value": 0.001},
    ],
    "groupings": {"gender": [
        {"operating_point": "deployment", "highest_vs_lowest": [
            {"metric": "fmr", "statistic": "ratio", "group": "female", "group_b": "male",
             "value": 3.36, "ci_low": 2.53, "ci_high": 4.46},
            {"metric": "fmr", "statistic": "p_adjusted", "value": 1e-16}]},
        {"operating_point": "deployment", "highest_vs_lowest": [
            {"metric": "fnmr", "statistic": "ratio", "group": "male", "group_b": "female",
             "value": 1.2, "ci_low": 0.9, "ci_high": 1.6},
            {"metric": "fnmr", "statistic": "p_adjusted", "value": 0.3}]},
        {"operating_point": "target_fmr=0.001", "highest_vs_lowest": [
            {"metric": "fmr", "statistic": "ratio", "group": "female", "group_b": "male",
             "value": 9.0, "ci_low": 1.0, "ci_high": 20.0}]}]},
}


def test_headline_marks_small_samples_and_missing_rates_in_1n_first_order():
    point = lead_point(SUMMARY)
    assert point == "deployment"
    assert headline(SUMMARY, point) == (
        "fpir 0% (0-23) [too few]; fnir n/a; fmr 0.123% (0.1-0.15)")


def test_largest_disparity_at_the_lead_point_says_whether_it_was_shown():
    assert largest_disparity(SUMMARY, "deployment") == (
        "fmr female / male 3.36 (2.53-4.46), shown")
    assert largest_disparity({}, "deployment") == "-"


def test_largest_disparity_is_among_the_demographic_groupings_when_known():
    """A capture-condition pair with a larger lower limit does not stand for people."""
    summary = {"groupings": {**SUMMARY["groupings"], "yaw_band": [
        {"operating_point": "deployment", "highest_vs_lowest": [
            {"metric": "fnmr", "statistic": "ratio", "group": "15-30 deg", "group_b": "<15 deg",
             "value": 5.0, "ci_low": 4.0, "ci_high": 6.0},
            {"metric": "fnmr", "statistic": "p_adjusted", "value": 1e-9}]}]}}
    assert largest_disparity(summary, "deployment").startswith("fnmr 15-30 deg / <15 deg")
    assert largest_disparity(summary, "deployment", groupings=("gender",)) == (
        "fmr female / male 3.36 (2.53-4.46), shown")


def test_tables_quote_rates_pairs_and_small_groups():
    rows = [
        dict(metric="fmr", grouping="overall", group="all", group_b=None, threshold=0.5,
             value=0.02, ci_low=0.01, ci_high=0.04, n_trials=1000, n_errors=20,
             sufficient=True, operating_point="deployment", statistic="rate",
             point_kind="deployment"),
        dict(metric="fmr", grouping="gender", group="x", group_b=None, threshold=0.5,
             value=0.5, ci_low=0.1, ci_high=0.9, n_trials=2, n_errors=1, sufficient=False,
             operating_point="deployment", statistic="rate", point_kind="deployment"),
        dict(metric="fmr", grouping="gender", group="female", group_b="male", threshold=0.5,
             value=2.0, ci_low=1.5, ci_high=2.7, n_trials=900, n_errors=20, sufficient=True,
             operating_point="deployment", statistic="ratio", point_kind="deployment"),
        dict(metric="fmr", grouping="gender", group="female", group_b="male", threshold=0.5,
             value=0.001, ci_low=None, ci_high=None, n_trials=900, n_errors=20,
             sufficient=True, operating_point="deployment", statistic="p_adjusted",
             point_kind="deployment"),
    ]
    console = Console(width=200, record=True)
    for table in tables(pd.DataFrame(rows)):
        console.print(table)
    text = console.export_text()
    assert "2% (1-4)" in text and "│ gender: x " in text
    assert "female / male │ 2 (1.5-2.7)" in text and "0.001" in text and "yes" in text
    assert "(of 1 pair)" in text  # one pair, not "1 pairs"


def test_answers_in_a_file_are_not_folded_at_80_columns(monkeypatch, capsys):
    """Sent to a file, a threshold or interval is never split over two lines."""
    from audit.cli.answers import print_answers

    monkeypatch.delenv("COLUMNS", raising=False)
    small = [dict(metric="fnmr_incl_fta", grouping=f"condition {k}", group=f"unknown {k}",
                  group_b=None, threshold=0.936392, value=0.5, ci_low=0.1, ci_high=0.9,
                  n_trials=2, n_errors=1, sufficient=False, operating_point="target_fmr=0.001",
                  statistic="rate", point_kind="target_fmr") for k in range(5)]
    overall = dict(small[0], grouping="overall", group="all", value=0.000997,
                   ci_low=0.000773, ci_high=0.00129, n_trials=59205, n_errors=59,
                   sufficient=True)
    print_answers(pd.DataFrame([overall, *small]))
    text = capsys.readouterr().out
    assert "target_fmr=0.001 0.936392" in text and "0.0997% (0.0773-0.129)" in text
    assert "fnmr_incl_fta" in text
    assert "condition 0: unknown 0; condition 1: unknown 1;" in text and "2 more" in text
    assert "unknown 3" not in text


def _pair(group, group_b, value, low, high, p_adjusted, metric="fmr"):
    base = dict(metric=metric, grouping="region", group=group, group_b=group_b,
                threshold=0.66, n_trials=9000, n_errors=10, sufficient=True,
                operating_point="target_fmr=0.001", point_kind="target_fmr")
    return [dict(base, statistic="ratio", value=value, ci_low=low, ci_high=high),
            dict(base, statistic="p_adjusted", value=p_adjusted, ci_low=None, ci_high=None)]


def test_an_unbounded_ratio_is_shown_as_at_least_its_bound_and_ranked_by_it():
    """A user's headline FMR finding (South against East, which had no false match) never
    reached the terminal: the table dropped every ratio that was a bound."""
    rows = [*_pair("South", "East", float("inf"), 2.33, float("inf"), 0.0077),
            *_pair("South", "North", 2.58, 0.46, 7.95, 0.32),
            *_pair("East", "North", 2.6, 1.79, 3.77, 6.6e-7, metric="fnmr"),
            *_pair("a", "b", float("nan"), float("nan"), float("nan"), 1.0)]
    console = Console(width=200, record=True)
    for table in tables(pd.DataFrame(rows)):
        console.print(table)
    text = console.export_text()
    lines = [line for line in text.splitlines() if " / " in line]
    assert "South / East" in lines[0] and "at least 2.33 (lower group: no errors)" in lines[0]
    assert "0.0077" in lines[0] and "yes" in lines[0]
    assert "East / North" in lines[1] and "South / North" in lines[2] and len(lines) == 3
    assert "inf" not in text


def test_largest_disparity_quotes_a_bound_from_the_json_digest():
    summary = {"groupings": {"region": [{"operating_point": "deployment", "highest_vs_lowest": [
        {"metric": "fmr", "statistic": "ratio", "group": "South", "group_b": "East",
         "value": "inf", "ci_low": 2.33, "ci_high": "inf"},
        {"metric": "fmr", "statistic": "p_adjusted", "value": 0.0077}]}]}}
    assert largest_disparity(summary, "deployment") == (
        "fmr South / East at least 2.33 (lower group: no errors), shown")


def test_tables_name_the_level_they_were_computed_at():
    """A run at 90% confidence is not labelled 95%, and "shown" uses its own level."""
    rows = [
        dict(metric="fmr", grouping="overall", group="all", group_b=None, threshold=0.5,
             value=0.02, ci_low=0.01, ci_high=0.04, n_trials=1000, n_errors=20,
             sufficient=True, operating_point="deployment", statistic="rate",
             point_kind="deployment"),
        dict(metric="fmr", grouping="gender", group="female", group_b="male", threshold=0.5,
             value=2.0, ci_low=1.1, ci_high=2.7, n_trials=900, n_errors=20, sufficient=True,
             operating_point="deployment", statistic="ratio", point_kind="deployment"),
        dict(metric="fmr", grouping="gender", group="female", group_b="male", threshold=0.5,
             value=0.07, ci_low=None, ci_high=None, n_trials=900, n_errors=20,
             sufficient=True, operating_point="deployment", statistic="p_adjusted",
             point_kind="deployment"),
    ]
    console = Console(width=200, record=True)
    for table in tables(pd.DataFrame(rows), confidence=0.90):
        console.print(table)
    text = console.export_text()
    assert "90% interval" in text and "by 90% lower limit" in text and "95%" not in text
    assert "│ yes" in text  # adjusted p 0.07 < 0.10
    console = Console(width=200, record=True)
    for table in tables(pd.DataFrame(rows), confidence=0.95):
        console.print(table)
    assert "│ not shown after correction" in console.export_text()  # 1.1-2.7, adjusted p 0.07


def test_largest_disparity_is_shown_at_the_runs_own_level():
    summary = {"groupings": {"gender": [{"operating_point": "deployment", "highest_vs_lowest": [
        {"metric": "fpir", "statistic": "ratio", "group": "female", "group_b": "male",
         "value": 1.4, "ci_low": 1.05, "ci_high": 1.8},
        {"metric": "fpir", "statistic": "p_adjusted", "value": 0.07}]}]}}
    # its own 95% interval leaves out 1; only the correction for every comparison hides it
    assert largest_disparity(summary, "deployment").endswith(", not shown after correction")
    summary["groupings"]["gender"][0]["highest_vs_lowest"][0]["ci_low"] = 0.95
    assert largest_disparity(summary, "deployment").endswith(", not shown")
    summary["groupings"]["gender"][0]["highest_vs_lowest"][0]["ci_low"] = 1.05
    assert largest_disparity(summary, "deployment", confidence=0.90).endswith(", shown")


def test_labels_that_look_like_markup_are_printed_as_they_are(capsys):
    """A label "Asian [/b]" stopped ``metrics`` with a traceback (rich read it as a closing
    tag), before the policy was judged; "[bold red]Black" printed as "Black"."""
    from audit.cli.answers import print_answers

    rows = [*_pair("Asian [/b]", "[bold red]Black", 2.6, 1.79, 3.77, 6.6e-7),
            dict(_pair("x", "y", 1, 1, 1, 1)[0], statistic="rate", grouping="overall",
                 group="all", group_b=None, value=0.02, ci_low=0.01, ci_high=0.04,
                 n_trials=1000, n_errors=20),
            dict(_pair("x", "y", 1, 1, 1, 1)[0], statistic="rate", group="[i]tiny",
                 group_b=None, value=0.5, ci_low=0.1, ci_high=0.9, n_trials=2, n_errors=1,
                 sufficient=False)]
    print_answers(pd.DataFrame(rows))
    text = capsys.readouterr().out
    assert "Asian [/b] / [bold red]Black" in text
    assert "region: [i]tiny" in text
    console = Console(width=200, record=True)  # any console: the cells are plain text
    for table in tables(pd.DataFrame(rows)):
        console.print(table)
    assert "Asian [/b] / [bold red]Black" in console.export_text()

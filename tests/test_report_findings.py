"""The summary's findings: each sentence quotes the rows of its own pair, and means what it says.

Findings come from the hand-made audit of :mod:`report_tables` (a real metrics
table); sentences are rendered with the report's own templates and checked
against the table's rows of that fixed pair: ratio, interval, adjusted p-value,
detectable ratio.
"""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

import pandas as pd
import pytest
from report_tables import hand_made, run_info

from audit.metrics import table as columns
from audit.report import formatting
from audit.report.context import build_context
from audit.report.curves import disparity_curves
from audit.report.reading import Comparison, GroupRate, Interval, MetricsIndex
from audit.report.render import environment

REPORT = Path(__file__).resolve().parents[1] / "audit" / "report"
TEMPLATES = Path(__file__).resolve().parents[1] / "reports" / "templates"


@pytest.fixture(scope="module")
def context():
    return build_context(hand_made(), run_info())


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return hand_made().to_pandas()


def text(markup: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup))).strip()


def sentence(finding, n_tests: int = 108) -> str:
    template = environment().from_string(
        '{% import "macros/words.html.j2" as w %}{{ w.finding_sentence(f, 0.95, n) }}')
    return text(template.render(f=finding, n=n_tests))


@pytest.fixture(scope="module")
def summary(context) -> str:
    return environment().get_template("sections/summary.html.j2").render(ctx=context)


def finding(context, metric, label):
    point = next(p for p in context.summary.points if (p.point.label if p.point else None) == label)
    rates = next(r for r in point.rates if r.metric == metric)
    return rates, rates.findings[0]


def pair_rows(frame, metric, point, high, low) -> pd.Series:
    rows = frame[(frame["metric"] == metric) & (frame["operating_point"] == point)
                 & (frame["group"] == high) & (frame["group_b"] == low)]
    return rows.set_index("statistic")


def test_sentence_quotes_the_rows_of_its_pair(context, frame):
    _, f = finding(context, "fmr", "deepface-default")
    c = f.comparison
    rows = pair_rows(frame, "fmr", "deepface-default", c.high.group, c.low.group)
    assert (c.high.group, c.low.group) == ("a", "b")  # highest vs lowest sufficient group
    assert c.ratio.low == rows.loc["ratio", "ci_low"]
    assert c.p_adjusted == rows.loc["p_adjusted", "value"]
    assert c.p_value == rows.loc["p_value", "value"]
    assert c.detectable == rows.loc["min_detectable_ratio", "value"]
    said = sentence(f)
    assert said.startswith("At 0.75, people with group “a” compared with a different person were at "
                           f"least {formatting.ratio_end(c.ratio.low)} times as likely as people "
                           "with group “b” to be falsely matched (95% lower bound; adjusted p ")
    assert f"p {formatting.pvalue(c.p_adjusted, 0.05)}" in said or (
        f"p = {formatting.pvalue(c.p_adjusted, 0.05)}" in said)
    # Descriptive summaries never enter a sentence.
    summaries = frame[(frame["metric"] == "fmr") & (frame["operating_point"] == "deepface-default")
                      & frame["statistic"].isin(["max_min_ratio", "max_geomean_ratio", "gini"])]
    for value in summaries["value"].dropna():
        assert f" {formatting.ratio(value)} times" not in said


def test_finite_ratio_sentence_gives_interval_and_adjusted_p():
    c = comparison(ratio=Interval(2.5, 1.5, 4.1, "mover-log"), p_value=0.0004, p_adjusted=0.004)
    said = sentence(make_finding(c))
    assert said == ("At 0.60, women passing the camera were 2.5 times as likely as men to trigger "
                    "a false alert each time they were searched (95% CI 1.5 to 4.1; adjusted p = 0.0040): 5.0% against 2.0%.")


def test_zero_error_lower_group_reads_at_least(context):
    _, f = finding(context, "fpir", "deployment")
    assert f.kind == "shown" and f.comparison.ratio.unbounded
    said = sentence(f)
    assert "were at least" in said and "times as likely as" in said
    assert "against none in 100 searches" in said and "∞" not in said


def test_not_shown_carries_its_detectable_ratio(context):
    _, f = finding(context, "fnir", "deployment")
    c = f.comparison
    assert f.kind == "not_shown" and c.detectable is not None
    said = sentence(f)
    assert "were not shown to differ" in said
    assert (f"the data could have shown a ratio of {formatting.ratio(c.detectable)} or more "
            "with 80% power at the 5% level before the adjustment for the 108 comparisons (the "
            "adjustment can only raise it)") in said
    assert f"ratio {formatting.ratio(c.ratio.value)}, 95% CI {formatting.ratio_end(c.ratio.low)} to" in said


def test_unadjusted_difference_is_not_called_shown():
    c = comparison(ratio=Interval(float("inf"), 1.49, float("inf"), "mover-r-bound"),
                   low=rate("male", 0.0), p_value=0.022, p_adjusted=0.13, detectable=3.2)
    f = make_finding(c)
    assert f.kind == "not_after_correction"
    said = sentence(f, n_tests=108)
    assert "not shown to differ once the 108 comparisons of this audit are taken into account" in said
    assert "times as likely" not in said and "could have shown a ratio of" in said


def test_no_errors_and_too_few_groups():
    _, f = None, make_finding(comparison(ratio=Interval(None), p_value=1.0, p_adjusted=1.0,
                                         detectable=None))
    assert f.kind == "no_errors"
    assert "no false alerts were seen in any group group with enough data" in sentence(f)
    few = dataclasses.replace(f, comparison=None, n_sufficient=1)
    assert few.kind == "too_few_groups"
    assert "fewer than two group groups had enough data" in sentence(few)


def test_findings_at_every_audited_point_then_fta(context, summary):
    labels = [p.point.label if p.point else None for p in context.summary.points]
    assert labels == [p.label for p in context.operating_points]
    for point in context.summary.points:
        assert [r.metric for r in point.rates] == ["fpir", "fnir", "fmr", "fnmr"]
    said = text(summary)
    for heading in ("At the deployment threshold 0.50",
                    "At deepface’s default threshold 0.75 (audited for reference)",
                    "At threshold 0.80, calibrated to an overall FPIR of at most 5%",
                    "At threshold 0.80, calibrated to an overall FMR of at most 1%"):
        assert heading in said
    assert said.count("At 0.75, ") == 4  # one finding per rate at deepface's default


def test_insufficiency_is_per_rate(context, summary, frame):
    fpir, _ = finding(context, "fpir", "deployment")
    fnir, _ = finding(context, "fnir", "deployment")
    assert [g.group for g in fpir.insufficient] == ["e"]
    assert [g.group for g in fnir.insufficient] == ["d", "e"]  # d: enough passers-by, few listed
    said = text(summary)
    # The counts beside the sentence come from the table's own rows, the minimum from the run.
    rows = frame[(frame["metric"] == "fnir") & (frame["operating_point"] == "deployment")
                 & frame["group_b"].isna()].set_index("group")
    counts = "; ".join(f"people with group “{g}”: {rows.n_subjects[g]} people in "
                       f"{rows.n_trials[g]} searches" for g in ("d", "e"))
    statistics = context.run.statistics
    assert ("For the miss rate, too few people with group “d” and people with group “e” were measured "
            f"to state or compare their rate ({counts}; a rate is stated from "
            f"{statistics.min_subjects} people and {statistics.min_trials} searches).") in said
    assert "For the false alert rate, too few people with group “e” were measured" in said
    assert "too few people with group “d” and" not in said.split("Miss rate (FNIR)")[0]


def test_summary_footnote_names_the_family_and_correction(context, summary):
    said = text(summary)
    assert f"This audit made {context.summary.n_tests} such comparisons" in said
    assert "Benjamini-Hochberg" in said and "false discoveries" in said
    assert "does not mean they are equal" in said


# -- verdicts and sentences on constructed comparisons -------------------------


def rate(group: str, value: float, errors: int = 10) -> GroupRate:
    return GroupRate(group, value, value / 2, value * 2, "wilson-clustered", 200, 50, errors, True)


def comparison(**changes) -> Comparison:
    fields = dict(metric="fpir", grouping="group", point=None, high=rate("female", 0.05),
                  low=rate("male", 0.02), ratio=Interval(2.5, 1.1, 5.0, "mover-log"),
                  difference=Interval(0.03, 0.01, 0.05, "mover"), p_value=0.01,
                  p_adjusted=0.2, detectable=1.9, alpha=0.05)
    fields.update(changes)
    return Comparison(**fields)


def make_finding(c: Comparison):
    from audit.report.findings import Finding
    from audit.report.reading import OperatingPoint

    point = OperatingPoint("op", "deployment", 0.6, "deployment")
    return Finding("fpir", "group", point, dataclasses.replace(c, point=point), (), (), 2)


@pytest.mark.parametrize(
    "changes, verdict",
    [
        ({"p_value": 0.001, "p_adjusted": 0.049}, "shown"),
        ({"p_value": 0.01, "p_adjusted": 0.2}, "not_after_correction"),
        ({"p_value": 0.3, "p_adjusted": 0.9}, "not_shown"),
        ({"ratio": Interval(None), "p_value": 1.0, "p_adjusted": 1.0}, "no_errors"),
    ],
)
def test_verdict_follows_the_adjusted_p_value(changes, verdict):
    assert comparison(**changes).verdict == verdict


def test_p_value_just_below_alpha_is_not_printed_as_alpha():
    said = sentence(make_finding(comparison(p_value=0.001, p_adjusted=0.0499)))
    assert "adjusted p = 0.0499" in said
    low_end = sentence(make_finding(comparison(p_value=0.049, p_adjusted=0.3,
                                               ratio=Interval(1.9, 1.004, 3.6, "mover-log"))))
    assert "95% CI 1.004 to 3.6" in low_end  # an end above 1 never prints as 1.0


# -- the disparity-by-threshold data ------------------------------------------


def sweep_frame() -> pd.DataFrame:
    """A hand-made table: the pair (x, y) at the deployment and on a 4-point sweep."""
    base = {"grouping": "g", "ci_method": None, "n_trials": 100, "n_subjects": 30,
            "n_errors": 5, "sufficient": True, "target": float("nan")}
    rows = []
    for group, value in (("x", 0.05), ("y", 0.02)):
        rows.append({**base, "metric": "fpir", "group": group, "group_b": None, "threshold": 0.6,
                     "value": value, "ci_low": value / 2, "ci_high": value * 2,
                     "statistic": "rate", "operating_point": "deployment",
                     "point_kind": "deployment"})

    def ratio(t, high, low, value, lo, hi):
        return {**base, "metric": "fpir", "group": high, "group_b": low, "threshold": t,
                "value": value, "ci_low": lo, "ci_high": hi, "statistic": "ratio",
                "operating_point": "sweep", "point_kind": "sweep"}

    inf, nan = float("inf"), float("nan")
    rows += [
        ratio(0.4, "x", "y", 2.0, 1.2, 3.3),  # shown: x higher
        ratio(0.5, "y", "x", 2.0, 1.5, 2.5),  # the two swap places: x/y = 0.5 (0.4 to 0.67), shown
        ratio(0.6, "x", "y", 1.5, 0.8, 2.8),  # not shown
        ratio(0.7, "x", "y", inf, 0.8, inf),  # y had no error: at least 0.8, not shown
        ratio(0.8, "x", "y", nan, nan, nan),  # neither had an error
    ]
    return pd.DataFrame(rows, columns=columns.COLUMNS)


def test_disparity_curve_from_a_hand_made_sweep():
    index = MetricsIndex(columns.to_table(sweep_frame()), run_info())
    (curve,) = disparity_curves(index, ("g",), index.points)
    assert (curve.numerator, curve.denominator, curve.reference) == ("x", "y", False)
    got = [(p.threshold, p.ratio, p.low, p.high, p.shown) for p in curve.points]
    assert got == [
        (0.4, 2.0, 1.2, 3.3, True),
        (0.5, 0.5, 0.4, pytest.approx(1 / 1.5), True),
        (0.6, 1.5, 0.8, 2.8, False),
        (0.7, None, 0.8, None, False),
        (0.8, None, None, None, False),
    ]
    assert curve.shown_thresholds == (0.4, 0.5) and curve.shown_runs == ((0.4, 0.5),)


# -- no string parsing ---------------------------------------------------------

#: Patterns that would mean reading structure out of labels. Not searched: changes.py (the
#: comparison of runs, another stage's), fetcher.py and svg.py (they parse URLs and SVG).
NOT_LABELS = {"changes.py", "fetcher.py", "svg.py", "changes.html.j2"}
PARSING = [r'split\(\s*" / "', r'" vs "', r'":max_min', r'"target_', r'" -> "', r"partition\(",
           r'split\(\s*":"', r'split\(\s*" x "', r"\.str\.", r"_TARGET", r"_split_pair",
           r"_stratum_of", r'\(garbe\|fdr\)']


@pytest.mark.parametrize("pattern", PARSING)
def test_report_parses_no_labels(pattern):
    sources = [*REPORT.glob("*.py"), *TEMPLATES.rglob("*.j2")]
    sources = [p for p in sources if p.name not in NOT_LABELS]
    hits = [f"{p.name}:{n}" for p in sources
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if re.search(pattern, line)]
    assert hits == []


def test_a_rate_with_no_trials_at_all_is_not_measured_not_insufficient():
    import warnings

    from report_tables import DEPLOYMENT, hand_made_scores

    from audit.metrics import compute_metrics

    scores, images = hand_made_scores()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        impostors_only = compute_metrics(scores[~scores["mated"]], images,
                                         thresholds=(DEPLOYMENT,), groupings=("group",))
    rendered = text(environment().get_template("sections/summary.html.j2").render(
        ctx=build_context(impostors_only, run_info())))
    assert re.search(r"Miss rate \(FNIR\)\s*: not measured", rendered)
    assert "too few people" not in rendered.split("Miss rate (FNIR)")[1].split("False match")[0]


def test_a_named_reference_is_stated_against_each_other_group(frame):
    """With reference ``b`` the FPIR findings at the deployment point are (b, a), (b, c), ...
    for every other sufficient group, each quoting that fixed pair's own rows."""
    reference = "b"
    ctx = build_context(hand_made(), run_info(statistics=dataclasses.replace(
        run_info().statistics, reference_groups={"group": reference})))
    point = next(p for p in ctx.summary.points if p.point and p.point.label == "deployment")
    found = next(r for r in point.rates if r.metric == "fpir").findings
    rates = frame[(frame["metric"] == "fpir") & (frame["operating_point"] == "deployment")
                  & (frame["grouping"] == "group") & (frame["statistic"] == "rate")]
    others = sorted(set(rates.loc[rates["sufficient"], "group"]) - {reference})
    assert len(others) >= 2
    pairs = sorted({f.comparison.high.group, f.comparison.low.group} - {reference} for f in found)
    assert pairs == [{g} for g in others]
    for f in found:
        c = f.comparison
        rows = pair_rows(frame, "fpir", "deployment", c.high.group, c.low.group)
        assert c.ratio.value == pytest.approx(rows.loc["ratio", "value"])
    shown = text(environment().get_template("sections/summary.html.j2").render(ctx=ctx))
    assert "people labelled “b” (the reference group named in the audit specification)" in shown
    # Without a reference: one finding, the highest against the lowest.
    default = next(p for p in build_context(hand_made(), run_info()).summary.points
                   if p.point and p.point.label == "deployment")
    assert len(next(r for r in default.rates if r.metric == "fpir").findings) == 1


def test_a_one_rate_summary_is_not_hidden_by_an_uncomputed_combined_one(frame):
    """GARBE and FDR need the other rate's groups too; their lack must not blank max/min."""
    from audit.report.reading import MetricsIndex, OperatingPoint

    rows = frame.iloc[:0].copy()
    base = dict(metric="fpir", grouping="gender", group="all", group_b=None, threshold=0.5,
                ci_low=None, ci_high=None, ci_method=None, n_trials=100, n_subjects=20,
                n_errors=5, operating_point="deployment", point_kind="deployment")
    rows = pd.DataFrame([
        {**base, "statistic": "max_min_ratio", "value": 1.55, "sufficient": True},
        {**base, "statistic": "gini", "value": 0.22, "sufficient": True},
        {**base, "statistic": "garbe", "value": None, "sufficient": False},
        {**base, "statistic": "fdr", "value": None, "sufficient": False},
    ]).reindex(columns=frame.columns)
    index = MetricsIndex(rows, run_info())
    (summary,) = index.summaries("fpir", "gender",
                                 OperatingPoint("p", "deployment", 0.5, "deployment"))
    assert summary.sufficient and summary.values["max_min_ratio"] == 1.55
    assert summary.values["garbe"] is None


def test_met_limits_say_how_and_at_which_thresholds_they_were_judged(context):
    """'Met' alone hid that the limits were judged on estimates at calibrated thresholds."""
    from audit.report.policy_outcome import PolicyCheck, PolicyOutcome

    checks = (PolicyCheck("max_fpir_ratio", 3.0, "estimate", "met", "fpir", "ratio", "gender",
                          "f", "m", "target_fpir=0.01", 0.943, 1.6, 0.78, 3.2),
              PolicyCheck("max_fpir_ratio", 3.0, "estimate", "met", "fpir", "ratio", "gender",
                          "f", "m", "target_fmr=0.001", 0.936, 1.5, 0.8, 2.9),
              PolicyCheck("max_fta", 0.05, "estimate", "met", "fta", "rate", "overall", "all"))
    outcome = PolicyOutcome("met", "estimate", False, (("max_fpir_ratio", 3.0), ("max_fta", 0.05)),
                            checks)
    said = text(environment().get_template("sections/summary.html.j2").render(
        ctx=dataclasses.replace(context, policy=outcome)))
    assert ("were met (max_fpir_ratio 3, max_fta 0.05), judged at thresholds 0.936 and 0.943 on "
            "the measured values, not their confidence intervals.") in said


def test_a_group_too_small_here_but_on_the_size_curves_is_pointed_there(context):
    """The demo said "too few women" for the miss rate and later gave it from the curves."""
    from types import SimpleNamespace

    point = context.summary.primary
    fnir, _ = finding(context, "fnir", point.label)
    assert [g.group for g in fnir.insufficient] == ["d", "e"]

    def at(metric, group="all", size=None):  # enough data for d's miss rate only
        return (SimpleNamespace(sufficient=metric == "fnir" and group == "d")
                if group != "all" else None)

    curve = SimpleNamespace(operating_point=point, at=at)
    said = text(environment().get_template("sections/summary.html.j2").render(
        ctx=dataclasses.replace(context, size_curves=(curve,))))
    assert ("which count every person in the data rather than the watchlists drawn here, have "
            "enough data to give the miss rate of people labelled “d”.") in said
    assert "enough data to give" not in text(environment().get_template(
        "sections/summary.html.j2").render(ctx=context))

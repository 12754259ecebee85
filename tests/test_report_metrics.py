"""From a simulated audit through the real metrics stage to the report.

:mod:`report_audit` simulates a gender x ethnicity population (women's
non-mated scores run higher; "other" is too small) and passes it through
:func:`audit.runs.measure.measure`, as ``lfr-audit run`` does. The report must
state what that table holds, at every operating point, and nothing else.
"""

from __future__ import annotations

import re
import warnings

import pytest
from report_audit import DEEPFACE, DEPLOYMENT, audit_metrics, audit_spec

from audit.report import formatting, run_info_from_spec
from audit.report.context import build_context
from audit.report.render import environment, render_html


@pytest.fixture(scope="module")
def metrics():
    return audit_metrics()


@pytest.fixture(scope="module")
def run():
    spec = audit_spec().model_dump(mode="json")
    return run_info_from_spec(spec, run_id="sim-1", date="2024-06-01", provenance={"seed": 1})


@pytest.fixture(scope="module")
def context(metrics, run):
    return build_context(metrics, run)


def plain(markup: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup))


def test_run_description_from_the_spec(run):
    assert run.watchlist.size == 120 and run.statistics.min_subjects == 20
    assert run.statistics.interval == "wilson-clustered" and run.projection.crowd == 100_000


def test_every_operating_point_of_the_run(context):
    points = context.operating_points
    assert [p.label for p in points] == ["deployment", "deepface-default", "target_fpir=0.01",
                                         "target_fmr=0.001"]
    assert points[0].threshold == DEPLOYMENT and points[1].threshold == DEEPFACE
    assert [p.point.label if p.point else None for p in context.summary.points] == [
        *[p.label for p in points], None]


def test_findings_name_sufficient_groups_and_quote_their_pair(context, metrics):
    frame = metrics.to_pandas()
    for finding in context.summary.findings:
        c = finding.comparison
        if c is None:
            continue
        assert c.high.sufficient and c.low.sufficient
        assert "other" not in (c.high.group, c.low.group)
        label = c.point.label if c.point else None
        rows = frame[(frame["metric"] == c.metric) & (frame["grouping"] == c.grouping)
                     & (frame["group"] == c.high.group) & (frame["group_b"] == c.low.group)
                     & ((frame["operating_point"] == label) if label else
                        frame["operating_point"].isna())].set_index("statistic")
        assert c.p_adjusted == rows.loc["p_adjusted", "value"]
        assert (c.ratio.low, c.ratio.high) == (rows.loc["ratio", "ci_low"],
                                                 rows.loc["ratio", "ci_high"])
    gender = next(f for f in context.summary.findings
                  if f.metric == "fpir" and f.grouping == "gender" and f.point.kind == "deployment")
    assert (gender.comparison.high.group, gender.comparison.low.group) == ("female", "male")
    ethnicity = next(f for f in context.summary.findings if f.metric == "fnir"
                     and f.grouping == "ethnicity")
    assert [g.group for g in ethnicity.insufficient] == ["other"]


def test_summary_sentence_at_deepface_default(context):
    html = environment().get_template("sections/summary.html.j2").render(ctx=context)
    text = plain(html)
    point = next(p for p in context.summary.points if p.point and p.point.label == "deepface-default")
    fpir = next(r for r in point.rates if r.metric == "fpir").findings[0].comparison
    assert fpir.shown
    assert (f"At {formatting.threshold(DEEPFACE)}, women passing the camera were "
            f"{formatting.ratio(fpir.ratio.value)} times as likely as men to trigger a false alert "
            f"each time they were searched "
            f"(95% CI {formatting.ratio_end(fpir.ratio.low)} to "
            f"{formatting.ratio_end(fpir.ratio.high)}; adjusted p") in text
    assert "For the miss rate, too few people with ethnicity “other”" in text


def test_conditions_curves_and_matrices(context):
    assert context.conditions == ("face_height_band",)
    assert context.single_groupings == ("gender", "ethnicity")
    assert {(c.grouping, c.metric) for c in context.results.disparity} == {
        (g, m) for g in ("gender", "ethnicity") for m in ("fpir", "fnir", "fmr", "fnmr")}
    for curve in context.results.disparity:
        assert len(curve.points) >= 40 and curve.chosen_at.kind == "deployment"
    assert {m.grouping for m in context.results.cross} == {"gender", "ethnicity"}


def test_projection_holds_for_the_audited_watchlist(context, metrics):
    frame = metrics.to_pandas()
    row = frame[(frame["metric"] == "projected_false_alerts") & (frame["grouping"] == "overall")
                & (frame["operating_point"] == "deployment")].iloc[0]
    assert context.projection.overall.false_alerts.value == row["value"]
    assert context.projection.audit_watchlist == 120


def test_whole_report_renders_without_warnings(context):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # e.g. matplotlib's "No artists with labels"
        html = render_html(context)
    text = plain(html)
    assert "5.6 Thresholds: where disparity appears" in text
    row = re.search(r'<th scope="row">other</th>\s*<td class="rate insufficient">', html)
    assert row, "the small group is shown as insufficient data"


@pytest.mark.parametrize(
    "function, value, expected",
    [
        (formatting.percent, 0.00417, "0.42%"),
        (formatting.percent, float("nan"), ""),
        (formatting.percent, 0.99999, "99.999%"),
        (formatting.ratio, 2.149, "2.1"),
        (formatting.ratio_end, 1.0049, "1.005"),
        (formatting.ratio_end, 0.9951, "0.995"),
        (formatting.one_in, 1 / 5988, "6,000"),
        (formatting.one_in, 0.0, ""),
        (formatting.threshold, 0.6, "0.60"),
        (formatting.pvalue, 0.00004, "< 0.001"),
        (formatting.count, 2470, "2,470"),
    ],
)
def test_formatting(function, value, expected):
    assert function(value) == expected

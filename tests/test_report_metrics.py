"""From simulated scores through the real metrics stage to the report.

Scores are simulated for a gender x ethnicity population in which women's
non-mated scores run higher (more false alerts and false matches) and one
ethnicity group ("other") is too small to report. The metrics table comes from
``audit.metrics.engine.compute_metrics`` plus ``audit.metrics.sweep.sweep``,
the run description from a default audit spec through ``run_info_from_spec``.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from audit.report import formatting, run_info_from_spec
from audit.report.context import build_context
from audit.report.deployment import Estimate, false_alerts, scale_fpir, share_correct, true_alerts
from audit.report.render import render_html

ETHNICITIES = ("asian", "black", "white", "other")


def simulate(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_subjects = 800
    subject = np.arange(n_subjects)
    gender = np.where(subject % 2 == 0, "female", "male")
    ethnicity = np.array([ETHNICITIES[(s // 2) % 3] for s in subject], dtype=object)
    ethnicity[-8:] = "other"  # 8 people: below the minimum size
    images = pd.DataFrame(
        {
            "image_id": [f"s{s}_{k}" for s in subject for k in range(3)],
            "subject_id": [f"s{s}" for s in subject for _ in range(3)],
            "gender": np.repeat(gender, 3),
            "ethnicity": np.repeat(ethnicity, 3),
        }
    )
    female = gender == "female"
    rows = []
    # 1:1 mated pairs (image 0 vs 1) and non-mated pairs between random subjects.
    for s in subject:
        rows.append(("verification", f"s{s}_0", f"s{s}_1", f"s{s}", f"s{s}", rng.normal(0.74, 0.08), True, None, None, None))
    a = rng.integers(0, n_subjects, 40_000)
    b = (a + rng.integers(1, n_subjects, a.size)) % n_subjects
    scores = rng.normal(0.30, 0.09, a.size) + 0.05 * female[a]
    for i, j, sc in zip(a, b, scores):
        rows.append(("verification", f"s{i}_0", f"s{j}_1", f"s{i}", f"s{j}", sc, False, None, None, None))
    # 1:N: odd-numbered quarter enrolled; image 2 of everyone searched once.
    enrolled = subject % 4 < 2
    for s in subject:
        if enrolled[s]:
            score, correct = rng.normal(0.75, 0.09), bool(rng.random() > 0.02)
        else:
            score, correct = rng.normal(0.45, 0.06) + 0.06 * female[s], None
        rows.append(("identification", f"s{s}_2", None, f"s{s}", None, score, bool(enrolled[s]), 0, None, correct))
    columns = ["trial_kind", "probe_id", "reference_id", "probe_subject", "reference_subject",
               "score", "mated", "fold", "rank", "best_is_true_entry"]
    fta = pd.DataFrame({"image_id": images["image_id"], "fta": rng.random(len(images)) < 0.03})
    return pd.DataFrame(rows, columns=columns), images, fta


@pytest.fixture(scope="module")
def metrics() -> pa.Table:
    compute_metrics = pytest.importorskip("audit.metrics.engine").compute_metrics
    from audit.metrics.sweep import threshold_sweep

    scores, images, fta = simulate()
    groupings = ("gender", "ethnicity")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty intersections warn by design
        table = compute_metrics(
            scores, images, fta, thresholds=(0.60,), target_fmr=(1e-3,), groupings=groupings,
            min_subjects=20, min_trials=50, n_boot=200, seed=1,
        )
        swept = threshold_sweep(scores, images, thresholds=np.round(np.arange(0.40, 0.81, 0.025), 3),
                      groupings=("overall", "gender", "ethnicity"), min_subjects=20, min_trials=50)
    return pa.concat_tables([table, swept.cast(table.schema)])


@pytest.fixture(scope="module")
def spec() -> dict:
    from audit.config import AuditSpec

    return AuditSpec(
        dataset={"name": "lfw"},
        thresholds={"deployment": [0.60], "target_fmr": [1e-3]},
        watchlist={"size": 400, "draws": 1},
        statistics={"min_subjects": 20, "min_trials": 50, "bootstrap": 200},
    ).model_dump(mode="json")


def test_report_from_compute_metrics(metrics, spec):
    run = run_info_from_spec(spec, run_id="sim-1", date="2024-06-01", provenance={"seed": 1})
    assert run.system.model == "Dlib" and run.watchlist.size == 400 and run.statistics.min_subjects == 20
    context = build_context(metrics, run)
    assert [p.label for p in context.operating_points] == ["deployment", "target_fmr=0.001"]
    assert context.operating_points[0].source == "spec"
    fpir = next(f for f in context.summary.findings if f.metric == "fpir" and f.grouping == "gender")
    assert fpir.kind in ("differs", "differs_unbounded") and fpir.high.group == "female"
    for finding in context.summary.findings:
        assert "other" not in (finding.high.group if finding.high else "", finding.low.group if finding.low else "")
    ethnicity = next(p for p in context.results.identification if p.grouping == "ethnicity")
    other = next(r for r in ethnicity.rows if r.group == "other")
    assert not other.rates[0].sufficient
    assert context.results.sweeps and context.results.dets and context.results.cross
    assert context.projection.scale == pytest.approx(10_000 / 400)
    assert context.projection.overall.scaled_per_face.value > context.projection.overall.per_face.value

    html = render_html(context)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "women passing the camera were" in text
    overall = context.summary.overall[0]
    assert f"{formatting.count(overall.n_errors)} of {formatting.count(overall.n_trials)} searches" in text
    row = re.search(r"<th scope=\"row\">other</th>\s*<td class=\"rate insufficient\">", html)
    assert row, "the small group is shown as insufficient data"


# -- small units --------------------------------------------------------------


def test_projection_arithmetic():
    assert scale_fpir(0.0, 50) == 0.0 and scale_fpir(None, 2) is None
    assert scale_fpir(0.001, 1) == pytest.approx(0.001)
    false = false_alerts(Estimate(0.001, 0.0005, 0.002), crowd=100_000, share=0.0, factor=1)
    assert (false.value, false.low, false.high) == pytest.approx((100, 50, 200))
    true = true_alerts(Estimate(0.2, 0.1, 0.3), crowd=100_000, share=1e-3)
    assert (true.value, true.low, true.high) == pytest.approx((80, 70, 90))
    share = share_correct(true, false)
    assert share.low == pytest.approx(70 / 270) and share.high == pytest.approx(90 / 140)


@pytest.mark.parametrize(
    "function, value, expected",
    [
        (formatting.percent, 0.00417, "0.42%"),
        (formatting.percent, float("nan"), ""),
        (formatting.percent, 0.99999, "99.999%"),
        (formatting.ratio, 2.149, "2.1"),
        (formatting.one_in, 1 / 5988, "6,000"),
        (formatting.one_in, 0.0, ""),
        (formatting.threshold, 0.6, "0.60"),
        (formatting.pvalue, 0.00004, "< 0.001"),
        (formatting.count, 2470, "2,470"),
    ],
)
def test_formatting(function, value, expected):
    assert function(value) == expected

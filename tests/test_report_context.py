"""Report context: a synthetic metrics table in, typed findings and panels out.

The synthetic table (:func:`synthetic_metrics`) has the shape of the metrics
stage's output (``audit.metrics.table.SCHEMA``) for a gender x ethnicity audit:
rate rows at a deployment threshold and a calibrated one, FTA rows, cross-group
FMR rows, capture-condition rows, sweep rows and disparity rows, with one
ethnicity group ("other") below the minimum size. Rates come from counts;
intervals are Wilson intervals (rates) and Katz log intervals (ratios), so
every number is checkable by hand. The other report tests import it.
"""

from __future__ import annotations

import math
from itertools import combinations, product

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from audit.metrics import table as metrics_table
from audit.report.context import build_context, flatten
from audit.report.inputs import (
    DatasetInfo,
    GroupCount,
    ProjectionInputs,
    RunInfo,
    StatisticsInfo,
    SystemUnderTest,
    ThresholdInfo,
    WatchlistDesign,
)

DEPLOYMENT = 0.60
CALIBRATED = 0.645
TARGET = metrics_table.target_label("fmr", 0.001)
MIN_SUBJECTS, MIN_TRIALS = 20, 100
GENDERS = ("female", "male")
ETHNICITIES = ("asian", "black", "indian", "white", "other")
#: Subjects per (gender, ethnicity); "other" is below MIN_SUBJECTS.
SUBJECTS = {
    (g, e): n
    for g, per in zip(GENDERS, ((160, 170, 150, 330, 6), (170, 160, 160, 340, 6)))
    for e, n in zip(ETHNICITIES, per)
}
#: Relative risk of each label, per rate (multiplied over gender and ethnicity).
RISK = {
    "fpir": {"female": 2.1, "male": 1.0, "asian": 1.3, "black": 2.2, "indian": 1.1, "white": 1.0, "other": 1.0},
    "fmr": {"female": 1.6, "male": 1.0, "asian": 1.4, "black": 1.9, "indian": 1.2, "white": 1.0, "other": 1.0},
    "fnir": {"female": 1.1, "male": 1.0, "asian": 1.0, "black": 1.05, "indian": 1.0, "white": 1.0, "other": 1.0},
    "fnmr": {"female": 1.15, "male": 1.0, "asian": 1.0, "black": 1.1, "indian": 1.0, "white": 1.0, "other": 1.0},
    "fnmr_incl_fta": {"female": 1.15, "male": 1.0, "asian": 1.0, "black": 1.1, "indian": 1.0, "white": 1.0, "other": 1.0},
    "fta": {"female": 1.0, "male": 1.0, "asian": 1.0, "black": 1.6, "indian": 1.0, "white": 1.0, "other": 1.0},
}
#: Trials per subject of each rate.
PER_SUBJECT = {"fpir": 6, "fnir": 3, "fmr": 300, "fnmr": 4, "fnmr_incl_fta": 4, "fta": 5}
CONDITIONS = {"face_height_band": ("<60 px", "60-120 px", ">=120 px")}
CONDITION_RISK = {"<60 px": 2.5, "60-120 px": 1.2, ">=120 px": 1.0}


def base_rate(metric: str, t: float) -> float:
    """Baseline (lowest-risk group) rate of each metric at threshold t."""
    if metric == "fpir":
        return 0.002 * math.exp(-(t - DEPLOYMENT) * 40)
    if metric == "fmr":
        return 0.00012 * math.exp(-(t - DEPLOYMENT) * 45)
    if metric in ("fnir", "fnmr", "fnmr_incl_fta"):
        extra = 0.01 if metric == "fnmr_incl_fta" else 0.0
        return extra + 0.07 / (1 + math.exp(-(t - 0.66) * 25)) * 1.6
    return 0.02  # fta


def wilson(e: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = e / n
    scale = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def rate_row(metric, grouping, group, threshold, point, errors, trials, subjects) -> dict:
    if errors == 0:
        low, high, method = 0.0, 1 - 0.05 ** (1 / trials), "one-sided-bound"
    else:
        (low, high), method = wilson(errors, trials), "wilson"
    return {
        "metric": metric,
        "grouping": grouping,
        "group": group,
        "threshold": threshold,
        "value": errors / trials,
        "ci_low": low,
        "ci_high": high,
        "ci_method": method,
        "n_trials": trials,
        "n_subjects": subjects,
        "n_errors": errors,
        "sufficient": subjects >= MIN_SUBJECTS and trials >= MIN_TRIALS,
        "operating_point": point,
    }


def _cells(grouping: str) -> dict[str, list[tuple[str, str]]]:
    if grouping == "overall":
        return {"all": list(SUBJECTS)}
    if grouping == "gender":
        return {g: [c for c in SUBJECTS if c[0] == g] for g in GENDERS}
    if grouping == "ethnicity":
        return {e: [c for c in SUBJECTS if c[1] == e] for e in ETHNICITIES}
    return {f"{g} x {e}": [(g, e)] for g, e in SUBJECTS}


def group_rows(metric: str, grouping: str, t: float | None, point: str | None) -> list[dict]:
    out = []
    for label, cells in _cells(grouping).items():
        errors = trials = subjects = 0
        for g, e in cells:
            n = SUBJECTS[(g, e)] * PER_SUBJECT[metric]
            rate = min(1.0, base_rate(metric, DEPLOYMENT if t is None else t) * RISK[metric][g] * RISK[metric][e])
            errors += int(round(rate * n))
            trials += n
            subjects += SUBJECTS[(g, e)]
        out.append(rate_row(metric, grouping, label, np.nan if t is None else t, point, errors, trials, subjects))
    return out


def condition_rows(metric: str, grouping: str, t: float | None, point: str | None) -> list[dict]:
    out = []
    total = sum(SUBJECTS.values())
    for i, label in enumerate(CONDITIONS[grouping]):
        subjects = total // 3
        n = subjects * PER_SUBJECT[metric]
        rate = min(1.0, base_rate(metric, DEPLOYMENT if t is None else t) * 1.3 * CONDITION_RISK[label])
        out.append(rate_row(metric, grouping, label, np.nan if t is None else t, point, int(round(rate * n)), n, subjects))
    return out


def disparity_rows(rows: list[dict]) -> list[dict]:
    """max/min ratio (Katz interval), difference, geomean ratio, Gini, chi-square tests."""
    kept = [r for r in rows if r["sufficient"]]
    first = rows[0]
    base = {k: first[k] for k in ("grouping", "threshold", "operating_point")}
    rate = first["metric"]

    def row(statistic, group, value, low=np.nan, high=np.nan, method=None, used=kept):
        return {
            **base,
            "metric": f"{rate}:{statistic}",
            "group": group,
            "value": value,
            "ci_low": low,
            "ci_high": high,
            "ci_method": method,
            "n_trials": sum(r["n_trials"] for r in used),
            "n_subjects": sum(r["n_subjects"] for r in used),
            "n_errors": sum(r["n_errors"] for r in used),
            "sufficient": len(kept) >= 2,
        }

    hi = max(kept, key=lambda r: r["value"])
    lo = min(kept, key=lambda r: r["value"])
    pair = f"{hi['group']} / {lo['group']}"
    values = np.array([r["value"] for r in kept])
    if lo["n_errors"] > 0:
        ratio = hi["value"] / lo["value"]
        se = math.sqrt(1 / hi["n_errors"] - 1 / hi["n_trials"] + 1 / lo["n_errors"] - 1 / lo["n_trials"])
        r_low, r_high = ratio * math.exp(-1.96 * se), ratio * math.exp(1.96 * se)
    else:
        ratio, r_low, r_high = math.inf, np.nan, np.nan
    observed = np.array([[r["n_errors"], r["n_trials"] - r["n_errors"]] for r in kept])
    p = stats.chi2_contingency(observed, correction=False).pvalue if observed[:, 0].sum() else 1.0
    out = [
        row("max_min_ratio", pair, ratio, r_low, r_high, "katz-log"),
        row("max_min_difference", pair, hi["value"] - lo["value"]),
        row("max_geomean_ratio", "all", values.max() / np.exp(np.log(np.maximum(values, 1e-12)).mean())),
        row("gini", "all", float(np.abs(values[:, None] - values[None, :]).sum() / (2 * len(values) ** 2 * values.mean()) * len(values) / (len(values) - 1)) if values.mean() else np.nan),
        row("equality_p", "all", p, method="chi-square"),
        row("min_detectable_ratio", "all", 1.4, method="arcsine-power"),
    ]
    pairs = list(combinations(kept, 2))
    raw = []
    for a, b in pairs:
        obs = np.array([[a["n_errors"], a["n_trials"] - a["n_errors"]], [b["n_errors"], b["n_trials"] - b["n_errors"]]])
        raw.append(stats.chi2_contingency(obs, correction=False).pvalue if obs[:, 0].sum() else 1.0)
    adjusted = np.minimum(1.0, np.maximum.accumulate(np.sort(raw) * (len(raw) - np.arange(len(raw)))))
    order = np.argsort(raw, kind="stable")
    holm = np.empty(len(raw))
    holm[order] = adjusted
    for (a, b), p_adj in zip(pairs, holm):
        out.append(row("pairwise_p_holm", f"{a['group']} vs {b['group']}", float(p_adj), method="chi-square", used=[a, b]))
    return out


def synthetic_metrics(*, sweep: bool = True, key_override: bool = True) -> pa.Table:
    """A realistic METRICS table (plus ``operating_point``) for a gender x ethnicity audit.

    ``key_override`` pins the gender FPIR ratio at the deployment threshold to
    2.1 (95% CI 1.4 to 3.2), the issue's example sentence.
    """
    rows: list[dict] = []
    groupings = ("overall", "gender", "ethnicity", "gender x ethnicity")
    points = ((DEPLOYMENT, "deployment"), (CALIBRATED, TARGET))
    for metric in ("fmr", "fnmr", "fnmr_incl_fta", "fpir", "fnir"):
        for (t, point), grouping in product(points, groupings):
            block = group_rows(metric, grouping, t, point)
            rows.extend(block)
            if grouping != "overall":
                rows.extend(disparity_rows(block))
        for t, point in points:
            for grouping, labels in CONDITIONS.items():
                block = condition_rows(metric, grouping, t, point)
                rows.extend(block)
                rows.extend(disparity_rows(block))
    for grouping in groupings:
        block = group_rows("fta", grouping, None, None)
        rows.extend(block)
        if grouping != "overall":
            rows.extend(disparity_rows(block))
    for grouping, labels in CONDITIONS.items():
        block = condition_rows("fta", grouping, None, None)
        rows.extend(block)
        rows.extend(disparity_rows(block))
    for (t, point), grouping in product(points, ("gender", "ethnicity")):
        for probe, reference in product(_cells(grouping), repeat=2):
            same = probe == reference
            risk = math.sqrt(RISK["fmr"][probe] * RISK["fmr"][reference]) * (1.4 if same else 0.6)
            subjects = sum(SUBJECTS[c] for c in _cells(grouping)[probe])
            n = subjects * 150
            errors = int(round(base_rate("fmr", t) * risk * n))
            rows.append(rate_row("fmr_cross", grouping, f"{probe} -> {reference}", t, point, errors, n, subjects))
    for t, point in points:
        for grouping in ("gender", "ethnicity"):
            for name in ("garbe", "fdr"):
                for a, b in (("fpir", "fnir"), ("fmr", "fnmr")):
                    value = 0.31 if name == "garbe" else 0.993
                    rows.append(
                        {
                            "metric": f"{name}({a},{b})", "grouping": grouping, "group": "all",
                            "threshold": t, "value": value, "ci_low": value * 0.8, "ci_high": min(1.0, value * 1.15),
                            "ci_method": "bootstrap-subject", "n_trials": 1000, "n_subjects": 500, "n_errors": 10,
                            "sufficient": True, "operating_point": point,
                        }
                    )
    if sweep:
        grid = np.round(np.arange(0.40, 0.801, 0.02), 2)
        for metric, grouping, t in product(("fmr", "fnmr", "fpir", "fnir"), ("overall", "gender", "ethnicity"), grid):
            for r in group_rows(metric, grouping, float(t), "sweep"):
                rows.append({**r, "ci_low": np.nan, "ci_high": np.nan, "ci_method": None})
    frame = pd.DataFrame(rows, columns=metrics_table.COLUMNS)
    if key_override:
        key = (frame["metric"] == "fpir:max_min_ratio") & (frame["grouping"] == "gender") & (
            frame["operating_point"] == "deployment"
        )
        frame.loc[key, ["value", "ci_low", "ci_high", "ci_method"]] = [2.1, 1.4, 3.2, "bootstrap-subject"]
        key = (frame["metric"] == "fpir:pairwise_p_holm") & (frame["grouping"] == "gender") & (
            frame["operating_point"] == "deployment"
        )
        frame.loc[key, "value"] = 0.0004
    frame["n_trials"] = frame["n_trials"].astype("int64")
    frame["n_subjects"] = frame["n_subjects"].astype("int64")
    frame["n_errors"] = frame["n_errors"].astype("int64")
    return metrics_table.to_table(frame)


def small_metrics() -> pa.Table:
    """The synthetic table cut to overall and gender at the deployment threshold (quick to render)."""
    table = synthetic_metrics(sweep=False, key_override=False)
    frame = table.to_pandas()
    point = frame["operating_point"]
    keep = frame["grouping"].isin(["overall", "gender"]) & (point.isna() | (point == "deployment"))
    return metrics_table.to_table(frame[keep].reset_index(drop=True))


def synthetic_run(**changes) -> RunInfo:
    """A RunInfo as the CLI would fill it for the synthetic audit."""
    composition = []
    for g in GENDERS:
        n = sum(v for (gg, _), v in SUBJECTS.items() if gg == g)
        composition.append(GroupCount("gender", g, n, n * 5))
    for e in ETHNICITIES:
        n = sum(v for (_, ee), v in SUBJECTS.items() if ee == e)
        composition.append(GroupCount("ethnicity", e, n, n * 5))
    fields = dict(
        run_id="2024-05-01T10-00-00-synthetic",
        date="2024-05-01",
        title="Synthetic LFR audit",
        spec={
            "name": "synthetic",
            "seed": 7,
            "datasets": [{"name": "utkface", "root": "/data/utkface"}],
            "thresholds": {"deployment": [DEPLOYMENT], "target_fmr": [0.001]},
            "statistics": {"bootstrap": 1000, "confidence": 0.95},
        },
        provenance={
            "versions": {"lfr-audit": "0.1.0", "deepface": "0.0.103", "numpy": "2.4.6"},
            "weights": {"dlib_face_recognition_resnet_model_v1.dat": "sha256:5a3c..."},
            "dataset_fingerprint": "sha256:0f1e2d3c4b5a",
            "seed": 7,
            "timings": {"pipeline_s": 812.4, "matching_s": 40.2, "metrics_s": 3.1},
        },
        system=SystemUnderTest(
            model="Dlib",
            detector="dlib",
            alignment="aligned",
            preprocessing="deepface",
            normalization="base",
            distance="cosine",
            score_note="similarity = 1 - cosine distance",
            thresholds=(ThresholdInfo(DEPLOYMENT, "deployment", "spec", "the operator's stated setting"),),
        ),
        watchlist=WatchlistDesign(size=1000, draws=5, description="one enrolment image per watchlisted subject"),
        datasets=(
            DatasetInfo(
                name="UTKFace",
                label_source="perceived",
                label_origin="annotators and an age/gender/race estimator, checked by hand",
                subjects=sum(SUBJECTS.values()),
                images=sum(SUBJECTS.values()) * 5,
                composition=tuple(composition),
                notes=("Ethnicity 'other' merges several groups.",),
                citation="Zhang, Song & Qi (2017), CVPR",
                licence="non-commercial research",
                fingerprint="sha256:0f1e2d3c4b5a",
            ),
        ),
        projection=ProjectionInputs(crowd=100_000, watchlist=10_000, share_on_watchlist=1e-4),
        statistics=StatisticsInfo(confidence=0.95, bootstrap=1000, min_subjects=MIN_SUBJECTS, min_trials=MIN_TRIALS),
        condition_groupings=tuple(CONDITIONS),
    )
    fields.update(changes)
    return RunInfo(**fields)


@pytest.fixture(scope="module")
def context():
    return build_context(synthetic_metrics(), synthetic_run())


def test_operating_points_deployment_first(context):
    points = context.operating_points
    assert [p.label for p in points] == ["deployment", TARGET]
    assert points[0].threshold == DEPLOYMENT and points[0].source == "spec"
    assert points[1].kind == "target" and points[1].target_rate == "fmr" and points[1].target == 0.001


def test_groupings_split_demographic_and_conditions(context):
    assert context.groupings == ("gender", "ethnicity", "gender x ethnicity")
    assert context.conditions == ("face_height_band",)


def test_key_finding_fpir_is_the_pinned_ratio(context):
    key = [f for f in context.summary.findings if f.key]
    fpir = next(f for f in key if f.metric == "fpir")
    assert fpir.kind == "differs"
    assert fpir.grouping in ("gender", "ethnicity")
    gender = next(f for f in context.summary.findings if f.metric == "fpir" and f.grouping == "gender")
    assert (gender.high.group, gender.low.group) == ("female", "male")
    assert (gender.ratio.value, gender.ratio.low, gender.ratio.high) == (2.1, 1.4, 3.2)
    assert gender.p == 0.0004


def test_insufficient_group_is_never_ranked(context):
    for finding in context.summary.findings:
        for side in (finding.high, finding.low):
            assert side is None or side.sufficient
    ethnicity = next(f for f in context.summary.findings if f.metric == "fpir" and f.grouping == "ethnicity")
    assert ethnicity.insufficient == ("other",)
    assert "other" not in (ethnicity.high.group, ethnicity.low.group)


def test_small_difference_is_not_shown():
    # FNIR differs little between genders (risk 1.1): the interval includes 1.
    context = build_context(synthetic_metrics(), synthetic_run())
    fnir = next(f for f in context.summary.findings if f.metric == "fnir" and f.grouping == "gender")
    assert fnir.kind == "not_shown"
    assert fnir.ratio.low < 1 < fnir.ratio.high


def test_panels_cover_families_points_and_groupings(context):
    r = context.results
    assert {(p.grouping, p.operating_point.label) for p in r.identification} == {
        (g, op) for g in context.groupings for op in ("deployment", TARGET)
    }
    panel = next(p for p in r.identification if p.grouping == "gender" and p.operating_point.label == "deployment")
    assert panel.metrics == ("fpir", "fnir")
    assert [row.group for row in panel.rows] == ["female", "male"]
    assert panel.overall.rates[0].n_trials == sum(SUBJECTS.values()) * PER_SUBJECT["fpir"]
    assert {c.name for c in panel.combined} == {"garbe", "fdr"}
    assert [p.grouping for p in r.fta] == list(context.groupings)
    assert {p.family for p in r.conditions} == {"fta", "identification", "verification"}


def test_cross_matrix_is_square(context):
    matrix = next(m for m in context.results.cross if m.grouping == "ethnicity")
    assert matrix.probe_groups == matrix.reference_groups == ETHNICITIES
    assert all(cell is not None for row in matrix.cells for cell in row)


def test_sweeps_and_det_include_overall(context):
    sweep = next(s for s in context.results.sweeps if s.family == "identification" and s.grouping == "gender")
    assert [s.group for s in sweep.series[0]] == ["all", "female", "male"]
    assert sweep.marks[0].threshold == DEPLOYMENT
    det = next(d for d in context.results.dets if d.family == "verification" and d.grouping == "gender")
    assert det.curves[0].marks and det.curves[0].marks[0][2] == context.operating_points[0].id


def test_projection_as_measured_with_scaled_sensitivity(context):
    projection = context.projection
    assert projection.source == "report" and projection.scale == 10  # 10,000 / 1,000
    fpir = projection.overall.fpir.value
    assert projection.overall.false_alerts.value == pytest.approx(100_000 * (1 - 1e-4) * fpir)
    assert projection.overall.per_face.value == pytest.approx((1 - 1e-4) * fpir)
    scaled = 1 - (1 - fpir) ** 10
    assert projection.overall.scaled_false_alerts.value == pytest.approx(100_000 * (1 - 1e-4) * scaled)
    share = projection.overall.share_correct
    assert share.low <= share.value <= share.high
    assert projection.overall.per_alert.value == pytest.approx(1 - share.value)


def test_projection_agrees_with_the_metrics_stage():
    """The report's own projection equals project_deployment's rows, which it prefers."""
    project = pytest.importorskip("audit.metrics.projection").project_deployment
    import warnings

    table = synthetic_metrics(sweep=False)
    run = synthetic_run()
    mine = build_context(table, run).projection
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = project(
            table, crowd_size=run.projection.crowd, watchlist_share=run.projection.share_on_watchlist,
            watchlist_size=run.projection.watchlist, audit_watchlist_size=run.watchlist.size,
        )
    theirs = build_context(pa.concat_tables([table, rows]), run).projection
    assert theirs.source == "metrics" and mine.source == "report"
    for a, b in [(mine.overall, theirs.overall), *zip(mine.groupings[0][1], theirs.groupings[0][1])]:
        for name in ("alerts", "false_alerts", "true_alerts", "share_correct", "per_face", "per_alert"):
            x, y = getattr(a, name), getattr(b, name)
            assert (x.value, x.low, x.high) == pytest.approx((y.value, y.low, y.high), nan_ok=True), name


def test_compositions_from_run_or_fta_rows(context):
    assert {c.grouping for c in context.compositions} == {"gender", "ethnicity"}
    bare = build_context(synthetic_metrics(sweep=False), RunInfo(run_id="bare"))
    fta = {c.grouping: c for c in bare.compositions}
    assert fta["gender"].dataset is None
    assert fta["gender"].rows[0].images == sum(v for (g, _), v in SUBJECTS.items() if g == "female") * 5


def test_bare_table_without_sweeps_or_run_details():
    context = build_context(synthetic_metrics(sweep=False), RunInfo(run_id="bare"))
    assert context.results.sweeps == () and context.results.dets == ()
    assert context.projection.scale is None and context.projection.audit_watchlist is None
    assert context.faces == ()


def test_faces_only_when_asked(tmp_path):
    from audit.report.inputs import FaceImage

    run = synthetic_run(face_images=(FaceImage(tmp_path / "a.png", "example"),))
    assert build_context(synthetic_metrics(sweep=False), run).faces == ()
    assert len(build_context(synthetic_metrics(sweep=False), run, include_faces=True).faces) == 1


def test_flatten_nested_spec():
    pairs = flatten({"a": {"b": [1, 2]}, "datasets": [{"name": "lfw"}]})
    assert [(p.key, p.value) for p in pairs] == [("a.b", "1, 2"), ("datasets[0].name", "lfw")]


def test_metrics_table_is_checked():
    from audit.schema import SchemaError

    bad = synthetic_metrics(sweep=False).drop_columns(["ci_low"])
    with pytest.raises(SchemaError, match="ci_low"):
        build_context(bad, RunInfo(run_id="x"))

"""Policy gates: which rows a limit judges, what each mode means, and what cannot be judged.

Hand-built tables (real columns, numbers chosen to sit either side of a limit)
pin each rule; tables from :func:`audit.metrics.compute_metrics` on the
hand-worked audit of ``test_metrics_engine`` show the rules on real rows (a
zero-error group, an impostor-only dataset, a group too small to rank).
"""

from __future__ import annotations

import functools
import json
import math

import pandas as pd
import pytest
import typer
from test_metrics_engine import hand_worked
from typer.testing import CliRunner

from audit.runs import workflow
from audit.cli import EXIT_POLICY, EXIT_POLICY_NOT_EVALUATED, app, gate_policy
from audit.config import AuditSpec, PolicySpec
from audit.metrics import compute_metrics
from audit.metrics.table import COLUMNS, to_table
from audit.runs.policy import (
    FEWER_THAN_TWO,
    INSUFFICIENT,
    INSUFFICIENT_PAIRS,
    NO_POINT,
    NO_TRIALS,
    UNBOUNDED,
    UNDEFINED,
    PolicyCheck,
    PolicyOutcome,
    check_policy,
)
from audit.tables import write_json, write_table

pytestmark = pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")
INF = math.inf
runner = CliRunner()


def _row(**given) -> dict:
    """One metrics row with every column; a deployment-threshold rate of overall by default."""
    row = {"metric": "fnir", "statistic": "rate", "grouping": "overall", "group": "all",
           "group_b": None, "threshold": 0.5, "value": 0.05, "ci_low": 0.03, "ci_high": 0.08,
           "ci_method": "wilson-clustered", "n_trials": 400, "n_subjects": 100, "n_errors": 20,
           "sufficient": True, "operating_point": "deployment", "point_kind": "deployment",
           "target": None}
    row.update(given)
    return row


def _table(*rows: dict):
    return to_table(pd.DataFrame(list(rows), columns=COLUMNS))


def _states(outcome: PolicyOutcome) -> list[tuple]:
    return [(c.limit, c.grouping, c.group, c.state) for c in outcome.checks]


# -- what each mode means ---------------------------------------------------------


@pytest.mark.parametrize(("value", "low", "high", "mode", "state"), [
    # interval within the limit: met under every mode
    (0.05, 0.02, 0.09, "estimate", "met"),
    (0.05, 0.02, 0.09, "evidence", "met"),
    (0.05, 0.02, 0.09, "precaution", "met"),
    # estimate within, interval reaching beyond: only precaution breaks it
    (0.08, 0.05, 0.12, "estimate", "met"),
    (0.08, 0.05, 0.12, "evidence", "met"),
    (0.08, 0.05, 0.12, "precaution", "broken"),
    # estimate beyond, interval straddling: evidence does not break it
    (0.12, 0.09, 0.16, "estimate", "broken"),
    (0.12, 0.09, 0.16, "evidence", "met"),
    (0.12, 0.09, 0.16, "precaution", "broken"),
    # interval beyond the limit: broken under every mode
    (0.15, 0.11, 0.20, "estimate", "broken"),
    (0.15, 0.11, 0.20, "evidence", "broken"),
    (0.15, 0.11, 0.20, "precaution", "broken"),
    # on the limit is within it
    (0.10, 0.10, 0.10, "estimate", "met"),
    (0.10, 0.10, 0.10, "evidence", "met"),
    (0.10, 0.10, 0.10, "precaution", "met"),
])
def test_rate_limit_under_each_mode(value, low, high, mode, state):
    metrics = _table(_row(value=value, ci_low=low, ci_high=high))
    outcome = check_policy(PolicySpec(max_fnir=0.1, evaluate=mode), metrics)
    (check,) = outcome.checks
    assert (check.state, check.mode, outcome.state) == (state, mode, state)
    assert (check.value, check.ci_low, check.ci_high) == (value, low, high)


def test_a_check_is_one_sentence_with_its_numbers():
    metrics = _table(_row(threshold=0.94),
                     _row(grouping="gender", group="female", value=0.12, ci_low=0.09,
                          ci_high=0.16, threshold=0.94))
    overall, check = check_policy(PolicySpec(max_fnir=0.1, evaluate="precaution"), metrics,
                                  ("gender",)).checks
    assert overall.state == "met"
    assert check == PolicyCheck(
        limit="max_fnir", allowed=0.1, mode="precaution", state="broken", metric="fnir",
        statistic="rate", grouping="gender", group="female", group_b=None,
        operating_point="deployment", threshold=0.94, value=0.12, ci_low=0.09, ci_high=0.16,
        reason=None,
        sentence="max_fnir = 0.1 broken (precaution): FNIR of gender = female 0.12 "
                 "[0.09, 0.16] at threshold 0.94 (deployment)")


@pytest.mark.parametrize(("value", "low", "high", "mode", "state", "reason"), [
    (2.5, 1.5, 4.0, "estimate", "broken", None),
    (2.5, 1.5, 4.0, "evidence", "met", None),
    (2.5, 1.5, 4.0, "precaution", "broken", None),
    (1.5, 1.1, 1.9, "precaution", "met", None),
    (3.0, 2.2, 4.0, "evidence", "broken", None),
    # the lower group had no error: unbounded
    (INF, 0.8, INF, "estimate", "not evaluated", UNBOUNDED.format(lower="male")),
    (INF, 0.8, INF, "evidence", "met", None),  # judged on the lower bound
    (INF, 3.0, INF, "evidence", "broken", None),
    (INF, 0.8, INF, "precaution", "broken", None),
    # neither group had an error: undefined under every mode
    (None, None, None, "estimate", "not evaluated", UNDEFINED),
    (None, None, None, "evidence", "not evaluated", UNDEFINED),
    (None, None, None, "precaution", "not evaluated", UNDEFINED),
])
def test_ratio_limit_under_each_mode(value, low, high, mode, state, reason):
    errors = 0 if value is None else 12
    rates = [_row(metric="fpir", grouping="gender", group=g, n_errors=errors)
             for g in ("female", "male")]
    ratio = _row(metric="fpir", statistic="ratio", grouping="gender", group="female",
                 group_b="male", value=value, ci_low=low, ci_high=high, n_errors=errors)
    metrics = _table(_row(metric="fpir"), *rates, ratio)
    outcome = check_policy(PolicySpec(max_fpir_ratio=2.0, evaluate=mode), metrics, ("gender",))
    (check,) = outcome.checks
    assert (check.state, check.reason) == (state, reason)
    assert (check.statistic, check.group, check.group_b) == ("ratio", "female", "male")
    assert check.value == value and check.ci_low == low and check.ci_high == high


# -- a zero-error group on a real metrics table -------------------------------------


@functools.cache
def _hand_worked_metrics(min_subjects: int = 1):
    """The hand-worked audit at threshold 0.5 (a computed table is immutable: shared)."""
    scores, images, fta = hand_worked()
    return compute_metrics(scores, images, fta, thresholds=(0.5,), groupings=("gender",),
                           min_subjects=min_subjects, min_trials=1)


def test_zero_error_group_under_each_mode():
    """Women 1 false alert in 1 search, men 0 in 2: the FPIR ratio is unbounded."""
    metrics = _hand_worked_metrics()
    frame = metrics.to_pandas()
    row = frame[(frame.metric == "fpir") & (frame.statistic == "ratio")].iloc[0]
    assert (row.group, row.group_b, row.value, row.ci_high) == ("female", "male", INF, INF)

    def check(mode):
        (only,) = check_policy(PolicySpec(max_fpir_ratio=2.0, evaluate=mode), metrics,
                               ("gender",)).checks
        return only

    estimate, evidence, precaution = check("estimate"), check("evidence"), check("precaution")
    assert (estimate.state, estimate.reason) == ("not evaluated", UNBOUNDED.format(lower="male"))
    assert 'evaluate = "evidence"' in estimate.sentence
    assert evidence.state == "met" and evidence.ci_low == row.ci_low < 2.0
    assert precaution.state == "broken" and precaution.ci_high == INF
    # The old bug: the estimate used to pass this limit by skipping the infinite value.
    assert check_policy(PolicySpec(max_fpir_ratio=2.0), metrics, ("gender",)).state == (
        "not evaluated")


def test_fewer_than_two_sufficient_groups_and_small_groups_are_named():
    """With min_subjects = 2 women (one false-alert subject) are too few to rank."""
    metrics = _hand_worked_metrics(min_subjects=2)
    outcome = check_policy(PolicySpec(max_fpir_ratio=2.0, max_fpir=0.5), metrics, ("gender",))
    assert outcome.state == "not evaluated"
    assert [(c.limit, c.grouping, c.group, c.state, c.reason) for c in outcome.checks] == [
        ("max_fpir_ratio", "gender", None, "not evaluated", FEWER_THAN_TWO),
        ("max_fpir_ratio", "gender", "female", "not evaluated",
         INSUFFICIENT_PAIRS.format(counts="1 subject, 1 trial")),
        ("max_fpir", "overall", "all", "met", None),
        ("max_fpir", "gender", "female", "not evaluated",
         INSUFFICIENT.format(counts="1 subject, 1 trial")),
        ("max_fpir", "gender", "male", "met", None),
    ]
    assert check_policy(PolicySpec(max_fpir=0.5, skip_unevaluable=True), metrics,
                        ("gender",)).state == "met"


def test_unknown_labels_are_missing_data_not_a_group_to_name():
    rows = [_row(grouping="gender", group=g, sufficient=s, n_subjects=n)
            for g, s, n in (("female", True, 50), ("male", True, 50), ("unknown", False, 3))]
    outcome = check_policy(PolicySpec(max_fnir=0.1), _table(_row(), *rows), ("gender",))
    assert outcome.state == "met"
    assert [c.group for c in outcome.checks] == ["all", "female", "male"]


# -- rates that cannot be evaluated ---------------------------------------------------


@functools.cache
def _impostor_only_metrics():
    scores, images, fta = hand_worked()
    return compute_metrics(scores[~scores["mated"]], images, fta, thresholds=(0.5,),
                           target_fmr=(0.3,), groupings=("gender",), min_subjects=1,
                           min_trials=1)


def test_impostor_only_dataset_leaves_miss_limits_not_evaluated():
    outcome = check_policy(PolicySpec(max_fnir=0.1, max_fmr_ratio=5.0), _impostor_only_metrics(),
                           ("gender",))
    assert outcome.state == "not evaluated"
    assert [(c.limit, c.state, c.reason) for c in outcome.not_evaluated] == [
        ("max_fnir", "not evaluated", NO_TRIALS)]
    assert outcome.not_evaluated[0].sentence == (
        "max_fnir = 0.1 not evaluated (estimate): FNIR overall at threshold 0.5 (deployment): "
        "no trials")
    # Skipping may pass the checks that could not be judged, not a policy that judged none.
    skipped = check_policy(PolicySpec(max_fnir=0.1, skip_unevaluable=True),
                           _impostor_only_metrics(), ("gender",))
    assert skipped.state == "not evaluated" and len(skipped.not_evaluated) == 1
    partly = check_policy(PolicySpec(max_fnir=0.1, max_fmr_ratio=5.0, skip_unevaluable=True),
                          _impostor_only_metrics(), ("gender",))
    assert partly.state == "met" and len(partly.not_evaluated) == 1
    assert partly.words == f"met where evaluated: {len(partly.checks) - 1} of " \
        f"{len(partly.checks)} checks"
    assert partly.to_json()["words"] == partly.words


def test_a_broken_limit_outranks_one_not_evaluated():
    outcome = check_policy(PolicySpec(max_fnir=0.1, max_fpir=0.2), _impostor_only_metrics(),
                           ("gender",))
    assert outcome.state == "broken"
    assert [c.limit for c in outcome.broken] == ["max_fpir", "max_fpir"]  # overall and women
    assert [c.limit for c in outcome.not_evaluated] == ["max_fnir"]


def test_no_policy_is_not_all_limits_met():
    outcome = check_policy(PolicySpec(), _hand_worked_metrics())
    assert outcome == PolicyOutcome("no policy", "estimate", False, (), ())
    assert AuditSpec(dataset={"name": "lfw"}).policy == PolicySpec()
    assert check_policy(PolicySpec(evaluate="evidence"), _hand_worked_metrics()).state == (
        "no policy")


# -- which rows are gated ---------------------------------------------------------------


def test_limits_apply_at_deployment_thresholds_only():
    metrics = _table(
        _row(metric="fpir", threshold=0.94, value=0.001),
        _row(metric="fpir", threshold=0.93, value=0.3, operating_point="deepface-default",
             point_kind="reference"),
        _row(metric="fpir", threshold=0.933, value=0.2, operating_point="target_fmr=0.001",
             point_kind="target_fmr", target=0.001),
        _row(metric="fpir", threshold=0.5, value=0.9, operating_point="sweep", point_kind="sweep"))
    assert check_policy(PolicySpec(max_fpir=0.01), metrics).state == "met"
    broken = check_policy(PolicySpec(max_fpir=0.0001), metrics)
    assert [c.sentence for c in broken.checks] == [
        "max_fpir = 0.0001 broken (estimate): FPIR overall 0.001 [0.03, 0.08] at threshold "
        "0.94 (deployment)"]


def test_without_deployment_thresholds_limits_apply_at_calibrated_ones():
    metrics = _table(
        _row(metric="fpir", threshold=0.93, value=0.3, operating_point="deepface-default",
             point_kind="reference"),
        _row(metric="fpir", threshold=0.933, value=0.2, operating_point="target_fmr=0.001",
             point_kind="target_fmr", target=0.001),
        _row(metric="fpir", threshold=0.95, value=0.01, operating_point="target_fpir=0.01",
             point_kind="target_fpir", target=0.01),
        _row(metric="fta", threshold=None, value=0.01, operating_point=None, point_kind=None))
    outcome = check_policy(PolicySpec(max_fpir=0.1, max_fta=0.05), metrics)
    assert [(c.limit, c.operating_point, c.value, c.state) for c in outcome.checks] == [
        ("max_fpir", "target_fmr=0.001", 0.2, "broken"),
        ("max_fpir", "target_fpir=0.01", 0.01, "met"),
        ("max_fta", None, 0.01, "met")]


def test_only_a_reference_threshold_leaves_rate_limits_not_evaluated():
    metrics = _table(_row(metric="fpir", threshold=0.93, value=0.3,
                          operating_point="deepface-default", point_kind="reference"))
    outcome = check_policy(PolicySpec(max_fpir=0.1), metrics)
    assert [(c.state, c.reason) for c in outcome.checks] == [("not evaluated", NO_POINT)]


def test_condition_bands_are_reported_not_gated():
    ratios = [_row(metric="fpir", statistic="ratio", grouping=g, group="a", group_b="b",
                   value=4.0, ci_low=2.5, ci_high=6.0)
              for g in ("gender", "face_height_band")]
    metrics = _table(_row(metric="fpir"), *ratios)
    outcome = check_policy(PolicySpec(max_fpir_ratio=3.0), metrics, ("gender",))
    assert _states(outcome) == [("max_fpir_ratio", "gender", "a", "broken")]


# -- policy.json --------------------------------------------------------------------------


def test_outcome_reads_back_as_the_same_object(tmp_path):
    limits = {"max_fpir_ratio": 2.0, "max_fnir": 0.6, "max_fta": 0.2, "max_fmr_ratio": 1.5}
    for min_subjects in (1, 2):
        metrics = _hand_worked_metrics(min_subjects=min_subjects)
        for mode in ("estimate", "evidence", "precaution"):
            for skip in (False, True):
                spec = PolicySpec(**limits, evaluate=mode, skip_unevaluable=skip)
                outcome = check_policy(spec, metrics, ("gender",))
                assert PolicyOutcome.from_json(outcome.to_json()) == outcome
    # Through the file (keys sorted), as strict JSON: an unbounded ratio's inf survives.
    outcome = check_policy(PolicySpec(max_fpir_ratio=2.0, evaluate="precaution"),
                           _hand_worked_metrics(), ("gender",))
    assert outcome.checks[0].value == outcome.checks[0].ci_high == INF
    write_json(tmp_path / "policy.json", outcome.to_json())

    def not_strict(constant):
        raise AssertionError(f"policy.json holds {constant}")

    record = json.loads((tmp_path / "policy.json").read_text(), parse_constant=not_strict)
    assert PolicyOutcome.from_json(record) == outcome


@pytest.mark.parametrize(("record", "state", "limits"), [
    ({"limits": {"max_fpir_ratio": 1.5}, "passed": False, "violations": [
        {"limit": "max_fpir_ratio", "allowed": 1.5, "observed": 2.1, "where": "gender at 0.6",
         "sentence": "max_fpir_ratio = 1.5 broken: 2.1 for gender at 0.6"}]},
     "broken", (("max_fpir_ratio", 1.5),)),
    ({"limits": {"max_fta": 0.1, "max_fnir": 0.2}, "passed": True, "violations": []},
     "met", (("max_fnir", 0.2), ("max_fta", 0.1))),
    ({"limits": {}, "passed": True, "violations": []}, "no policy", ()),
])
def test_old_policy_json_still_reads(record, state, limits):
    outcome = PolicyOutcome.from_json(record)
    assert (outcome.state, outcome.mode, outcome.limits) == (state, "estimate", limits)
    if state == "broken":
        (check,) = outcome.checks
        assert (check.limit, check.allowed, check.value, check.metric, check.state) == (
            "max_fpir_ratio", 1.5, 2.1, "fpir", "broken")
        assert check.sentence == "max_fpir_ratio = 1.5 broken: 2.1 for gender at 0.6"


# -- exit codes and output ------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "code", "last"), [
    (PolicySpec(max_fnir=0.1), EXIT_POLICY_NOT_EVALUATED,
     'policy: not evaluated (1 limit; 1 check; 1 not evaluated; evaluate = "estimate")'),
    # Every check skipped judges nothing: not evaluated (exit 4), though skipping is allowed.
    (PolicySpec(max_fnir=0.1, skip_unevaluable=True), EXIT_POLICY_NOT_EVALUATED,
     "policy: not evaluated (1 limit; 1 check; 1 not evaluated, skipped as [policy] "
     'skip_unevaluable = true allows; evaluate = "estimate")'),
    (PolicySpec(max_fnir=0.1, max_fpir=0.2), EXIT_POLICY,
     'policy: broken (2 limits; 4 checks; 2 broken; 1 not evaluated; evaluate = "estimate")'),
    (PolicySpec(max_fta=0.5), 0, 'policy: met (1 limit; 3 checks; evaluate = "estimate")'),
    (PolicySpec(), 0, "policy: no policy"),
])
def test_run_exits_by_policy_outcome_and_names_each_limit(spec, code, last, tmp_path,
                                                         monkeypatch):
    """`run` on an impostor-only audit (the pipeline replaced by its outcome)."""
    outcome = check_policy(spec, _impostor_only_metrics(), ("gender",))

    def audited(*args, **kwargs):
        return workflow.RunOutcome(tmp_path, outcome, [], {})

    monkeypatch.setattr(workflow, "run_audit", audited)
    monkeypatch.setenv("COLUMNS", "300")
    write_table(_impostor_only_metrics(), tmp_path / "metrics.parquet")
    spec_file = tmp_path / "audit.toml"
    spec_file.write_text('[dataset]\nname = "lfw"\n')
    result = runner.invoke(app, ["run", str(spec_file)])
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == last
    # The short answer comes before the policy: overall rates with intervals, too-small groups.
    assert "Overall rates" in result.output and "fpir" in result.output
    answered = runner.invoke(app, ["run", str(spec_file), "--json"])
    assert answered.exit_code == code
    assert json.loads(answered.stdout)["run_folder"] == str(tmp_path)
    named = [line for line in lines if line.startswith("policy: max_")]
    assert len(named) == len(outcome.broken) + len(outcome.not_evaluated)
    assert "all limits met" not in result.output
    if outcome.not_evaluated:
        assert any("max_fnir = 0.1 not evaluated" in line for line in named)
    if spec.skip_unevaluable:
        assert named[0].endswith("(skipped: skip_unevaluable = true)")


def test_gate_exit_codes():
    broken = PolicyOutcome.from_json({"limits": {"max_fta": 0.1}, "passed": False,
                                      "violations": [{"limit": "max_fta", "allowed": 0.1,
                                                      "observed": 0.2, "where": "overall"}]})
    for outcome, code in ((broken, EXIT_POLICY),
                          (check_policy(PolicySpec(max_fnir=0.1), _impostor_only_metrics()),
                           EXIT_POLICY_NOT_EVALUATED)):
        with pytest.raises(typer.Exit) as stopped:
            gate_policy(outcome)
        assert stopped.value.exit_code == code
    assert (EXIT_POLICY, EXIT_POLICY_NOT_EVALUATED) == (3, 4)
    gate_policy(PolicyOutcome("no policy"))  # returns: exit 0


def _run_folder(runs_dir, name, policy):
    folder = runs_dir / name
    folder.mkdir(parents=True)
    write_json(folder / "provenance.json", {
        "spec": {"name": name}, "pipeline": {"model": "Dlib", "detector": "dlib"},
        "thresholds": {"0.93": {"source": "spec"}}})
    write_json(folder / "summary.json", {})
    if policy is not None:
        write_json(folder / "policy.json", policy)


def test_runs_list_shows_the_policy_outcome(tmp_path, monkeypatch):
    metrics = _impostor_only_metrics()
    outcomes = {
        "20240101-000000-met": check_policy(PolicySpec(max_fta=0.5), metrics),
        "20240102-000000-broken": check_policy(PolicySpec(max_fpir=0.2), metrics),
        "20240103-000000-noteval": check_policy(PolicySpec(max_fnir=0.1), metrics),
        "20240104-000000-nopolicy": check_policy(PolicySpec(), metrics),
    }
    for name, outcome in outcomes.items():
        _run_folder(tmp_path, name, outcome.to_json())
    _run_folder(tmp_path, "20230101-000000-old-met",
                {"limits": {"max_fta": 0.1}, "passed": True, "violations": []})
    _run_folder(tmp_path, "20230102-000000-old-broken",
                {"limits": {"max_fta": 0.1}, "passed": False, "violations": [
                    {"limit": "max_fta", "allowed": 0.1, "observed": 0.2, "where": "overall"}]})
    _run_folder(tmp_path, "20230103-000000-unrecorded", None)
    monkeypatch.setenv("COLUMNS", "250")
    result = runner.invoke(app, ["runs", "list", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    shown = {line.split("│")[1].strip(): line.split("│")[-2].strip()
             for line in result.output.splitlines() if line.count("│") > 2}
    assert shown == {
        "20230101-000000-old-met": "met", "20230102-000000-old-broken": "broken",
        "20230103-000000-unrecorded": "-", "20240101-000000-met": "met",
        "20240102-000000-broken": "broken", "20240103-000000-noteval": "not evaluated",
        "20240104-000000-nopolicy": "no policy"}
    listed = runner.invoke(app, ["runs", "list", "--runs-dir", str(tmp_path), "--json"])
    assert listed.exit_code == 0, listed.output
    by_run = {r["run"]: r["policy"] for r in json.loads(listed.output)}
    assert by_run == {name: (None if state == "-" else state) for name, state in shown.items()}


# -- the report ------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Attempting to set identical")  # tiny table's figures
def test_the_report_reads_the_recorded_outcome(tmp_path):
    import re

    from audit.report.context import build_context
    from audit.report.inputs import RunInfo
    from audit.report.render import render_report

    metrics = _impostor_only_metrics()
    outcome = check_policy(PolicySpec(max_fnir=0.1, max_fta=0.5), metrics, ("gender",))
    run = RunInfo(run_id="r", policy=outcome.to_json())
    assert build_context(metrics, run).policy == outcome
    none = RunInfo(run_id="r", policy=check_policy(PolicySpec(), metrics).to_json())
    assert build_context(metrics, none).policy == PolicyOutcome("no policy")
    html = render_report(metrics, run, tmp_path, ("html",))["html"].read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert ("Agreed limits not evaluated: no limit was found broken, but 1 check could not be "
            "judged, so the limits are not shown to be met.") in text
    assert "Not evaluated: max_fnir allows 0.1 for all people at threshold 0.50: no trials." in text


def test_runs_list_headline_reads_the_first_audited_point_without_a_deployment(
        tmp_path, monkeypatch):
    _run_folder(tmp_path, "20240105-000000-calibrated", None)
    write_json(tmp_path / "20240105-000000-calibrated" / "summary.json", {
        "operating_points": [{"operating_point": "deepface-default", "threshold": 0.93}],
        "overall": [
            {"metric": "fpir", "operating_point": "deepface-default", "value": 0.0952},
            {"metric": "fmr", "operating_point": "target_fmr=0.001", "value": 0.001}]})
    monkeypatch.setenv("COLUMNS", "250")
    result = runner.invoke(app, ["runs", "list", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "deepface-default: fpir 9.52%" in result.output
    assert "fmr 0.10%" not in result.output


def test_a_broken_evidence_limit_says_its_interval_is_unadjusted(capsys):
    """A pair the report called "not shown after correction" broke an "evidence" limit on
    its own interval (a new user's FPIR ratio 1.29 [1.03, 1.61], adjusted p 0.072): the
    terminal says what the check read, and the report's words for the mode say the same."""
    from audit.cli.audits import EVIDENCE_PER_CHECK
    from audit.report.render import environment

    rates = [_row(metric="fpir", grouping="sex", group=g) for g in ("female", "male")]
    ratio = _row(metric="fpir", statistic="ratio", grouping="sex", group="female",
                 group_b="male", value=1.29, ci_low=1.03, ci_high=1.61)
    metrics = _table(_row(metric="fpir"), *rates, ratio)
    said = []
    for mode in ("evidence", "estimate"):
        outcome = check_policy(PolicySpec(max_fpir_ratio=1.01, evaluate=mode), metrics, ("sex",))
        assert outcome.state == "broken"
        with pytest.raises(typer.Exit):
            gate_policy(outcome, quiet=True)
        said.append(capsys.readouterr().err)
    assert ("not adjusted for the table's other comparisons: a pair not shown after "
            "correction can still break a limit") in " ".join(said[0].split())
    assert "not adjusted" not in said[1]  # the estimate reads no interval
    assert EVIDENCE_PER_CHECK.startswith('policy: "evidence" reads each check on its own')
    words = environment().get_template("macros/words.html.j2").module.policy_modes
    assert "not adjusted for the other checks" in words["evidence"]

"""Coverage of the metrics stage's intervals on simulated audits with known truth.

Each scenario simulates many audits from a model whose true group error rates
are known, runs :func:`audit.metrics.compute_metrics` on each (once with
``interval="wilson-clustered"``, the default, and once with ``"wilson"``,
independent trials), and counts how often the reported intervals contain the
truth: every group's rate, the fixed-pair ratio and difference, and, for the
null scenarios, how often ``p_value < 0.05``.

Scenarios (two groups each, grouping ``group``, one deployment threshold 0.5;
an error scores 0.1 on a mated pair and 0.9 on a non-mated one):

1. ``fnmr-clustered``: 60 + 60 subjects, 5-15 mated comparisons each, a
   per-subject random effect N(0, 1) on the logit scale; true FNMR 8% and 4%.
2. ``fnmr-independent``: the same design without a subject effect.
3. ``fmr-dyadic``: 60 + 60 subjects, 6,000 non-mated pairs between random
   distinct subjects (either orientation); false-match probability
   ``expit(mu_g(probe) + a_i + a_j)`` with the same person effect
   a ~ N(0, 1) whichever side the person is on; group by the probe's group;
   true FMR 1.5% and 0.75%. Also an interval clustered by probe subject only
   (computed here, not by the library) to show what the dyadic variance buys.
4. ``fnmr-small-group``: a large group (100 subjects, 5-15 comparisons, FNMR
   5%) beside a small one (30 subjects, 3-7 comparisons, FNMR 1%: about 1.5
   expected errors), subject effect N(0, 1); ``min_subjects=10``,
   ``min_trials=50`` so that both groups are compared. At 1.5 expected errors
   the zero-error bound (about 3/n) is always above the truth, so
   ``fnmr-small-group-b`` repeats it with FNMR 3% in the small group (about
   4.5 expected errors), where an audit with no error has a bound below the
   truth.
   ``fnmr-small-null`` gives both groups FNMR 1% (test size with ~1.5
   expected errors in the small group); ``fmr-small-group`` is the dyadic
   FMR analogue (60 + 20 subjects, 6,000 pairs, FMR 1% and 0.1%: about 1.5
   expected errors in the small group, often none) and ``fmr-small-null``
   its null (both 0.2%, about 3 expected errors in the small group).
5. ``fnmr-null`` and ``fmr-null``: scenarios 1 and 3 with equal true rates
   (6% and 1%): test size and coverage of ratio 1 / difference 0.
6. ``calibrated``: FMR and FNMR read at a threshold calibrated on each audit's
   own data, against the rates at the population threshold
   (:mod:`coverage_calibrated`).

Truth: with a subject effect b ~ N(0, s^2) and trials per subject drawn
independently of b, the trial-weighted group rate is E[expit(mu + b)]; for the
dyadic FMR the partner is a random other subject with an independent effect,
so the rate of probe group g is E[expit(mu_g + a_i + a_j)] = E[expit(mu_g +
s sqrt(2) Z)]. Each ``mu`` is solved so that this expectation, by 200-node
Gauss-Hermite quadrature, equals the target rate; the truths are checked
against a 4,000,000-draw Monte Carlo (both errors are in the results).

Each audit has its own seed, ``SeedSequence([scenario seed, audit index])``, so
the numbers do not depend on the number of worker processes.

Run from the repository root (not part of the test suite); 400 audits per
scenario (2,800 in all) take 22 CPU-minutes, about 12 minutes on 2 idle cores
(30 with the cores shared, load 7); ``--quick`` (40 audits per scenario) a
tenth of that::

    .venv/bin/python benchmarks/bench_coverage.py
    .venv/bin/python benchmarks/bench_coverage.py --quick

The full run writes ``benchmarks/results_coverage.md``; ``--quick`` only
prints unless ``--output`` is given. A run of some scenarios with an output
file replaces only their rows of ``audit/report/coverage.json``.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one process per core, no nested threads

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's audit package, not another install

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy  # noqa: E402
from scipy import optimize  # noqa: E402
from scipy.special import expit  # noqa: E402

import audit  # noqa: E402
import coverage_calibrated as calibrated  # noqa: E402
from audit.metrics import compute_metrics, contrasts  # noqa: E402
from audit.metrics.intervals import clustered_wilson_interval, zero_error_upper_bound  # noqa: E402

RESULTS = Path(__file__).with_name("results_coverage.md")
#: The measured coverage the transparency report quotes (its method section), written by a
#: full run of this script; the report reads it, nobody edits it by hand.
REPORT_JSON = Path(__file__).resolve().parents[1] / "audit" / "report" / "coverage.json"
DEFAULT_AUDITS = 400
QUICK_AUDITS = 40
NOMINAL = 0.95
TOLERANCE = 0.02
THRESHOLD = 0.5
QUADRATURE_NODES = 200
MC_CHECK_DRAWS = 4_000_000
CLUSTERED, WILSON = "wilson-clustered", "wilson"
PROBE_ONLY = "probe-only (bench)"
#: The library's interval options each audit is run with (``--clustered-only``: the default alone).
INTERVAL_RUNS = [CLUSTERED, WILSON]
INDEPENDENT = "independent (bench)"


@dataclass(frozen=True)
class Scenario:
    """Two groups, their true rates and the design of one simulated audit."""

    key: str
    title: str
    seed: int
    rate: str  # "fnmr" (one-way) or "fmr" (dyadic)
    labels: tuple[str, str]
    true_rates: tuple[float, float]
    subjects: tuple[int, int]
    sd: float  # person effect on the logit scale
    trials: tuple[tuple[int, int], tuple[int, int]] = ((5, 15), (5, 15))  # per subject, FNMR
    pairs: int = 0  # non-mated pairs, FMR
    min_subjects: int = 30
    min_trials: int = 100
    null: bool = False

    @property
    def logit_sd(self) -> float:
        """SD of the logit around mu_g: one person (FNMR) or two (FMR)."""
        return self.sd * (math.sqrt(2.0) if self.rate == "fmr" else 1.0)


SCENARIOS = (
    Scenario("fnmr-clustered", "1. FNMR, one-way clustered (subject effect sd 1)", 101, "fnmr",
             ("g1", "g2"), (0.08, 0.04), (60, 60), 1.0),
    Scenario("fnmr-independent", "2. FNMR, independent trials (no subject effect)", 102, "fnmr",
             ("g1", "g2"), (0.08, 0.04), (60, 60), 0.0),
    Scenario("fmr-dyadic", "3. FMR, dyadic person effects (sd 1 each side)", 103, "fmr",
             ("g1", "g2"), (0.015, 0.0075), (60, 60), 1.0, pairs=6000),
    Scenario("fnmr-small-group", "4. FNMR, small group (~1.5 expected errors) beside a large one",
             104, "fnmr", ("large", "small"), (0.05, 0.01), (100, 30), 1.0,
             trials=((5, 15), (3, 7)), min_subjects=10, min_trials=50),
    Scenario("fnmr-small-group-b", "4b. FNMR, small group with ~4.5 expected errors (truth above"
             " the zero-error bound) beside a large one", 107, "fnmr", ("large", "small"),
             (0.05, 0.03), (100, 30), 1.0, trials=((5, 15), (3, 7)), min_subjects=10,
             min_trials=50),
    Scenario("fnmr-small-null", "4c. FNMR null: small group (~1.5 expected errors) and a large"
             " one at the same rate", 108, "fnmr", ("large", "small"), (0.01, 0.01), (100, 30),
             1.0, trials=((5, 15), (3, 7)), min_subjects=10, min_trials=50, null=True),
    Scenario("fmr-small-group", "4d. FMR, dyadic, small group (~1.5 expected errors) beside a"
             " large one", 109, "fmr", ("large", "small"), (0.01, 0.001), (60, 20), 1.0,
             pairs=6000, min_subjects=10, min_trials=50),
    Scenario("fmr-small-null", "4e. FMR null, dyadic: small group (~3 expected errors) and a"
             " large one at the same rate", 110, "fmr", ("large", "small"), (0.002, 0.002),
             (60, 20), 1.0, pairs=6000, min_subjects=10, min_trials=50, null=True),
    Scenario("fnmr-null", "5a. FNMR null: equal rates, one-way clustered", 105, "fnmr",
             ("g1", "g2"), (0.06, 0.06), (60, 60), 1.0, null=True),
    Scenario("fmr-null", "5b. FMR null: equal rates, dyadic", 106, "fmr",
             ("g1", "g2"), (0.01, 0.01), (60, 60), 1.0, pairs=6000, null=True),
    calibrated.SCENARIO,
)


# --------------------------------------------------------------------------- truth


def mean_rate(mu: float, logit_sd: float, nodes: int = QUADRATURE_NODES) -> float:
    """E[expit(mu + logit_sd * Z)], Z ~ N(0, 1), by Gauss-Hermite (probabilists') quadrature."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    return float(np.sum(w * expit(mu + logit_sd * x)) / math.sqrt(2 * math.pi))


def solve_mu(rate: float, logit_sd: float) -> float:
    """The logit intercept whose population-mean rate is ``rate``."""
    if logit_sd == 0:
        return float(np.log(rate / (1 - rate)))
    return float(optimize.brentq(lambda m: mean_rate(m, logit_sd) - rate, -30, 10, xtol=1e-14))


@dataclass(frozen=True)
class Truth:
    mu: tuple[float, float]
    rates: tuple[float, float]  # by quadrature
    quadrature_error: float  # |200-node - 100-node|, max over groups
    mc_rates: tuple[float, float]
    mc_se: tuple[float, float]


def truth_of(scenario: Scenario) -> Truth:
    if isinstance(scenario, calibrated.CalibratedScenario):
        return calibrated.truth_of(scenario)
    mus = tuple(solve_mu(r, scenario.logit_sd) for r in scenario.true_rates)
    rates = tuple(mean_rate(m, scenario.logit_sd) for m in mus)
    coarse = tuple(mean_rate(m, scenario.logit_sd, nodes=100) for m in mus)
    rng = np.random.default_rng([scenario.seed, 10**6])
    mc, se = [], []
    for mu in mus:
        # The same model as the simulation: one subject effect (FNMR), or two independent
        # person effects of a probe and its partner (FMR).
        effect = rng.normal(0.0, scenario.sd, MC_CHECK_DRAWS)
        if scenario.rate == "fmr":
            effect = effect + rng.normal(0.0, scenario.sd, MC_CHECK_DRAWS)
        p = expit(mu + effect)
        mc.append(float(p.mean()))
        se.append(float(p.std(ddof=1) / math.sqrt(MC_CHECK_DRAWS)))
    return Truth(mus, rates, max(abs(a - b) for a, b in zip(rates, coarse, strict=True)),
                 tuple(mc), tuple(se))


# --------------------------------------------------------------------------- simulation


def simulate_fnmr(scenario: Scenario, mu: tuple[float, float], rng: np.random.Generator):
    """Mated verification comparisons: scores and images tables of one audit."""
    group = np.repeat([0, 1], scenario.subjects)
    subject = np.array([f"{scenario.labels[g]}-{k}" for g in (0, 1)
                        for k in range(scenario.subjects[g])], dtype=object)
    low = np.array([scenario.trials[g][0] for g in group])
    high = np.array([scenario.trials[g][1] for g in group])
    k = rng.integers(low, high + 1)
    effect = rng.normal(0.0, scenario.sd, group.size) if scenario.sd > 0 else np.zeros(group.size)
    p = expit(np.asarray(mu)[group] + effect)
    error = rng.random(k.sum()) < np.repeat(p, k)
    probe = np.array([s + "/0" for s in subject], dtype=object)
    reference = np.array([f"{s}/{j + 1}" for s, n in zip(subject, k, strict=True)
                          for j in range(n)], dtype=object)
    who = np.repeat(subject, k)
    scores = pd.DataFrame({
        "trial_kind": "verification", "probe_id": np.repeat(probe, k),
        "reference_id": reference, "probe_subject": who, "reference_subject": who,
        "score": np.where(error, 0.1, 0.9), "mated": True,
        "fold": None, "rank": None, "best_is_true_entry": None,
    })
    images = pd.DataFrame({
        "image_id": np.concatenate([probe, reference]),
        "subject_id": np.concatenate([subject, who]),
        "group": np.concatenate([np.asarray(scenario.labels, dtype=object)[group],
                                 np.repeat(np.asarray(scenario.labels, dtype=object)[group], k)]),
    })
    return scores, images, None


def simulate_fmr(scenario: Scenario, mu: tuple[float, float], rng: np.random.Generator):
    """Non-mated verification pairs between random distinct subjects, dyadic person effects."""
    group = np.repeat([0, 1], scenario.subjects)
    n = group.size
    subject = np.array([f"{scenario.labels[g]}-{k}" for g in (0, 1)
                        for k in range(scenario.subjects[g])], dtype=object)
    image = np.array([s + "/0" for s in subject], dtype=object)
    effect = rng.normal(0.0, scenario.sd, n)
    i = rng.integers(0, n, scenario.pairs)
    j = (i + rng.integers(1, n, scenario.pairs)) % n  # a uniform other subject
    p = expit(np.asarray(mu)[group[i]] + effect[i] + effect[j])
    error = rng.random(scenario.pairs) < p
    scores = pd.DataFrame({
        "trial_kind": "verification", "probe_id": image[i], "reference_id": image[j],
        "probe_subject": subject[i], "reference_subject": subject[j],
        "score": np.where(error, 0.9, 0.1), "mated": False,
        "fold": None, "rank": None, "best_is_true_entry": None,
    })
    images = pd.DataFrame({"image_id": image, "subject_id": subject,
                           "group": np.asarray(scenario.labels, dtype=object)[group]})
    return scores, images, (group[i], i, error)


def probe_only_intervals(scenario: Scenario, probe_group, probe, error) -> dict[str, tuple]:
    """Each group's FMR with a one-way cluster-robust variance by probe subject only.

    The library's formula without the reference side: influence summed per probe
    subject, G/(G-1) small-sample factor, Wilson at N / design effect; the
    zero-error bound when no error (as the library).
    """
    out = {}
    for g, label in enumerate(scenario.labels):
        chosen = probe_group == g
        e, n = error[chosen].astype(np.float64), float(chosen.sum())
        p = e.mean()
        owners, codes = np.unique(probe[chosen], return_inverse=True)
        u = np.bincount(codes, weights=e - p)
        clusters = owners.size
        variance = clusters / (clusters - 1) * np.sum(u**2) / n**2
        deff = max(1.0, variance / (p * (1 - p) / n)) if 0 < p < 1 else 1.0
        if e.sum() == 0:
            low, high, method = 0.0, float(zero_error_upper_bound(n)), "one-sided-bound"
        else:
            low, high = (float(v) for v in clustered_wilson_interval(e.sum(), n, deff))
            method = "wilson-clustered"
        out[label] = (p, low, high, method, int(e.sum()), int(n))
    return out


# --------------------------------------------------------------------------- one audit


def _rows(metrics, rate: str) -> pd.DataFrame:
    frame = metrics.to_pandas()
    return frame[(frame["metric"] == rate) & (frame["grouping"] == "group")
                 & (frame["point_kind"] == "deployment")]


def _record(scenario, audit_index, method, quantity, estimate, low, high, truth, ci_method,
            n_errors, p_value=np.nan, n_trials=np.nan):
    return {"scenario": scenario.key, "audit": audit_index, "method": method,
            "quantity": quantity, "estimate": estimate, "low": low, "high": high,
            "truth": truth, "ci_method": ci_method, "n_errors": n_errors, "p_value": p_value,
            "n_trials": n_trials}


def _contrast_records(scenario, audit_index, method, truth, higher, lower, ratio, diff, p_value,
                      n_errors):
    """Ratio and difference records of one ordered pair (the truth follows the order)."""
    true_ratio = truth[higher] / truth[lower]
    true_diff = truth[higher] - truth[lower]
    return [
        _record(scenario, audit_index, method, quantity, value, low, high, truth, ci_method,
                n_errors, p_value)
        for quantity, (value, low, high, ci_method), truth in (
            ("ratio", ratio, true_ratio), ("difference", diff, true_diff))
    ]


def run_audit(task: tuple[Scenario, Truth, int]) -> list[dict]:
    """Simulate one audit and return one record per (method, reported interval)."""
    scenario, truth, audit_index = task
    if isinstance(scenario, calibrated.CalibratedScenario):
        return calibrated.run_audit(scenario, truth, audit_index, _record)
    rng = np.random.default_rng(np.random.SeedSequence([scenario.seed, audit_index]))
    simulate = simulate_fmr if scenario.rate == "fmr" else simulate_fnmr
    scores, images, dyads = simulate(scenario, truth.mu, rng)
    true = dict(zip(scenario.labels, truth.rates, strict=True))
    records = []
    library_contrasts = {}
    for interval in INTERVAL_RUNS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # no FMR (FNMR) trials in an FNMR (FMR) scenario
            metrics = compute_metrics(
                scores, images, thresholds=(THRESHOLD,), groupings=("group",),
                cross_groupings=(), min_subjects=scenario.min_subjects,
                min_trials=scenario.min_trials, interval=interval)
        rows = _rows(metrics, scenario.rate)
        for _, row in rows[rows["statistic"] == "rate"].iterrows():
            records.append(_record(scenario, audit_index, interval, f"rate {row['group']}",
                                   row["value"], row["ci_low"], row["ci_high"],
                                   true[row["group"]], row["ci_method"], int(row["n_errors"]),
                                   n_trials=int(row["n_trials"])))
        pair = rows[rows["statistic"].isin(["ratio", "difference", "p_value"])]
        if len(pair):
            by = pair.set_index("statistic")
            higher, lower = by.loc["ratio", "group"], by.loc["ratio", "group_b"]
            ratio = tuple(by.loc["ratio", ["value", "ci_low", "ci_high"]]) + (
                by.loc["ratio", "ci_method"],)
            diff = tuple(by.loc["difference", ["value", "ci_low", "ci_high"]]) + (
                by.loc["difference", "ci_method"],)
            library_contrasts[interval] = (higher, lower, ratio[:3], diff[:3],
                                           by.loc["p_value", "value"])
            records.extend(_contrast_records(
                scenario, audit_index, interval, true, higher, lower, ratio, diff,
                float(by.loc["p_value", "value"]), int(by.loc["ratio", "n_errors"])))
    # The independent-trials contrast (design effect 1, no correlation): the library's
    # contrast formulas with the clustering switched off; interval="wilson" does not
    # change contrasts, which always use the cluster-robust design effects.
    rates = _rows(metrics, scenario.rate)
    rates = rates[rates["statistic"] == "rate"].set_index("group").loc[list(scenario.labels)]
    plain = contrasts.contrasts(
        contrasts.GroupRates(list(scenario.labels), rates["n_errors"].to_numpy(np.float64),
                             rates["n_trials"].to_numpy(np.float64), np.ones(2), np.eye(2)),
        confidence=NOMINAL)[0]
    higher, lower = scenario.labels[plain.higher], scenario.labels[plain.lower]
    records.extend(_contrast_records(
        scenario, audit_index, INDEPENDENT, true, higher, lower,
        (plain.ratio, plain.ratio_low, plain.ratio_high, plain.ratio_method),
        (plain.difference, plain.difference_low, plain.difference_high, contrasts.MOVER),
        plain.p_value, int(rates["n_errors"].sum())))
    if dyads is not None:
        for label, (p, low, high, method, errors, n) in probe_only_intervals(scenario,
                                                                             *dyads).items():
            records.append(_record(scenario, audit_index, PROBE_ONLY, f"rate {label}", p, low,
                                   high, true[label], method, errors, n_trials=n))
    # Sanity: the contrast rows must not depend on the rate interval option.
    same = (library_contrasts.get(CLUSTERED) is None or WILSON not in library_contrasts
            or _same_contrast(library_contrasts[CLUSTERED], library_contrasts[WILSON]))
    for r in records:
        r["contrasts_equal_across_interval_option"] = same
    return records


def _same_contrast(a, b) -> bool:
    flat_a = np.array([*a[2], *a[3], a[4]], dtype=np.float64)
    flat_b = np.array([*b[2], *b[3], b[4]], dtype=np.float64)
    return a[:2] == b[:2] and bool(np.allclose(flat_a, flat_b, equal_nan=True))


# --------------------------------------------------------------------------- summary


def summarise(records: pd.DataFrame) -> pd.DataFrame:
    """Coverage, its Monte Carlo SE, misses on each side and mean width per interval."""
    r = records.copy()
    has = r["low"].notna() & r["high"].notna()
    r["covered"] = has & (r["low"] <= r["truth"]) & (r["truth"] <= r["high"])
    r["truth_below"] = has & (r["truth"] < r["low"])
    r["truth_above"] = has & (r["truth"] > r["high"])
    r["width"] = np.where(has & np.isfinite(r["high"]), r["high"] - r["low"], np.nan)
    r["unbounded"] = has & np.isinf(r["high"])
    r["rejects"] = r["p_value"] < 0.05
    r["estimated_variance"], r["design_effect"] = _wilson_variance(r)
    rows = []
    keys = ["scenario", "quantity", "method"]
    for (scenario, quantity, method), block in r.groupby(keys, sort=False):
        rows.append(_summary_row(scenario, quantity, method, "all", block))
        kinds = block["ci_method"].fillna("none").unique()
        if len(kinds) > 1:
            for kind in kinds:
                part = block[block["ci_method"].fillna("none") == kind]
                rows.append(_summary_row(scenario, quantity, method, kind, part))
    return pd.DataFrame(rows)


def _summary_row(scenario, quantity, method, subset, block) -> dict:
    n = len(block)
    c = block["covered"].mean()
    return {
        "scenario": scenario, "quantity": quantity, "method": method, "subset": subset,
        "R": n, "no_interval": int((block["low"].isna() | block["high"].isna()).sum()),
        "coverage": c, "se": math.sqrt(c * (1 - c) / n) if n else np.nan,
        "truth_below": block["truth_below"].mean(), "truth_above": block["truth_above"].mean(),
        "mean_width": block["width"].mean(), "unbounded": int(block["unbounded"].sum()),
        "reject": block["rejects"].mean() if block["p_value"].notna().any() else np.nan,
        "mean_estimate": block["estimate"].replace(np.inf, np.nan).mean(),
        "sd_estimate": block["estimate"].replace(np.inf, np.nan).std(ddof=1),
        "truth": block["truth"].iloc[0] if block["truth"].nunique() == 1 else np.nan,
        "rms_se": math.sqrt(block["estimated_variance"].mean()),
        "mean_design_effect": block["design_effect"].mean(),
        "n_wilson": int(block["design_effect"].notna().sum()),
        "ci_method": block["ci_method"].dropna().mode().iloc[0] if block["ci_method"].notna().any()
        else None,
    }


def _wilson_variance(r: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The variance a rate's Wilson interval was built from, and its design effect.

    A Wilson interval's centre is m = (p + z^2/2n) / (1 + z^2/n), so its
    (effective) size is n = z^2 (m - 1/2) / (p - m), and the variance the
    library used is p(1-p)/n: the cluster-robust variance when the design
    effect is above 1. NaN for other rows (contrasts, one-sided bounds).
    """
    z = 1.959963984540054
    wilson = r["quantity"].str.startswith("rate").to_numpy() & r["ci_method"].isin(
        [CLUSTERED, WILSON]).to_numpy()
    p = r["estimate"].to_numpy(np.float64)
    m = (r["low"].to_numpy(np.float64) + r["high"].to_numpy(np.float64)) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        n_effective = z**2 * (m - 0.5) / (p - m)
        variance = np.where(wilson, p * (1 - p) / n_effective, np.nan)
        deff = np.where(wilson, r["n_trials"].to_numpy(np.float64) / n_effective, np.nan)
    return variance, deff


def _verdict(row) -> str:
    if row["subset"] != "all":
        return ""
    off = row["coverage"] - NOMINAL
    if round(abs(off) * 1000) <= TOLERANCE * 1000:  # as printed: 97.0% is within 93-97%
        return "yes"
    return f"**no** ({off * 100:+.1f})"


def _width(row) -> str:
    if math.isnan(row["mean_width"]):
        return "-"
    scale, unit = (100, " pp") if row["quantity"].startswith(("rate", "difference")) else (1, "")
    text = f"{row['mean_width'] * scale:.3g}{unit}"
    return text + (f" ({row['unbounded']} unbounded)" if row["unbounded"] else "")


def markdown_table(summary: pd.DataFrame, scenario: Scenario) -> str:
    lines = [
        "| interval | method | subset | R | coverage | MC SE | within 2 pts of 95% | truth below"
        " / above interval | mean width |",
        "|---|---|---|---:|---:|---:|---|---|---:|",
    ]
    block = summary[summary["scenario"] == scenario.key]
    for _, row in block.iterrows():
        lines.append(
            f"| {row['quantity']} | {row['method']} | {row['subset']} | {row['R']} | "
            f"{row['coverage'] * 100:.1f}% | {row['se'] * 100:.1f} | {_verdict(row)} | "
            f"{row['truth_below'] * 100:.1f}% / {row['truth_above'] * 100:.1f}% | {_width(row)} |"
        )
    return "\n".join(lines)


def tests_table(summary: pd.DataFrame, scenario: Scenario) -> str:
    block = summary[(summary["scenario"] == scenario.key)
                    & summary["quantity"].str.endswith("ratio") & (summary["subset"] == "all")]
    what = "test size (rejects a true null)" if scenario.null else "power"
    lines = [f"| contrast method | R | p < 0.05: {what} | MC SE |", "|---|---:|---:|---:|"]
    for _, row in block.iterrows():
        se = math.sqrt(row["reject"] * (1 - row["reject"]) / row["R"])
        which = "" if row["quantity"] == "ratio" else f" ({row['quantity'].split()[0]})"
        lines.append(f"| {row['method']}{which} | {row['R']} | {row['reject'] * 100:.1f}% |"
                     f" {se * 100:.1f} |")
    return "\n".join(lines)


def estimates_table(summary: pd.DataFrame, scenario: Scenario) -> str:
    block = summary[(summary["scenario"] == scenario.key) & (summary["method"] == CLUSTERED)
                    & (summary["subset"] == "all") & summary["quantity"].str.startswith("rate")]
    parts = [f"{row['quantity'].removeprefix('rate ')}: truth {row['truth'] * 100:.3f}%, mean "
             f"estimate {row['mean_estimate'] * 100:.3f}%, SD across audits "
             f"{row['sd_estimate'] * 100:.3f} pp, root-mean-square of the library's SE "
             f"{row['rms_se'] * 100:.3f} pp and mean design effect "
             f"{row['mean_design_effect']:.2f} (over the {row['n_wilson']} audits with a Wilson"
             " interval)" for _, row in block.iterrows()]
    return "; ".join(parts)


def scenario_text(scenario: Scenario, truth: Truth) -> str:
    if isinstance(scenario, calibrated.CalibratedScenario):
        return calibrated.scenario_text(scenario, truth)
    groups = ", ".join(
        f"{label}: {n} subjects, true {scenario.rate.upper()} {truth.rates[k] * 100:.4g}% "
        f"(mu {truth.mu[k]:.4f}; 4M-draw Monte Carlo check {truth.mc_rates[k] * 100:.4f}% "
        f"+/- {truth.mc_se[k] * 100:.4f})"
        for k, (label, n) in enumerate(zip(scenario.labels, scenario.subjects, strict=True))
    )
    if scenario.rate == "fmr":
        design = f"{scenario.pairs:,} non-mated pairs between random distinct subjects"
    else:
        design = "mated comparisons per subject " + " and ".join(
            f"{lo}-{hi}" for lo, hi in scenario.trials)
    return (f"{design}; person effect sd {scenario.sd:g} (logit sd {scenario.logit_sd:.3g}); "
            f"min_subjects={scenario.min_subjects}, min_trials={scenario.min_trials}. {groups}. "
            f"Quadrature error (200 vs 100 nodes) {truth.quadrature_error:.1e}.")


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def report(summary, scenarios, truths, *, audits, seconds, workers, command, all_equal,
           load) -> str:
    runs = ('once (`interval="wilson-clustered"`, the default; `--clustered-only`)'
            if INTERVAL_RUNS == [CLUSTERED] else
            'twice (`interval="wilson-clustered"` and `"wilson"`)')
    sections = []
    for scenario in scenarios:
        sections.append(
            f"### {scenario.title}\n\n{scenario_text(scenario, truths[scenario.key])}\n\n"
            f"{markdown_table(summary, scenario)}\n\n{tests_table(summary, scenario)}\n\n"
            f"Rate estimates and the variance behind the `wilson-clustered` intervals (backed"
            f" out of each Wilson interval's centre): {estimates_table(summary, scenario)}.\n"
        )
    dirty = _git("status", "--porcelain", "--", "audit")
    return f"""# Coverage of the metrics intervals on simulated audits with known truth

Reproduce from the repository root (not part of the test suite):

```
{command}
```

Date: {datetime.date.today().isoformat()}. Library: `audit` at commit {_git("rev-parse", "--short", "HEAD")}{" (audit/ modified)" if dirty else ""}.
Machine: {platform.machine()}, {os.cpu_count()} CPUs (shared), {platform.python_implementation()} {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, pandas {pd.__version__}.
{audits} simulated audits per scenario, {workers} worker processes, run time {seconds / 60:.1f} min
(1-minute load average {load[0]:.1f} at the start and {load[1]:.1f} at the end: other jobs shared the cores).

Every audit goes through `audit.metrics.compute_metrics(scores, images, thresholds=(0.5,),
groupings=("group",), cross_groupings=(), min_subjects=..., min_trials=..., interval=...)`
{runs}; the rows read are the scenario's rate
(`fnmr` or `fmr`), grouping `group`, `point_kind == "deployment"`. An interval covers when
`ci_low <= truth <= ci_high` (closed; `ci_high` may be inf for a ratio bound). The truth of a
ratio or difference follows the pair's order in the row (`group` = higher estimate,
`group_b` = lower). Target: coverage within 2 points of 95% (93-97%). MC SE =
sqrt(c(1-c)/R): with R = {audits} it is about {math.sqrt(0.95 * 0.05 / audits) * 100:.1f} points at 95%, so a
coverage between 91% and 93% (or 97% and 99%) is not clearly outside the target on its own.

Methods: `wilson-clustered` and `wilson` are the library's rows. For contrasts the library's
`interval` option has no effect (they always use the cluster-robust design effects; {
"this run measured the default `wilson-clustered` alone, `--clustered-only`)" if
INTERVAL_RUNS == [CLUSTERED] else "the two runs gave " + ("identical" if all_equal else
"DIFFERENT") + " contrast rows in every audit), so the `wilson` contrast rows repeat the"
" clustered ones"}; the baseline for contrasts is
`{INDEPENDENT}`: `audit.metrics.contrasts.contrasts` with design effect 1 and correlation 0.
`{PROBE_ONLY}` (FMR scenarios only) is computed by this benchmark: the library's one-way
sandwich by probe subject (no reference side). "subset" splits an interval by its `ci_method`
where an interval switches method across audits (zero-error bound, zero-error ratio bound);
coverage of a subset is conditional on that case occurring. "truth below / above" are the
shares of audits whose interval lies wholly above / below the truth. Widths of rates and
differences are in percentage points; ratio widths in ratio units, averaged over bounded
intervals.

## Results

{chr(10).join(sections)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audits", type=int, default=DEFAULT_AUDITS,
                        help="simulated audits per scenario")
    parser.add_argument("--quick", action="store_true", help="40 audits per scenario, no file")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--scenarios", nargs="*", default=[s.key for s in SCENARIOS],
                        choices=[s.key for s in SCENARIOS])
    parser.add_argument("--clustered-only", action="store_true",
                        help="run each audit with the default intervals only (half the time)")
    parser.add_argument("--records", type=Path, default=None,
                        help="also write every audit's intervals to this CSV file")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"results file (default {RESULTS.name} unless --quick)")
    args = parser.parse_args()
    audits = QUICK_AUDITS if args.quick else args.audits
    if args.clustered_only:
        INTERVAL_RUNS[:] = [CLUSTERED]  # before the pool forks: workers inherit it
    output = args.output or (None if args.quick else RESULTS)
    scenarios = [s for s in SCENARIOS if s.key in args.scenarios]

    start, load_start = time.perf_counter(), os.getloadavg()[0]
    truths = {s.key: truth_of(s) for s in scenarios}
    tasks = [(s, truths[s.key], k) for s in scenarios for k in range(audits)]
    records = []
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for done, result in enumerate(pool.imap(run_audit, tasks, chunksize=4), start=1):
            records.extend(result)
            if done % 100 == 0 or done == len(tasks):
                print(f"{done}/{len(tasks)} audits, {time.perf_counter() - start:.0f} s",
                      file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    frame = pd.DataFrame(records)
    summary = summarise(frame)
    command = ".venv/bin/python benchmarks/bench_coverage.py" + (
        " --quick" if args.quick else (f" --audits {audits}" if audits != DEFAULT_AUDITS else ""))
    if args.workers != 2:
        command += f" --workers {args.workers}"
    if args.clustered_only:
        command += " --clustered-only"
    if len(scenarios) != len(SCENARIOS):
        command += " --scenarios " + " ".join(args.scenarios)
    text = report(summary, scenarios, truths, audits=audits, seconds=seconds,
                  workers=args.workers, command=command,
                  # Only the fixed-threshold scenarios run both interval options.
                  all_equal=bool(frame.get("contrasts_equal_across_interval_option",
                                           pd.Series([True])).all()),
                  load=(load_start, os.getloadavg()[0]))
    print(text)
    print(f"(audit package: {Path(audit.__file__).parent})", file=sys.stderr)
    if output is not None:
        output.write_text(text)
    if args.records is not None:
        frame.to_csv(args.records, index=False)
    if output is not None:
        write_report_json(summary, scenarios, command)


def write_report_json(summary: pd.DataFrame, scenarios: list, command: str) -> None:
    """Write the report's coverage file; a run of some scenarios replaces only theirs.

    The file then lists every command whose numbers it holds.
    """
    fresh = for_report(summary, scenarios, command)
    if len(scenarios) != len(SCENARIOS) and REPORT_JSON.is_file():
        kept = json.loads(REPORT_JSON.read_text())
        settings = {row["setting"] for row in fresh["results"]}
        commands = kept.get("commands", [kept.get("command")])
        order = [s.title.split(". ", 1)[-1] for s in SCENARIOS]
        rows = [r for r in kept["results"] if r["setting"] not in settings] + fresh["results"]
        rows.sort(key=lambda r: order.index(r["setting"]) if r["setting"] in order else len(order))
        listed = list(dict.fromkeys([c for c in commands if c] + [command]))  # each once
        fresh = {**fresh, "commands": listed, "results": rows}
        fresh.pop("command")
    REPORT_JSON.write_text(json.dumps(fresh, indent=1) + "\n")


def for_report(summary: pd.DataFrame, scenarios: list[Scenario], command: str) -> dict:
    """The library's intervals ("wilson-clustered" rows, every audit) for the report to quote."""
    titles = {s.key: s.title.split(". ", 1)[-1] for s in scenarios}
    chosen = summary[(summary["method"] == "wilson-clustered") & (summary["subset"] == "all")]
    return {
        "command": command,
        "nominal": 0.95,
        "results": [
            {"setting": titles[row.scenario], "interval": row.quantity, "method": row.ci_method,
             "measured": round(float(row.coverage), 4), "simulations": int(row.R)}
            for row in chosen.itertuples()
        ],
    }


if __name__ == "__main__":
    main()

"""Candidate small-sample fixes for the one-way (FNMR) intervals, on the coverage study's seeds.

The one-way scenarios of ``bench_coverage.py`` (1, 2, 4, 4b, 5a) are simulated
with the same seeds (audit *k* is the same data set there and here), and each
candidate's intervals of both groups' rates and of the fixed pair's ratio and
difference are computed directly from per-subject counts with numpy,
independently of ``audit.metrics``:

* ``wilson-deff``: Wilson at N / d (d from the one-way cluster-robust
  variance, G / (G - 1) factor), MOVER for the pair (the groups share no
  subject): the library's method before this change.
* ``korn-graubard``: the same with the t quantile on G - 1 degrees of
  freedom, G the group's number of people (Korn & Graubard 1998's
  degrees-of-freedom adjustment; R's ``survey::svyciprop`` with ``degf``):
  the method adopted (``audit.metrics.score_limits.from_design_effects``).
* ``hall-t-log``: the ratio by Hall's skewness-corrected t on the pair's own
  log-ratio influence, t on its effective number of people - 1 (the FMR
  pairs' method); rates and difference as ``wilson-deff``.

A group with no error gets the exact one-sided bound as its rate interval,
and the pair combines its Wilson limits at 0 (the ratio: the bound ``l_a /
u_b``, no upper limit), as the library. Each row gives coverage (truth
below / above the interval) and, for the ratio, the median and 90th
percentile of upper / lower limit. Run from the repository root::

    .venv/bin/python benchmarks/coverage_candidates_oneway.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_coverage as study  # noqa: E402
from coverage_candidates import hall_t, wilson  # noqa: E402

Z = stats.norm.ppf(0.975)
SCENARIOS = ("fnmr-clustered", "fnmr-independent", "fnmr-small-group", "fnmr-small-group-b",
             "fnmr-null")
CANDIDATES = ("wilson-deff", "korn-graubard", "hall-t-log")


def subject_counts(scenario, truth, audit):
    """Per-subject (errors, trials) of both groups in audit ``audit``."""
    rng = np.random.default_rng(np.random.SeedSequence([scenario.seed, audit]))
    scores, _, _ = study.simulate_fnmr(scenario, truth.mu, rng)
    error = (scores["score"].to_numpy() < study.THRESHOLD).astype(np.float64)
    subject = scores["probe_subject"].to_numpy()
    out = []
    for label in scenario.labels:
        chosen = np.char.startswith(subject.astype(str), label + "-")
        _, code = np.unique(subject[chosen], return_inverse=True)
        out.append((np.bincount(code, error[chosen]), np.bincount(code).astype(np.float64)))
    return out


def rate_limits(errors, trials, korn_graubard):
    """Estimate, Wilson limits at N / d (optionally at Korn & Graubard's t), influences.

    With no error the design effect is 1 and the limits are Wilson's at 0 (what
    the pair formulas combine); the rate's own interval is then the exact bound
    (:func:`reported`).
    """
    n, p = trials.sum(), errors.sum() / trials.sum()
    u = (errors - p * trials) / n
    g = u.size
    design_effect = max(1.0, g / (g - 1) * np.sum(u**2) / (p * (1 - p) / n)) if p > 0 else 1.0
    z = stats.t.ppf(0.975, g - 1) if korn_graubard else Z
    return p, wilson(p, n / design_effect, z), u


def reported(p, limits, trials):
    """The rate's printed interval: the exact one-sided bound when no error was seen."""
    return (0.0, 1 - 0.05 ** (1 / trials.sum())) if p == 0 else limits


def pair_limits(pa, la_ua, pb, lb_ub):
    """MOVER difference and log ratio of independent groups (or the ratio's bound)."""
    (la, ua), (lb, ub) = la_ua, lb_ub
    d = pa - pb
    difference = (d - np.hypot(pa - la, ub - pb), d + np.hypot(ua - pa, pb - lb))
    if pb == 0:
        return difference, (la / ub, np.inf)
    r = np.log(pa / pb)
    ratio = (np.exp(r - np.hypot(np.log(pa / la), np.log(ub / pb))),
             np.exp(r + np.hypot(np.log(ua / pa), np.log(pb / lb))))
    return difference, ratio


def candidates(groups):
    """Every candidate's (rate a, rate b, difference, ratio) intervals; higher estimate first."""
    out = {}
    for name in CANDIDATES:
        found = [rate_limits(e, n, name == "korn-graubard") for e, n in groups]
        hi, lo = (0, 1) if found[0][0] >= found[1][0] else (1, 0)
        (pa, la_ua, ua_), (pb, lb_ub, ub_) = found[hi], found[lo]
        difference, ratio = pair_limits(pa, la_ua, pb, lb_ub)
        if name == "hall-t-log" and pb > 0:
            sums = np.concatenate([ua_ / pa, -ub_ / pb])
            g = max(ua_.size, ub_.size)
            variance = g / (g - 1) * np.sum(sums**2)
            third = g / (g - 1) * np.sum(sums**3)
            effective = np.sum(sums**2) ** 2 / np.sum(sums**4)
            ratio = tuple(np.exp(hall_t(np.log(pa / pb), variance, third, effective)))
        shown = {g: reported(found[g][0], found[g][1], groups[g][1]) for g in (0, 1)}
        out[name] = (shown, difference, ratio, (hi, lo))
    return out


def run(scenario, audits):
    truth = study.truth_of(scenario)
    hits = {}
    for audit in range(audits):
        for name, (rates, difference, ratio, (hi, lo)) in candidates(
                subject_counts(scenario, truth, audit)).items():
            t = truth.rates
            checks = {f"rate {scenario.labels[g]}": (rates[g], t[g]) for g in (0, 1)}
            checks["difference"] = (difference, t[hi] - t[lo])
            checks["ratio"] = (ratio, t[hi] / t[lo])
            for quantity, ((low, high), value) in checks.items():
                with np.errstate(divide="ignore"):
                    spread = high / low
                hits.setdefault((name, quantity), []).append(
                    (low <= value <= high, value < low, value > high, spread))
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audits", type=int, default=400)
    args = parser.parse_args()
    print("| scenario | candidate | rate 1 | rate 2 | difference | ratio | ratio upper / lower:"
          " median, 90th percentile |")
    print("|---|---|---|---|---|---|---|")
    for key in SCENARIOS:
        scenario = next(s for s in study.SCENARIOS if s.key == key)
        hits = run(scenario, args.audits)
        for name in CANDIDATES:
            cells = []
            for quantity in [f"rate {label}" for label in scenario.labels] + ["difference",
                                                                              "ratio"]:
                h = np.array(hits[(name, quantity)], dtype=np.float64)
                cells.append(f"{h[:, 0].mean():.1%} ({h[:, 1].mean():.1%} / {h[:, 2].mean():.1%})")
            spread = np.array(hits[(name, "ratio")], dtype=np.float64)[:, 3]
            spread = spread[np.isfinite(spread)]
            print(f"| {scenario.title.split('.')[0]} | {name} | {' | '.join(cells)} | "
                  f"{np.median(spread):.3g}, {np.quantile(spread, 0.9):.3g} |")


if __name__ == "__main__":
    main()

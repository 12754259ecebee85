"""Candidate small-sample fixes for the dyadic FMR intervals, on the coverage study's seeds.

Scenarios 3 (``fmr-dyadic``) and 5b (``fmr-null``) of ``bench_coverage.py``
are simulated with the same seeds (so audit *k* is the same data set there
and here) and every group's FMR gets an interval from each candidate,
computed directly from the comparisons with numpy (independent of
``audit.metrics``' sparse code):

* ``wilson-deff``: Wilson at N / d, d from the dyadic-robust (Fafchamps-Gubert)
  variance: the library's method before the change.
* ``jackknife``: leave-one-person-out jackknife variance (CR3-like), Wilson at N / d.
* ``cr3``: the dyadic variance with each person's influence over (1 - n_s / N).
* ``t-df``: Wilson at N / d with a t quantile on G - 1 degrees of freedom.
* ``korn-graubard``: d's excess over 1 times (t / z)^2, df = effective number
  of people - 1 (tried and rejected before, see results_coverage.md).
* ``neg-binomial``: the variance's excess over binomial grown with the squared
  candidate rate (multiplicative person effects).
* ``score``: the variance at each candidate rate (the influence taken there),
  binomial part at the candidate.
* ``score-t``: ``score`` with its excess times (t / z)^2 on the effective
  number of people: the method adopted (``audit.metrics.score_limits``).

Run from the repository root; 400 audits per scenario take about a minute::

    .venv/bin/python benchmarks/coverage_candidates.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_coverage as study  # noqa: E402

Z = stats.norm.ppf(0.975)
CANDIDATES = ("wilson-deff", "jackknife", "cr3", "t-df", "korn-graubard", "neg-binomial", "score",
              "score-t")


def quadratic_limits(p, n, excess, slope, curvature, k, fallback_deff):
    """Ends of {x : (p - x)^2 <= z^2 (x(1-x)/n + k excess - 2 slope d + curvature d^2)}."""
    a = 1 + Z**2 / n - Z**2 * curvature
    b = -Z**2 * ((1 - 2 * p) / n - 2 * slope)
    c = -Z**2 * (p * (1 - p) / n + k * excess)
    root = np.sqrt(max(b * b - 4 * a * c, 0.0))
    low, high = (p + (-b - root) / (2 * a), p + (-b + root) / (2 * a)) if a > 0 else (0.0, 1.0)
    low, high = max(low, 0.0), min(high, 1.0)
    if low <= 0 < p:
        low = wilson(p, n / fallback_deff)[0]
    return low, high


def wilson(p, n, z=Z):
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return max(centre - half, 0.0), min(centre + half, 1.0)


def intervals(error, probe, reference, n_people):
    """Every candidate's interval of one group's FMR (its pairs only)."""
    e = error.astype(np.float64)
    n, p = e.size, e.mean()
    u = e - p
    per_person = np.bincount(probe, u, n_people) + np.bincount(reference, u, n_people)
    trials = np.bincount(probe, None, n_people) + np.bincount(reference, None, n_people)
    errors = np.bincount(probe, e, n_people) + np.bincount(reference, e, n_people)
    _, pair = np.unique(np.minimum(probe, reference) * n_people + np.maximum(probe, reference),
                        return_inverse=True)
    per_pair, pair_trials = np.bincount(pair, u), np.bincount(pair)
    present = trials > 0
    g = present.sum()
    factor = g / (g - 1)
    binomial = p * (1 - p) / n
    variance = factor * (np.sum(per_person**2) - np.sum(per_pair**2)) / n**2
    deff = max(1.0, variance / binomial)
    out = {"wilson-deff": wilson(p, n / deff)}
    leave_out = (e.sum() - errors[present]) / (n - trials[present])
    jackknife = (g - 1) / g * np.sum((leave_out - leave_out.mean()) ** 2)
    out["jackknife"] = wilson(p, n / max(1.0, jackknife / binomial))
    share = trials / n
    cr3 = factor * (np.sum((per_person / (1 - share)) ** 2) - np.sum(per_pair**2)) / n**2
    out["cr3"] = wilson(p, n / max(1.0, cr3 / binomial))
    t_ratio = stats.t.ppf(0.975, g - 1) / Z
    out["t-df"] = wilson(p, n / deff, Z * t_ratio)
    people = np.sum(per_person**2) ** 2 / np.sum(per_person**4)
    k = (stats.t.ppf(0.975, max(people - 1, 1.0)) / Z) ** 2
    out["korn-graubard"] = wilson(p, n / (1 + (deff - 1) * k))
    kappa = max(variance - binomial, 0.0) / p**2
    out["neg-binomial"] = quadratic_limits(p, n, kappa * p**2, -kappa * p, kappa, 1.0, deff)
    # Score terms: the influence at p + d is u - d * share, per person and per pair.
    slope = factor * (np.sum(per_person * share) - np.sum(per_pair * pair_trials / n)) / n
    curvature = factor * (np.sum(share**2) - np.sum((pair_trials / n) ** 2))
    excess = variance - binomial
    if excess > 0:
        out["score"] = quadratic_limits(p, n, excess, slope, curvature - 1 / n, 1.0, deff)
        out["score-t"] = quadratic_limits(p, n, excess, slope, curvature - 1 / n, k, deff)
    else:
        out["score"] = out["score-t"] = wilson(p, n)
    return out


def run(scenario, audits):
    truth = study.truth_of(scenario)
    hits = {(g, c): [] for g in (0, 1) for c in CANDIDATES}
    for audit in range(audits):
        rng = np.random.default_rng(np.random.SeedSequence([scenario.seed, audit]))
        scores, _, (probe_group, _, error) = study.simulate_fmr(scenario, truth.mu, rng)
        names, codes = np.unique(np.concatenate([scores["probe_subject"].to_numpy(),
                                                 scores["reference_subject"].to_numpy()]),
                                 return_inverse=True)
        probe, reference = codes[: len(scores)], codes[len(scores):]
        for g in (0, 1):
            chosen = probe_group == g
            found = intervals(error[chosen], probe[chosen], reference[chosen], names.size)
            for c, (low, high) in found.items():
                t = truth.rates[g]
                hits[(g, c)].append((low <= t <= high, t < low, t > high, high - low))
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audits", type=int, default=400)
    args = parser.parse_args()
    print("| scenario | candidate | rate g1: coverage (truth below / above) | rate g2 | "
          "mean width g1, g2 (pp) |")
    print("|---|---|---|---|---|")
    for key in ("fmr-dyadic", "fmr-null"):
        scenario = next(s for s in study.SCENARIOS if s.key == key)
        hits = run(scenario, args.audits)
        for c in CANDIDATES:
            cells, widths = [], []
            for g in (0, 1):
                h = np.array(hits[(g, c)], dtype=np.float64)
                cells.append(f"{h[:, 0].mean():.1%} ({h[:, 1].mean():.1%} / {h[:, 2].mean():.1%})")
                widths.append(f"{h[:, 3].mean() * 100:.3g}")
            print(f"| {scenario.title.split('.')[0]} | {c} | {cells[0]} | {cells[1]} | "
                  f"{', '.join(widths)} |")


if __name__ == "__main__":
    main()

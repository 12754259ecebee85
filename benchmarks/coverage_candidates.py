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
  number of people (the library's method before Hall-t).
* ``hall-t``: Hall's (1992) skewness-corrected t: the dyadic variance v, the
  third cumulant k3 = G/(G-1) (sum_s S_s^3 - sum_pairs Q^3) of the same
  influence sums, skewness k3 / v^1.5, t on the effective number of people
  - 1: the method adopted (``audit.metrics.score_limits``).

And the fixed pair's difference and ratio (higher estimate first), each with
its coverage and, in the null scenario, how often p < 0.05 would follow:

* ``mover (hall-t limits)``: MOVER from the two groups' ``hall-t`` limits and
  their dyadic correlation;
* ``hall-t (pair)``: Hall's t on the pair's own influence (``u_a - u_b``;
  log ratio ``u_a / p_a - u_b / p_b``): the method adopted
  (``audit.metrics.contrasts``);
* ``hall-t (pair, welch df)``: the same with Welch-Satterthwaite degrees of
  freedom combining the two groups' effective numbers of people;
* ``fieller hall-t``: the ratios r whose ``p_a - r p_b`` Hall's t accepts.

Run from the repository root; 400 audits per scenario take a few minutes::

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
              "score-t", "hall-t")
PAIR_CANDIDATES = ("mover (hall-t limits)", "hall-t (pair)", "hall-t (pair, welch df)",
                   "fieller hall-t")


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


def hall_t(estimate, variance, third, effective, z=Z):
    """Hall (1992) limits: estimate - sqrt(v) g^-1(+-t), g(T) = T + aT^2 + a^2T^3/3 + a/2."""
    a = third / variance**1.5 / 3
    t = stats.t.isf(stats.norm.sf(z), max(effective - 1, 1.0))

    def inverse(x):
        return x if abs(a) < 1e-12 else (np.cbrt(1 + 3 * a * (x - a / 2)) - 1) / a

    spread = np.sqrt(max(variance, 0.0))
    return estimate - spread * inverse(t), estimate - spread * inverse(-t)


def sums(u, probe, reference, pair, n_people):
    """Per-person and per-pair influence sums (a pair counts for both of its people)."""
    return (np.bincount(probe, u, n_people) + np.bincount(reference, u, n_people),
            np.bincount(pair, u))


def moments(person, pair, factor):
    """Dyadic variance, third cumulant and effective number of people of one influence."""
    return (factor * (np.sum(person**2) - np.sum(pair**2)),
            factor * (np.sum(person**3) - np.sum(pair**3)),
            np.sum(person**2) ** 2 / np.sum(person**4))


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
        low, high = hall_t(p, *moments(per_person / n, per_pair / n, factor))
        out["hall-t"] = (wilson(p, n / deff)[0] if low <= 0 else low, min(high, 1.0))
    else:
        out["score"] = out["score-t"] = out["hall-t"] = wilson(p, n)
    return out


def pair_intervals(error, probe, reference, probe_group, n_people, limits):
    """Every pair candidate's (difference, ratio) interval; ``limits``: each group's hall-t."""
    e = error.astype(np.float64)
    _, pair = np.unique(np.minimum(probe, reference) * n_people + np.maximum(probe, reference),
                        return_inverse=True)
    p = [e[probe_group == g].mean() for g in (0, 1)]
    hi, lo = (0, 1) if p[0] >= p[1] else (1, 0)
    u = [np.where(probe_group == g, (e - p[g]) / np.sum(probe_group == g), 0.0) for g in (0, 1)]
    (sa, qa), (sb, qb) = (sums(u[g], probe, reference, pair, n_people) for g in (hi, lo))
    factor = n_people / (n_people - 1)
    rho = (sa @ sb - qa @ qb) / np.sqrt((sa @ sa - qa @ qa) * (sb @ sb - qb @ qb))
    (la, ua), (lb, ub) = limits[hi], limits[lo]
    pa, pb = p[hi], p[lo]
    d, r = pa - pb, np.log(pa / pb)
    below = (pa - la) ** 2 + (ub - pb) ** 2 - 2 * rho * (pa - la) * (ub - pb)
    above = (ua - pa) ** 2 + (pb - lb) ** 2 - 2 * rho * (ua - pa) * (pb - lb)
    da, ua_, db, ub_ = np.log(pa / la), np.log(ua / pa), np.log(pb / lb), np.log(ub / pb)
    log_below = da**2 + ub_**2 - 2 * rho * da * ub_
    log_above = ua_**2 + db**2 - 2 * rho * ua_ * db
    out = {"mover (hall-t limits)": (
        (d - np.sqrt(max(below, 0)), d + np.sqrt(max(above, 0))),
        (np.exp(r - np.sqrt(max(log_below, 0))), np.exp(r + np.sqrt(max(log_above, 0)))))}
    diff = hall_t(d, *moments(sa - sb, qa - qb, factor))
    log_ratio = hall_t(r, *moments(sa / pa - sb / pb, qa / pa - qb / pb, factor))
    out["hall-t (pair)"] = (diff, tuple(np.exp(log_ratio)))
    out["hall-t (pair, welch df)"] = welch(sa, qa, sb, qb, pa, pb, factor)
    out["fieller hall-t"] = (diff, fieller(sa, qa, sb, qb, pa, pb, factor))
    return out, (hi, lo)


def welch(sa, qa, sb, qb, pa, pb, factor):
    """``hall-t (pair)`` with Welch-Satterthwaite degrees of freedom from the two groups'.

    Each group's variance (of its rate, or of its log rate) counts with its own
    effective number of people - 1: df = (v_a + v_b)^2 / (v_a^2 / df_a + v_b^2 / df_b).
    """
    (va, _, ga), (vb, _, gb) = moments(sa, qa, factor), moments(sb, qb, factor)

    def limits(estimate, person, pair, scale_a, scale_b):
        variance, third, _ = moments(person, pair, factor)
        a, b = va * scale_a**2, vb * scale_b**2
        df = (a + b) ** 2 / (a**2 / max(ga - 1, 1.0) + b**2 / max(gb - 1, 1.0))
        return hall_t(estimate, variance, third, df + 1)

    diff = limits(pa - pb, sa - sb, qa - qb, 1.0, 1.0)
    log_ratio = limits(np.log(pa / pb), sa / pa - sb / pb, qa / pa - qb / pb, 1 / pa, 1 / pb)
    return diff, tuple(np.exp(log_ratio))


def fieller(sa, qa, sb, qb, pa, pb, factor):
    """The ratios r at which Hall's t of ``p_a - r p_b`` (its own influence) does not reject."""
    def accepted_side(r):  # -1: r too small, +1: r too large, 0: inside
        low, high = hall_t(pa - r * pb, *moments(sa - r * sb, qa - r * qb, factor))
        return -1 if low > 0 else (1 if high < 0 else 0)

    def edge(side):
        inside, outside = np.log(pa / pb), np.log(pa / pb) + side * 8.0
        for _ in range(50):
            middle = (inside + outside) / 2
            inside, outside = (middle, outside) if accepted_side(np.exp(middle)) == 0 else (
                inside, middle)
        return float(np.exp(inside))

    return edge(-1), edge(1)


def run(scenario, audits):
    truth = study.truth_of(scenario)
    hits = {(g, c): [] for g in (0, 1) for c in CANDIDATES}
    pair_hits = {(q, c): [] for q in ("difference", "ratio") for c in PAIR_CANDIDATES}
    for audit in range(audits):
        rng = np.random.default_rng(np.random.SeedSequence([scenario.seed, audit]))
        scores, _, (probe_group, _, error) = study.simulate_fmr(scenario, truth.mu, rng)
        names, codes = np.unique(np.concatenate([scores["probe_subject"].to_numpy(),
                                                 scores["reference_subject"].to_numpy()]),
                                 return_inverse=True)
        probe, reference = codes[: len(scores)], codes[len(scores):]
        limits = []
        for g in (0, 1):
            chosen = probe_group == g
            found = intervals(error[chosen], probe[chosen], reference[chosen], names.size)
            limits.append(found["hall-t"])
            for c, (low, high) in found.items():
                t = truth.rates[g]
                hits[(g, c)].append((low <= t <= high, t < low, t > high, high - low))
        found, (hi, lo) = pair_intervals(error, probe, reference, probe_group, names.size, limits)
        true = {"difference": truth.rates[hi] - truth.rates[lo],
                "ratio": truth.rates[hi] / truth.rates[lo]}
        for c, intervals_of in found.items():
            for q, (low, high) in zip(("difference", "ratio"), intervals_of, strict=True):
                t = true[q]
                pair_hits[(q, c)].append((low <= t <= high, t < low, t > high, high - low))
    return hits, pair_hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audits", type=int, default=400)
    args = parser.parse_args()
    print("| scenario | candidate | rate g1: coverage (truth below / above) | rate g2 | "
          "mean width g1, g2 (pp) |")
    print("|---|---|---|---|---|")
    pairs = {}
    for key in ("fmr-dyadic", "fmr-null"):
        scenario = next(s for s in study.SCENARIOS if s.key == key)
        hits, pair_hits = run(scenario, args.audits)
        pairs[scenario.title.split(".")[0]] = pair_hits
        for c in CANDIDATES:
            cells, widths = [], []
            for g in (0, 1):
                h = np.array(hits[(g, c)], dtype=np.float64)
                cells.append(f"{h[:, 0].mean():.1%} ({h[:, 1].mean():.1%} / {h[:, 2].mean():.1%})")
                widths.append(f"{h[:, 3].mean() * 100:.3g}")
            print(f"| {scenario.title.split('.')[0]} | {c} | {cells[0]} | {cells[1]} | "
                  f"{', '.join(widths)} |")

    print("\n| scenario | pair candidate | difference: coverage (truth below / above) | ratio |")
    print("|---|---|---|---|")
    for name, pair_hits in pairs.items():
        for c in PAIR_CANDIDATES:
            cells = []
            for q in ("difference", "ratio"):
                h = np.array(pair_hits[(q, c)], dtype=np.float64)
                cells.append(f"{h[:, 0].mean():.1%} ({h[:, 1].mean():.1%} / {h[:, 2].mean():.1%})")
            print(f"| {name} | {c} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()

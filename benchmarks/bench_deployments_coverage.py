"""Coverage of the deployments report's intervals, on simulated deployments with known truth.

* Share of alerts false (Clopper-Pearson) and false alerts per face (exact
  Poisson): draws from a known rate; coverage should be at least 95%.
* Pooled per-face rate over K deployments whose true rates vary (lognormal
  spread ``sigma`` around a known mean rate, equal faces per deployment, so
  the pooled target is that mean): the plain exact interval, which assumes one
  common rate, against the quasi-Poisson interval (statsmodels GLM,
  ``scale="X2"``) the report sets beside it.

Writes ``benchmarks/results_deployments_coverage.md``. Run (about 1 minute):

    nice -n 10 .venv/bin/python benchmarks/bench_deployments_coverage.py [--draws 2000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from audit.deployments.exact import binomial_share, poisson_rate
from audit.deployments.pooling import pool_per_face
from audit.deployments.records import Deployment

RESULTS = Path(__file__).with_name("results_deployments_coverage.md")


def covers(estimate, truth: float) -> bool:
    return estimate.low <= truth <= estimate.high


def share_rows(rng, draws: int) -> list[str]:
    rows = []
    for n in (7, 42, 500):
        for p in (0.05, 0.3, 0.93):
            hits = np.mean([covers(binomial_share(int(k), n), p) for k in rng.binomial(n, p, draws)])
            rows.append(f"| share of alerts false | n = {n} alerts | p = {p} | {hits:.1%} |")
    return rows


def rate_rows(rng, draws: int) -> list[str]:
    rows = []
    faces = 100_000
    for mean in (0.5, 3.0, 20.0):
        rate = mean / faces
        hits = np.mean([covers(poisson_rate(int(k), faces), rate) for k in rng.poisson(mean, draws)])
        rows.append(f"| false alerts per face | {faces:,} faces | {mean:g} expected | {hits:.1%} |")
    return rows


def pooled_rows(rng, draws: int) -> list[str]:
    rows = []
    faces, mean_rate = 50_000, 1e-4  # 5 expected false alerts per deployment
    for k in (3, 6, 12):
        for sigma in (0.0, 0.5, 1.0):
            plain = quasi = fitted = 0
            for _ in range(draws):
                rates = mean_rate * np.exp(rng.normal(-sigma ** 2 / 2, sigma, k))  # mean = mean_rate
                counts = rng.poisson(rates * faces)
                records = [Deployment(f"d{i}", i, faces_scanned=faces, confirmed_false=int(c))
                           for i, c in enumerate(counts)]
                pooled = pool_per_face(records, "all")
                plain += covers(pooled.plain, mean_rate)
                if pooled.quasi is not None:
                    fitted += 1
                    quasi += covers(pooled.quasi.estimate, mean_rate)
            rows.append(f"| pooled per face, {k} deployments | sigma = {sigma:g} | "
                        f"{plain / draws:.1%} | {quasi / max(fitted, 1):.1%} ({fitted} fits) |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--pooled-draws", type=int, default=400)
    parser.add_argument("--seed", type=int, default=20261129)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    exact = share_rows(rng, args.draws) + rate_rows(rng, args.draws)
    pooled = pooled_rows(rng, args.pooled_draws)
    lines = [
        "# Coverage of the deployments report's 95% intervals",
        "",
        f"Command: `nice -n 10 .venv/bin/python benchmarks/bench_deployments_coverage.py "
        f"--draws {args.draws} --pooled-draws {args.pooled_draws} --seed {args.seed}` "
        f"({time.perf_counter() - start:.0f} s).",
        "",
        f"Exact intervals, {args.draws} draws each:",
        "",
        "| figure | size | truth | coverage |",
        "| --- | --- | --- | --- |",
        *exact,
        "",
        f"Pooled false alerts per face, {args.pooled_draws} simulated sets of deployments each: "
        "true rates lognormal around 1e-4 (mean kept at 1e-4), 50,000 faces each. The quasi "
        "interval is fitted when at least one false alert is recorded.",
        "",
        "| pooled | spread | plain exact interval | quasi-Poisson interval |",
        "| --- | --- | --- | --- |",
        *pooled,
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Benchmark: the vectorised threshold sweep against a MetricFrame loop.

Sweeps FMR and FNMR over 1,000 thresholds for 10 groups of 10 million
synthetic scores with :func:`audit.metrics.sweep.count_at_thresholds` (the
kernel behind every sweep, DET curve and breakdown), then times Fairlearn's
MetricFrame on raw rows, one call per threshold, on a subsample; checks both
agree there, and writes ``benchmarks/results_metrics.md``.

Run from the repository root (not part of the test suite)::

    .venv/bin/python benchmarks/bench_metrics.py
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np
from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate

from audit.metrics.sweep import count_at_thresholds

RESULTS = Path(__file__).with_name("results_metrics.md")


def synthetic(n: int, n_groups: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores (5% mated, ~1% FTA), mated flags and group codes."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, n_groups, n)
    mated = rng.random(n) < 0.05
    score = rng.normal(np.where(mated, 0.7, 0.3) + 0.01 * group, 0.12)
    score[rng.random(n) < 0.01] = np.nan
    return score, mated, group


def sweep(score: np.ndarray, mated: np.ndarray, group: np.ndarray, n_groups: int, grid: np.ndarray):
    """FMR and FNMR (FTA excluded) per group and threshold: shape (n_groups, n_thresholds)."""
    counts = count_at_thresholds(score, grid, codes=group * 2 + mated, n_codes=2 * n_groups)
    above = counts.at_or_above.reshape(n_groups, 2, -1)
    scored = counts.scored.reshape(n_groups, 2)[:, :, None].astype(np.float64)
    return above[:, 0] / scored[:, 0], 1.0 - above[:, 1] / scored[:, 1]


def metricframe_loop(score, mated, group, grid):
    """One MetricFrame on raw rows per threshold (FTA rows dropped, as FMR/FNMR)."""
    done = ~np.isnan(score)
    score, mated, group = score[done], mated[done], group[done]
    fmr, fnmr = [], []
    for t in grid:
        frame = MetricFrame(
            metrics={"fmr": false_positive_rate, "fnmr": false_negative_rate},
            y_true=mated,
            y_pred=score >= t,
            sensitive_features=group,
        )
        fmr.append(frame.by_group["fmr"].to_numpy())
        fnmr.append(frame.by_group["fnmr"].to_numpy())
    return np.array(fmr).T, np.array(fnmr).T


def timed(function, *args, repeats: int = 1):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-scores", type=int, default=10_000_000)
    parser.add_argument("--n-thresholds", type=int, default=1000)
    parser.add_argument("--n-groups", type=int, default=10)
    parser.add_argument("--subsample", type=int, default=100_000)
    parser.add_argument("--metricframe-thresholds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    score, mated, group = synthetic(args.n_scores, args.n_groups, args.seed)
    grid = np.linspace(-0.2, 1.2, args.n_thresholds)

    sweep_seconds, _ = timed(sweep, score, mated, group, args.n_groups, grid, repeats=3)
    tracemalloc.start()
    sweep(score, mated, group, args.n_groups, grid)
    _, sweep_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    sub = slice(0, args.subsample)
    sub_grid = grid[:: max(1, grid.size // args.metricframe_thresholds)][
        : args.metricframe_thresholds
    ]
    mf_seconds, (mf_fmr, mf_fnmr) = timed(
        metricframe_loop, score[sub], mated[sub], group[sub], sub_grid
    )
    sub_sweep_seconds, _ = timed(
        sweep, score[sub], mated[sub], group[sub], args.n_groups, grid, repeats=3
    )
    _, (check_fmr, check_fnmr) = timed(
        sweep, score[sub], mated[sub], group[sub], args.n_groups, sub_grid
    )
    agree = np.allclose(check_fmr, mf_fmr, atol=1e-12) and np.allclose(
        check_fnmr, mf_fnmr, atol=1e-12
    )

    per_threshold_sweep_full = sweep_seconds / grid.size
    per_threshold_sweep_sub = sub_sweep_seconds / grid.size
    per_threshold_mf = mf_seconds / sub_grid.size
    per_threshold_mf_full = per_threshold_mf * args.n_scores / args.subsample  # linear in rows
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    command = (
        f".venv/bin/python benchmarks/bench_metrics.py --n-scores {args.n_scores} "
        f"--n-thresholds {args.n_thresholds} --n-groups {args.n_groups} "
        f"--subsample {args.subsample} --metricframe-thresholds {args.metricframe_thresholds} "
        f"--seed {args.seed}"
    )
    report = f"""# Metrics benchmark: threshold sweep vs MetricFrame loop

Reproduce from the repository root (not part of the test suite):

```
{command}
```

Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()},
numpy {np.__version__}; shared 2-core host, so times vary by some tens of percent.

## Sweep: {args.n_scores:,} scores x {grid.size:,} thresholds x {args.n_groups} groups

FMR and FNMR (FTA excluded) of every group at every threshold, through
`audit.metrics.sweep.count_at_thresholds` (one `searchsorted` + one `bincount`),
best of 3 runs.

| figure | value |
| --- | --- |
| sweep time | {sweep_seconds:.2f} s (target < 5 s) |
| per threshold | {per_threshold_sweep_full * 1e3:.3f} ms |
| peak traced memory of the sweep (tracemalloc) | {sweep_peak / 2**20:,.0f} MiB (input arrays {(score.nbytes + mated.nbytes + group.nbytes) / 2**20:,.0f} MiB not included) |
| peak resident memory of the whole run (ru_maxrss) | {rss_mib:,.0f} MiB |

## Against a MetricFrame loop

Fairlearn `MetricFrame` on raw rows (`false_positive_rate`, `false_negative_rate`,
sensitive feature = group), one call per threshold, {sub_grid.size} thresholds on the first
{args.subsample:,} scores; the sweep on the same subsample with all {grid.size:,} thresholds.

| figure | value |
| --- | --- |
| MetricFrame, per threshold, {args.subsample:,} rows | {per_threshold_mf * 1e3:,.1f} ms |
| sweep, per threshold, same {args.subsample:,} rows | {per_threshold_sweep_sub * 1e3:.4f} ms |
| **speed ratio per threshold, same rows** | **{per_threshold_mf / per_threshold_sweep_sub:,.0f}x** (target >= 20x) |
| MetricFrame per threshold extrapolated to {args.n_scores:,} rows (linear) | {per_threshold_mf_full:,.1f} s |
| **speed ratio per threshold at {args.n_scores:,} rows** | **{per_threshold_mf_full / per_threshold_sweep_full:,.0f}x** |
| sweep and MetricFrame agree at the sampled thresholds | {"yes" if agree else "NO"} |

The engine's group breakdowns at operating points do use MetricFrame, but on
counts collapsed to one row per (rate, threshold, group, decision), not on raw
rows (see `audit/metrics/groups.py`).
"""
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    main()

"""Coverage of the FMR pair intervals when a group has few errors: Hall's t on the pair or MOVER.

A dyadic pair whose groups both saw errors gets Hall's skewness-corrected t on
the pair's own influence (:mod:`audit.metrics.contrasts`). The log ratio's
influence ``u_a / p_a - u_b / p_b`` is then dominated by the one or two people
who carry the lower group's errors, its variance and third moment rest on
them, and the interval can explode (a user's 456 false matches in 98,515
comparisons against 1 in 98,508 read "ratio 456, 0.025 to 27,817"). The
candidate rule: Hall's t on the pair only when each group has at least ``K``
errors, else MOVER from the two groups' own limits (log scale for the ratio,
Newcombe's method 10 for the difference), as every non-dyadic pair gets.

Each audit is simulated as in ``bench_coverage.py`` (same seeds, so audit *k*
of a scenario is the same data set there and here), the library's
:func:`audit.metrics.compute_metrics` runs once, and the pair's
:class:`audit.metrics.contrasts.GroupRates` is re-contrasted under each ``K``
(``pair_limits.MIN_HALL_ERRORS``; K = 1 is the rule before the change, K = 5 the
one adopted). Scenarios:
the FMR pair scenarios of ``bench_coverage.py`` (3, 4d, 4e, 5b) and two new
ones with about 3 expected errors in the lower group:

* ``fmr-rare``: 60 + 60 subjects, 6,000 pairs, FMR 1% and 0.1% (ratio 10);
* ``fmr-rare-null``: the same at 0.1% in both groups (test size).

Run from the repository root (2,400 audits in all; measured in three parts, 13, 17 and 11
minutes on 2 shared cores, commands in ``results_coverage_small_groups.md``)::

    nice -n 10 .venv/bin/python benchmarks/coverage_few_errors.py --audits 400
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_coverage as study  # noqa: E402

from audit.metrics import compute_metrics, contrasts, pair_limits  # noqa: E402

RULES = (1, 3, 5, 10)
RARE = (
    study.Scenario("fmr-rare", "FMR, dyadic, ~3 expected errors in the lower group (ratio 10)",
                   111, "fmr", ("g1", "g2"), (0.01, 0.001), (60, 60), 1.0, pairs=6000),
    study.Scenario("fmr-rare-null", "FMR null, dyadic, ~3 expected errors in each group", 112,
                   "fmr", ("g1", "g2"), (0.001, 0.001), (60, 60), 1.0, pairs=6000, null=True),
)
SCENARIOS = {s.key: s for s in (*study.SCENARIOS, *RARE)
             if getattr(s, "rate", None) == "fmr"}
DEFAULT = ("fmr-dyadic", "fmr-null", "fmr-small-group", "fmr-small-null", "fmr-rare",
           "fmr-rare-null")


def pair_groups(scenario, mu, audit_index) -> contrasts.GroupRates | None:
    """The FMR pair's GroupRates of one simulated audit, as the engine builds it."""
    rng = np.random.default_rng(np.random.SeedSequence([scenario.seed, audit_index]))
    scores, images, _ = study.simulate_fmr(scenario, mu, rng)
    captured = []
    original = contrasts.contrasts

    def capture(groups, *, confidence):
        if groups.influence is not None:
            captured.append(groups)
        return original(groups, confidence=confidence)

    contrasts.contrasts = capture
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compute_metrics(scores, images, thresholds=(study.THRESHOLD,), groupings=("group",),
                            cross_groupings=(), min_subjects=scenario.min_subjects,
                            min_trials=scenario.min_trials, interval=study.CLUSTERED)
    finally:
        contrasts.contrasts = original
    return captured[0] if captured else None


def run_audit(task) -> list[dict]:
    scenario, truth, audit_index = task
    groups = pair_groups(scenario, truth.mu, audit_index)
    if groups is None:
        return []
    true = dict(zip(scenario.labels, truth.rates, strict=True))
    records, adopted = [], pair_limits.MIN_HALL_ERRORS
    for k in RULES:
        pair_limits.MIN_HALL_ERRORS = k
        c = contrasts.contrasts(groups, confidence=study.NOMINAL)[0]
        higher, lower = groups.labels[c.higher], groups.labels[c.lower]
        records.append({
            "scenario": scenario.key, "audit": audit_index, "rule": k,
            "lower_errors": int(groups.errors[c.lower]),
            "true_ratio": true[higher] / true[lower], "true_diff": true[higher] - true[lower],
            "ratio": c.ratio, "ratio_low": c.ratio_low, "ratio_high": c.ratio_high,
            "diff_low": c.difference_low, "diff_high": c.difference_high,
            "p_value": c.p_value, "method": c.ratio_method})
    pair_limits.MIN_HALL_ERRORS = adopted
    return records


def _share(mask) -> str:
    return f"{100 * np.mean(mask):.1f}%"


def summary_row(block: pd.DataFrame) -> dict:
    """Coverage (truth below / above), agreement, rejections and widths of one block."""
    r = block
    ratio_in = (r.ratio_low <= r.true_ratio) & (r.true_ratio <= r.ratio_high)
    diff_in = (r.diff_low <= r.true_diff) & (r.true_diff <= r.diff_high)
    n = len(r)
    se = 100 * np.sqrt(0.95 * 0.05 / n) if n else np.nan
    finite = np.isfinite(r.ratio_high) & (r.ratio_low > 0)
    spread = (r.ratio_high / r.ratio_low)[finite]
    return {
        "R": n, "MC SE": f"{se:.1f}",
        "ratio": f"{_share(ratio_in)} ({_share(r.true_ratio < r.ratio_low)} / "
                 f"{_share(r.true_ratio > r.ratio_high)})",
        "difference": f"{_share(diff_in)} ({_share(r.true_diff < r.diff_low)} / "
                      f"{_share(r.true_diff > r.diff_high)})",
        "p < 0.05": _share(r.p_value < 0.05),
        "ratio excl. 1 = diff excl. 0": _share((r.ratio_low > 1) == (r.diff_low > 0)),
        "upper / lower: median, 90th pct": (f"{np.median(spread):.3g}, "
                                            f"{np.quantile(spread, 0.9):.3g}"
                                            if len(spread) else "-"),
    }


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (key, rule), block in frame.groupby(["scenario", "rule"], sort=False):
        few = block[(block.lower_errors >= 1) & (block.lower_errors < max(RULES))]
        for subset, part in (("all", block), (f"lower group 1-{max(RULES) - 1} errors", few)):
            if len(part):
                rows.append({"scenario": key, "K": rule, "subset": subset, **summary_row(part)})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audits", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenarios", nargs="*", default=list(DEFAULT), choices=list(SCENARIOS))
    parser.add_argument("--records", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    truths = {key: study.truth_of(SCENARIOS[key]) for key in args.scenarios}
    tasks = [(SCENARIOS[key], truths[key], k) for key in args.scenarios for k in range(args.audits)]
    records = []
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for done, result in enumerate(pool.imap(run_audit, tasks, chunksize=4), start=1):
            records.extend(result)
            if done % 200 == 0:
                print(f"{done}/{len(tasks)} audits, {time.perf_counter() - start:.0f} s",
                      file=sys.stderr, flush=True)
    frame = pd.DataFrame(records)
    if args.records is not None:
        frame.to_csv(args.records, index=False)
    print(f"{args.audits} audits per scenario, {time.perf_counter() - start:.0f} s\n")
    print(markdown(summarise(frame)))


if __name__ == "__main__":
    main()

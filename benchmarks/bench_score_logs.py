"""Benchmark: ``lfr-audit metrics`` on a large score log against a plain pyarrow + numpy script.

Generates (once, in ``--data``) a verification log of ``--trials`` 1:1
comparisons of ``--subjects`` people in 10 groups and an identification log of
``--searches`` searches (``benchmarks/score_log_data.py``), then measures in
one run, each in its own process (CPU and wall time, peak resident memory
polled with psutil):

* the baseline: pyarrow reads the CSV and the attribute file, numpy places a
  threshold for the target FMR (``np.partition``) and counts FMR and FNMR by
  group (``bincount``);
* the whole CLI on the same files at the same target, stopped (and said so)
  above ``--cap-mib`` of resident memory;
* the CLI answering a user mistake (no operating point);
* the reader alone (:func:`audit.metrics.score_logs.read_score_logs`);
* calibration of the target threshold (:func:`audit.metrics.calibration.threshold_for_target`)
  against bob.measure's ``far_threshold`` when ``--bob-python`` names a
  Python that has it;

and a profile of ``compute_metrics`` on the first ``--profile-rows`` trials.
Writes ``benchmarks/results_score_logs.md``.

    .venv/bin/python benchmarks/bench_score_logs.py --data /tmp/logs
"""

from __future__ import annotations

import argparse
import cProfile
import io
import platform
import pstats
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results_score_logs.md"
sys.path.insert(0, str(HERE))

BASELINE = r'''
import sys, numpy as np, pyarrow as pa, pyarrow.compute as pc, pyarrow.csv as csv
trials, attributes, target = sys.argv[1], sys.argv[2], float(sys.argv[3])
t = csv.read_csv(trials, convert_options=csv.ConvertOptions(
    include_columns=["probe_id", "score", "mated"]))
a = csv.read_csv(attributes, convert_options=csv.ConvertOptions(
    include_columns=["image_id", "group"]))
group = pc.index_in(t["probe_id"], value_set=a["image_id"]).to_numpy(zero_copy_only=False)
codes = pc.dictionary_encode(a["group"]).combine_chunks().indices.to_numpy()[group]
score = t["score"].to_numpy(); mated = t["mated"].to_numpy(zero_copy_only=False)
done = ~np.isnan(score); nonmated = score[done & ~mated]
k = int(target * nonmated.size); v = np.partition(nonmated, nonmated.size - k - 1)[nonmated.size - k - 1]
threshold = nonmated[nonmated > v].min()
alert = done & (score >= threshold)
fmr = np.bincount(codes[~mated & done], weights=alert[~mated & done]) / np.bincount(codes[~mated & done])
fnmr = 1 - np.bincount(codes[mated & done], weights=alert[mated & done]) / np.bincount(codes[mated & done])
print(threshold, fmr.round(5), fnmr.round(4))
'''


@dataclass
class Measured:
    """CPU seconds (user + system), wall seconds, peak resident MiB, output; capped if stopped."""

    cpu: float
    wall: float
    peak_mib: float
    output: str
    capped: bool = False


def measured(command: list[str], cap_mib: float = float("inf")) -> Measured:
    """Run a command, polling its resident memory; stop it (and say so) above ``cap_mib``."""
    import psutil

    start = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, cpu, capped = 0.0, 0.0, False
    while process.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss / 2**20)
            times = process.cpu_times()
            cpu = times.user + times.system
        except psutil.NoSuchProcess:
            break
        if peak > cap_mib:
            process.kill()
            capped = True
        time.sleep(0.2)
    output = process.stdout.read()
    return Measured(cpu, time.perf_counter() - start, peak, output, capped)


def profile(function, top: int = 16) -> str:
    """Top functions of the audit package by cumulative time, for one call."""
    profiler = cProfile.Profile()
    profiler.runcall(function)
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats("audit/", top)
    lines = [line for line in buffer.getvalue().splitlines() if "audit/" in line]
    return "\n".join(line.replace(str(HERE.parent) + "/", "") for line in lines)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def cpu_timed(function, *args, **kwargs):
    """CPU seconds of this process (all threads) for one call, and its result."""
    start = time.process_time()
    result = function(*args, **kwargs)
    return time.process_time() - start, result


def engine_parts(scores, images, threshold: float) -> dict[str, float]:
    """CPU seconds of the engine's parts at one threshold against a bare bincount, on the
    same arrays: FMR by ``group`` (unit counts + breakdown with its cluster counts) and the
    cross-group FMR matrix (trial set, unit counts, breakdown, influence)."""
    from audit.metrics import checked, groups, trials, unit_counts, variance

    table = checked.check_scores_table(scores)
    image_table = checked.check_images(images, ("group",))
    subjects = checked.subject_index(table, image_table)
    fmr = trials.trial_set(table, image_table, trials.FMR, subjects=subjects, columns=("group",))
    grouping = trials.Grouping(("group",))
    group_of_cell, _ = grouping.groups(fmr.cell_table)
    codes = group_of_cell[fmr.cells]
    bare, _ = cpu_timed(lambda: (np.bincount(codes, weights=fmr.scores >= threshold),
                                 np.bincount(codes)))
    limits = {"n_subjects_total": len(subjects), "min_subjects": 30, "min_trials": 100}

    def breakdown():
        units = unit_counts.unit_counts(fmr, np.array([threshold]), ("point",))
        return groups.breakdowns([units], grouping, **limits)

    by_group, _ = cpu_timed(breakdown)

    def cross():
        trial_set = trials.cross_trial_set(table, image_table, grouping, subjects=subjects)
        units = unit_counts.unit_counts(trial_set, np.array([threshold]), ("point",))
        (part,) = groups.breakdowns([units], trials.Grouping(("group",), cross=True), **limits)
        return variance.rate_variance(part.clusters)

    matrix, _ = cpu_timed(cross)
    return {"bare": bare, "by_group": by_group, "cross": matrix}


def bob_far_threshold(python: str, nonmated: np.ndarray, target: float, scratch: Path
                      ) -> tuple[float, float] | None:
    path = scratch / "nonmated.npy"
    np.save(path, nonmated)
    code = ("import sys, time, numpy as np, bob.measure as bm; x = np.load(sys.argv[1]); "
            "s = time.perf_counter(); t = bm.far_threshold(x, np.array([1.0]), float(sys.argv[2])); "
            "print(time.perf_counter() - s, t)")
    done = subprocess.run([python, "-c", code, str(path), str(target)], capture_output=True,
                          text=True, check=False)
    if done.returncode:
        return None
    seconds, threshold = done.stdout.split()
    return float(seconds), float(threshold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--trials", type=int, default=10_000_000)
    parser.add_argument("--searches", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--target-fmr", type=float, default=1e-3)
    parser.add_argument("--bob-python", default=None)
    parser.add_argument("--cap-mib", type=float, default=8192,
                        help="stop the CLI above this resident memory (a shared machine)")
    parser.add_argument("--profile-rows", type=int, default=1_000_000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    from score_log_data import generate

    paths = {"attributes": args.data / "attributes.csv",
             "verification": args.data / "verification.csv",
             "identification": args.data / "identification.csv"}
    if not all(p.exists() for p in paths.values()):
        generate(args.data, trials=args.trials, searches=args.searches, subjects=args.subjects,
                 groups=10, seed=0)
    log, attributes = str(paths["verification"]), str(paths["attributes"])
    python = sys.executable
    cli = [python, "-m", "audit", "metrics", log, "--attributes", attributes, "--grouping",
           "group", "--target-fmr", str(args.target_fmr), "--out",
           str(args.data / "metrics.parquet")]
    rows = []
    base = measured([python, "-c", BASELINE, log, attributes, str(args.target_fmr)])
    rows.append(("baseline: pyarrow read + numpy threshold + bincount by group", base))
    full = measured(cli, cap_mib=args.cap_mib)
    rows.append(("`lfr-audit metrics` on the verification log", full))
    ident = [python, "-m", "audit", "metrics", str(paths["identification"]), "--attributes",
             attributes, "--grouping", "group", "--target-fpir", "0.01", "--out",
             str(args.data / "metrics-1n.parquet")]
    rows.append((f"`lfr-audit metrics` on the {args.searches:,} identification searches",
                 measured(ident, cap_mib=args.cap_mib)))
    mistake = measured(cli[:-4])
    rows.append(("`lfr-audit metrics` answering a mistake (no operating point)", mistake))

    from audit.metrics.engine import compute_metrics
    from audit.metrics.score_logs import read_score_logs
    from audit.metrics.calibration import threshold_for_target

    read_seconds, logs = timed(read_score_logs, log, attributes)
    scores = logs.scores
    nonmated = scores["score"].to_numpy()[~scores["mated"].to_numpy(zero_copy_only=False)]
    nonmated = nonmated[~np.isnan(nonmated)]
    calibrate_seconds, threshold = timed(threshold_for_target, nonmated, args.target_fmr)
    sort_seconds, _ = timed(np.sort, nonmated)
    bob = bob_far_threshold(args.bob_python, nonmated, args.target_fmr, args.data) if (
        args.bob_python) else None
    prefix = scores.slice(0, args.profile_rows)

    def engine() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compute_metrics(prefix, logs.images, target_fmr=(args.target_fmr,),
                            groupings=("group",))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parts = engine_parts(scores, logs.images, threshold)
    engine_seconds, _ = timed(engine)
    profile_text = profile(engine)

    n = len(scores)

    def row(name: str, m: Measured) -> str:
        stopped = f" (stopped above {args.cap_mib:,.0f} MiB)" if m.capped else ""
        return (f"| {name} | {m.cpu:.1f} s | {m.wall:.1f} s | {m.peak_mib:,.0f} MiB{stopped} |")

    table = "\n".join(row(name, m) for name, m in rows)
    ratio = ("not comparable: the CLI was stopped at the memory cap" if full.capped else
             f"**{full.cpu / base.cpu:.1f}x** the CPU time, **{full.peak_mib / base.peak_mib:.1f}x**"
             " the peak memory")
    bob_line = (f"| bob.measure `far_threshold` (same array) | {bob[0]:.2f} s | threshold "
                f"{bob[1]:.6f} |" if bob else "| bob.measure `far_threshold` | not measured | |")
    report = f"""# Score-log benchmark: `lfr-audit metrics` against a plain pyarrow + numpy script

Reproduce from the repository root (not part of the test suite; the data,
about 0.9 GiB of CSV at the default size, is generated into `--data` on the
first run; bob.measure lives in its own venv, `python3.11 -m venv BOB &&
BOB/bin/pip install bob.measure`):

```
.venv/bin/python benchmarks/bench_score_logs.py --data DATA --trials {args.trials} --searches {args.searches} --subjects {args.subjects} --target-fmr {args.target_fmr} --cap-mib {args.cap_mib:.0f} --profile-rows {args.profile_rows}{' --bob-python BOB/bin/python' if args.bob_python else ''}
```

Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()},
numpy {np.__version__}; a 2-core host shared with other work, so wall times vary
widely; CPU time (user + system of the process) is the steadier figure.
Data: {n:,} verification trials of {args.subjects:,} people in 10 groups ({args.subjects:,} mated),
{args.searches:,} identification searches; target FMR {args.target_fmr}, grouping `group`.

## Whole commands (each its own process)

| command | CPU | wall | peak resident memory |
|---|---|---|---|
{table}

CLI against the baseline: {ratio}.
The mistake's answer: `{mistake.output.strip().splitlines()[-1] if mistake.output.strip() else ''}`

## Parts, in one process on the same arrays

| part | time | note |
|---|---|---|
| reader: `read_score_logs` (CSV -> checked SCORES + images) | {read_seconds:.2f} s | {n:,} rows |
| calibration: `threshold_for_target` | {calibrate_seconds:.3f} s | threshold {threshold:.6f} |
| for scale: one `np.sort` of the same {nonmated.size:,} scores | {sort_seconds:.3f} s | |
{bob_line}
| `compute_metrics` on the first {len(prefix):,} trials (target FMR, grouping `group`) | {engine_seconds:.1f} s | profiled below |

## Engine parts on all {n:,} trials at the calibrated threshold (CPU seconds, one process)

| part | CPU | against the bare bincount |
|---|---|---|
| bare `np.bincount` of errors and trials by group (same arrays) | {parts['bare']:.3f} s | 1x |
| FMR by `group`: unit counts and breakdown (MetricFrame, subject and pair counts) | {parts['by_group']:.2f} s | {parts['by_group'] / parts['bare']:.0f}x |
| cross-group FMR matrix: trial set, unit counts, breakdown, dyadic variance | {parts['cross']:.2f} s | |

## Profile of `compute_metrics` on the first {len(prefix):,} trials (cumulative time)

```
{profile_text}
```
"""
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    main()

"""Benchmark: ``lfr-audit metrics`` on a large score log against a plain pyarrow + numpy script.

Generates (once, in ``--data``) a verification log of ``--trials`` 1:1
comparisons of ``--subjects`` people in 10 groups and an identification log of
``--searches`` searches (``benchmarks/score_log_data.py``), then measures in
one run, each in its own process (wall time and peak resident memory from
``/usr/bin/time``):

* the baseline: pyarrow reads the CSV and the attribute file, numpy places a
  threshold for the target FMR (``np.partition``) and counts FMR and FNMR by
  group (``bincount``);
* the whole CLI on the same files at the same target;
* the CLI answering a user mistake (no operating point);
* the reader alone (:func:`audit.metrics.score_logs.read_score_logs`);
* calibration of the target threshold (:func:`audit.metrics.sweep.threshold_for_target`)
  against bob.measure's ``far_threshold`` when ``--bob-python`` names a
  Python that has it;

and a profile of the CLI (cProfile, top functions by cumulative time).
Writes ``benchmarks/results_score_logs.md``.

    .venv/bin/python benchmarks/bench_score_logs.py --data /tmp/logs
"""

from __future__ import annotations

import argparse
import io
import platform
import pstats
import subprocess
import sys
import time
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


def measured(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak resident MiB and stdout of a command run under /usr/bin/time."""
    done = subprocess.run(["/usr/bin/time", "-f", "%e %M", *command], capture_output=True,
                          text=True, check=False)
    wall, peak_kib = done.stderr.strip().splitlines()[-1].split()
    return float(wall), int(peak_kib) / 1024, done.stdout + done.stderr


def profile(command: list[str], out: Path, top: int = 14) -> str:
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), *command],
                   capture_output=True, check=False)
    buffer = io.StringIO()
    pstats.Stats(str(out), stream=buffer).sort_stats("cumulative").print_stats(top)
    lines = [line for line in buffer.getvalue().splitlines() if "/" in line or "{" in line]
    return "\n".join(line.replace(str(Path.cwd()) + "/", "") for line in lines[-top:])


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


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
    base_wall, base_mem, base_out = measured([python, "-c", BASELINE, log, attributes,
                                              str(args.target_fmr)])
    rows.append(("baseline: pyarrow read + numpy threshold + bincount by group", base_wall,
                 base_mem))
    cli_wall, cli_mem, cli_out = measured(cli)
    rows.append(("`lfr-audit metrics` (read, check, calibrate, intervals, contrasts)", cli_wall,
                 cli_mem))
    ident = [python, "-m", "audit", "metrics", str(paths["identification"]), "--attributes",
             attributes, "--grouping", "group", "--target-fmr", str(args.target_fmr),
             "--target-fpir", "0.01", "--out", str(args.data / "metrics-1n.parquet")]
    ident_wall, ident_mem, _ = measured(ident)
    rows.append((f"`lfr-audit metrics` on {args.searches:,} identification searches",
                 ident_wall, ident_mem))
    mistake_wall, mistake_mem, mistake_out = measured(cli[:-4])
    rows.append(("a user mistake answered (no operating point)", mistake_wall, mistake_mem))

    from audit.metrics.score_logs import read_score_logs
    from audit.metrics.sweep import threshold_for_target

    read_seconds, logs = timed(read_score_logs, log, attributes)
    scores = logs.scores
    nonmated = scores["score"].to_numpy()[~scores["mated"].to_numpy(zero_copy_only=False)]
    nonmated = nonmated[~np.isnan(nonmated)]
    calibrate_seconds, threshold = timed(threshold_for_target, nonmated, args.target_fmr)
    sort_seconds, _ = timed(np.sort, nonmated)
    bob = bob_far_threshold(args.bob_python, nonmated, args.target_fmr, args.data) if (
        args.bob_python) else None
    profile_text = profile(["-m", "audit", *cli[3:]], args.data / "cli.prof")

    n = len(scores)
    table = "\n".join(f"| {name} | {wall:.1f} s | {mem:,.0f} MiB |" for name, wall, mem in rows)
    bob_line = (f"| bob.measure `far_threshold` (same array) | {bob[0]:.2f} s | threshold {bob[1]:.6f} |"
                if bob else "| bob.measure `far_threshold` | not measured | see below |")
    report = f"""# Score-log benchmark: `lfr-audit metrics` against a plain pyarrow + numpy script

Reproduce from the repository root (not part of the test suite; the data,
about 1 GiB of CSV, is generated into `--data` on the first run):

```
.venv/bin/python benchmarks/bench_score_logs.py --data DATA --trials {args.trials} --searches {args.searches} --subjects {args.subjects} --target-fmr {args.target_fmr}{' --bob-python BOB_PYTHON' if args.bob_python else ''}
```

Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()},
numpy {np.__version__}; a 2-core host shared with other work, so times vary by tens of percent.
Data: {n:,} verification trials of {args.subjects:,} people in 10 groups ({args.subjects:,} mated),
{args.searches:,} identification searches; target FMR {args.target_fmr}.

## Whole commands (each its own process; wall time, peak resident memory)

| command | wall | peak memory |
|---|---|---|
{table}

CLI / baseline: **{cli_wall / base_wall:.1f}x** the time, **{cli_mem / base_mem:.1f}x** the memory.
The mistake's answer: `{mistake_out.strip().splitlines()[0] if mistake_out.strip() else ''}`

## Parts, in one process on the same arrays

| part | time | note |
|---|---|---|
| reader: `read_score_logs` (CSV -> checked SCORES + images) | {read_seconds:.2f} s | {n:,} rows |
| calibration: `threshold_for_target` | {calibrate_seconds:.3f} s | threshold {threshold:.6f} |
| for scale: one `np.sort` of the same {nonmated.size:,} scores | {sort_seconds:.3f} s | |
{bob_line}

## Profile of the CLI (cProfile, cumulative time, top functions)

```
{profile_text}
```
"""
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    main()

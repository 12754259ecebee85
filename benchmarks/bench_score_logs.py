"""Benchmark: ``lfr-audit metrics`` on a large score log against a plain pyarrow + numpy script.

Generates (once, in ``--data``) a verification log of ``--trials`` 1:1
comparisons of ``--subjects`` people in 10 groups and an identification log of
``--searches`` searches (``benchmarks/score_log_data.py``), then measures in
one run, each in its own process (CPU time and peak resident memory from the
kernel's accounting of the finished process, ``wait4``; each command is run
``--repeats`` times, the commands taking turns, and its least CPU time and
highest peak are reported):

* the baseline: pyarrow reads the CSV and the attribute file, numpy places a
  threshold for the target FMR (``np.partition``) and counts FMR and FNMR by
  group (``bincount``);
* the issue's baseline: the same plus a 1,000-draw subject bootstrap of both rates
  by group (per-person sums, persons resampled with numpy);
* the whole CLI on the same files at the same target, stopped (and said so)
  above ``--cap-mib`` of resident memory;
* the CLI answering a user mistake (no operating point);
* the reader alone (:func:`audit.metrics.score_logs.read_score_logs`);
* calibration of the target threshold (:func:`audit.metrics.calibration.threshold_for_target`)
  and the equal error rate (:func:`audit.metrics.separation.equal_error_rate`)
  against bob.measure's ``far_threshold`` and ``eer_threshold`` on the same
  arrays, when ``--bob-python`` names a Python that has it;
* the engine's parts on all trials at the calibrated threshold against a bare
  ``bincount`` of the same arrays;

and a profile of ``compute_metrics`` on the first ``--profile-rows`` trials.
Writes ``benchmarks/results_score_logs.md``.

    .venv/bin/python benchmarks/bench_score_logs.py --data /tmp/logs
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results_score_logs.md"
#: Calls of each engine part timed; the least CPU time is reported.
REPEAT = 3
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

#: The issue's own baseline: :data:`BASELINE` (also reading the probe's subject) plus a
#: 1,000-draw subject (probe-person) bootstrap of both rates by group: each person's
#: errors and trials are summed first, then persons are resampled with replacement.
BOOTSTRAP = BASELINE.replace('"probe_id", "score"', '"probe_id", "probe_subject", "score"') + r'''
person = pc.dictionary_encode(t["probe_subject"]).combine_chunks().indices.to_numpy()
n_people = int(person.max()) + 1
person_group = np.zeros(n_people, dtype=np.int64); person_group[person] = codes
def per_person(rows, errors):
    return (np.bincount(person[rows], weights=errors[rows], minlength=n_people),
            np.bincount(person[rows], minlength=n_people).astype(np.float64))
sides = [per_person(~mated & done, alert.astype(np.float64)),
         per_person(mated & done, (~alert).astype(np.float64))]
rng = np.random.default_rng(0)
draws = np.empty((1000, 2, codes.max() + 1))
for d in range(1000):
    weight = np.bincount(rng.integers(0, n_people, n_people), minlength=n_people)
    for side, (errors, trials) in enumerate(sides):
        draws[d, side] = (np.bincount(person_group, weights=weight * errors)
                          / np.bincount(person_group, weights=weight * trials))
print(np.nanpercentile(draws, [2.5, 97.5], axis=0).round(5))
'''


#: What any CLI keeping this project's stack and format must do before it checks or counts
#: anything: import Fairlearn (the group breakdowns; scikit-learn and SciPy with it; one
#: OpenBLAS thread, as ``metrics`` asks), parse every column of the log as the reader does
#: (16 MiB blocks, kinds and booleans as dictionaries) and the attribute file, and code the
#: probe and reference image ids once, on one table. No check, no statistic, no output.
FLOOR = r'''
import os, sys
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np, pyarrow as pa, pyarrow.compute as pc, pyarrow.csv as csv
import fairlearn.metrics
trials, attributes = sys.argv[1], sys.argv[2]
few = pa.dictionary(pa.int32(), pa.string())
types = {"trial_kind": few, "mated": few, "score": pa.float64(), **{c: pa.string() for c in (
    "probe_id", "probe_subject", "reference_id", "reference_subject")}}
t = csv.read_csv(trials, read_options=csv.ReadOptions(block_size=16 << 20),
                 convert_options=csv.ConvertOptions(column_types=types))
a = csv.read_csv(attributes, read_options=csv.ReadOptions(block_size=16 << 20))
ids = pc.dictionary_encode(pa.chunked_array(t["probe_id"].chunks + t["reference_id"].chunks))
print(t.num_rows, a.num_rows, sum(len(c.dictionary) for c in ids.chunks[:1]))
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
    """Run a command; its CPU time and peak from the kernel once it ends (``wait4``, exact,
    where polling misses a short peak and the last fraction of a second); resident memory
    is polled only to stop it (and say so) above ``cap_mib``."""
    import psutil

    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    watched, capped = psutil.Process(process.pid), False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        try:
            if not capped and watched.memory_info().rss / 2**20 > cap_mib:
                process.kill()
                capped = True
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.2)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return Measured(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024,
                    process.stdout.read(), capped)


def least_of(runs: list[Measured]) -> Measured:
    """A command's runs as one row: the least CPU and wall time (what the work costs when
    the shared machine lets it), the highest peak (what it may need)."""
    finished = [r for r in runs if not r.capped] or runs  # a stopped run's CPU is no least
    return Measured(min(r.cpu for r in finished), min(r.wall for r in finished),
                    max(r.peak_mib for r in runs), finished[0].output,
                    len(finished) < len(runs) or finished[0].capped)


def profile(function, top: int = 16) -> str:
    """Top functions of the audit package by cumulative time, for one call."""
    profiler = cProfile.Profile()
    profiler.runcall(function)
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats("audit/", top)
    lines = [line for line in buffer.getvalue().splitlines() if "audit/" in line]
    return "\n".join(line.replace(str(HERE.parent) + "/", "") for line in lines)


def cpu_timed(function, *args, **kwargs):
    """CPU seconds of this process (all threads) for one call, and its result."""
    start = time.process_time()
    result = function(*args, **kwargs)
    return time.process_time() - start, result


def least_cpu(function, *args, repeat: int = REPEAT, **kwargs):
    """The least CPU seconds of ``repeat`` calls, and the last result: on a shared machine
    a short, memory-bound call (the bare bincount) varies several-fold from call to call."""
    times, result = [], None
    for _ in range(repeat):
        seconds, result = cpu_timed(function, *args, **kwargs)
        times.append(seconds)
    return min(times), result


def engine_parts(scores, images, threshold: float) -> dict[str, float]:
    """CPU seconds of the engine's parts at one threshold against a bare bincount, on the
    same arrays: FMR by ``group`` (unit counts + breakdown with its cluster counts); its
    unordered subject pairs alone (coded once per log: every FMR breakdown and the
    cross-group matrix share them); the breakdown at the point given those pairs, with
    its trial tables by cell (counted once per rate: every grouping and operating point
    reads them) and given them too; the tables alone; what a second point adds to the
    breakdown; its cluster counts alone (tables included); and the cross-group FMR
    matrix (trial set, breakdown, variances), which
    reuses the FMR trials' rows, scores, subject pairs, codes and cells as
    :func:`audit.metrics.engine.compute_metrics` does.
    One small breakdown runs first, so that no part pays Fairlearn's first-call set-up."""
    from audit.metrics import (checked, cross_groups, cross_trials, groups, trials, unit_counts, variance)
    from audit.metrics.subject_pairs import subject_pairs
    from audit.metrics.trial_rows import TrialRows

    table = checked.check_scores_table(scores)
    image_table = checked.check_images(images, ("group",))
    subjects = checked.subject_index(table, image_table)
    fmr = trials.trial_set(table, image_table, trials.FMR, subjects=subjects, columns=("group",))
    grouping = trials.Grouping(("group",))
    group_of_cell, group_table = grouping.groups(fmr.cell_table)
    codes = group_of_cell[fmr.cells]
    bare, _ = least_cpu(lambda: (np.bincount(codes, weights=fmr.scores >= threshold),
                                 np.bincount(codes)))
    limits = {"n_subjects_total": len(subjects), "min_subjects": 30, "min_trials": 100}
    point = np.array([threshold])
    warm = unit_counts.unit_counts(replace(fmr, scores=fmr.scores[:1000], subjects=fmr.subjects[
        :1000], cells=fmr.cells[:1000], reference_subjects=fmr.reference_subjects[:1000]),
        point, ("point",))
    groups.breakdowns([warm], grouping, **limits)

    def breakdown():
        units = unit_counts.unit_counts(fmr, point, ("point",))
        return units, groups.breakdowns([units], grouping, **limits)

    by_group, (units, _) = least_cpu(breakdown)
    pairs, coded = least_cpu(subject_pairs, fmr.subjects, fmr.reference_subjects)
    fmr_coded = replace(fmr, pairs=coded)

    def coded_point():
        units = unit_counts.unit_counts(fmr_coded, point, ("point",))
        return groups.breakdowns([units], grouping, **limits)

    with_tables, _ = least_cpu(coded_point)
    tables, (counted,) = least_cpu(lambda: [groups.rate_tables(units, len(subjects))])

    def per_point():
        units = unit_counts.unit_counts(fmr_coded, point, ("point",))
        return groups.breakdowns([units], grouping, tables=[counted], **limits)

    at_point, _ = least_cpu(per_point)
    points = np.array([threshold, threshold + 0.01])  # a second, stricter point

    def two_points():
        units = unit_counts.unit_counts(fmr_coded, points, ("point", "second"))
        return groups.breakdowns([units], grouping, tables=[counted], **limits)

    second_point = least_cpu(two_points)[0] - at_point

    def cluster_counts():
        fresh = groups.rate_tables(units, len(subjects))
        sides = fresh.side_trials(group_of_cell, len(group_table))
        return groups._cluster_counts(units, None, len(group_table), len(subjects),
                                      group_of_cell=group_of_cell, tables=(fresh, sides))

    clusters, _ = least_cpu(cluster_counts)  # its per-subject trials counted too

    fmr_rows = (TrialRows(table, image_table, subjects).kept(trials.FMR), fmr.scores)

    def cross():
        trial_set = cross_trials.cross_trial_set(table, image_table, grouping, subjects=subjects,
                                           fmr_pairs=units.pairs,
                                           fmr_subjects=(units.subjects, units.reference_subjects),
                                           fmr_cells=(units.cells, units.cell_table),
                                           fmr_rows=fmr_rows)
        part = cross_groups.cross_breakdown(trial_set, ("group",), point, ("point",), **limits)
        return variance.rate_variance(part.clusters)

    matrix, _ = least_cpu(cross)
    return {"bare": bare, "by_group": by_group, "pairs": pairs, "with_tables": with_tables,
            "tables": tables, "at_point": at_point, "second_point": second_point,
            "clusters": clusters, "cross": matrix}


BOB = r"""
import sys, time, numpy as np, bob.measure as bm
negatives, positives, target = np.load(sys.argv[1]), np.load(sys.argv[2]), float(sys.argv[3])
bm.far_threshold(negatives[:100], positives[:100], 0.1)  # numba compiles on the first call:
bm.eer_threshold(negatives[:100], positives[:100])  # not timed
start = time.process_time(); far = bm.far_threshold(negatives, positives, target)
far_seconds = time.process_time() - start
start = time.process_time(); eer = bm.eer_threshold(negatives, positives)
eer_seconds = time.process_time() - start
rates = bm.farfrr(negatives, positives, eer)
print(far_seconds, far, eer_seconds, eer, (rates[0] + rates[1]) / 2)
"""


def bob_thresholds(python: str, nonmated: np.ndarray, mated: np.ndarray, target: float,
                   scratch: Path) -> list[float] | None:
    """bob.measure's ``far_threshold`` and ``eer_threshold`` on the same arrays, CPU seconds
    after a first call on 100 scores (numba compiles them then):
    [far seconds, far threshold, eer seconds, eer threshold, (FAR + FRR) / 2 there]."""
    paths = [scratch / "nonmated.npy", scratch / "mated.npy"]
    np.save(paths[0], nonmated)
    np.save(paths[1], mated)
    done = subprocess.run([python, "-c", BOB, *map(str, paths), str(target)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        return None
    return [float(v) for v in done.stdout.split()]


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
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each whole command (least CPU reported)")
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
    ident = [python, "-m", "audit", "metrics", str(paths["identification"]), "--attributes",
             attributes, "--grouping", "group", "--target-fpir", "0.01", "--out",
             str(args.data / "metrics-1n.parquet")]
    commands = {
        "baseline: pyarrow read + numpy threshold + bincount by group":
            [python, "-c", BASELINE, log, attributes, str(args.target_fmr)],
        "baseline with a 1,000-draw subject bootstrap of the group rates (the issue's)":
            [python, "-c", BOOTSTRAP, log, attributes, str(args.target_fmr)],
        "floor: import Fairlearn, parse every column, code the image ids once (no check, "
        "no statistic)": [python, "-c", FLOOR, log, attributes],
        "`lfr-audit metrics` on the verification log": cli,
        f"`lfr-audit metrics` on the {args.searches:,} identification searches": ident,
        "`lfr-audit metrics` answering a mistake (no operating point)": cli[:-4],
    }
    runs: dict[str, list[Measured]] = {name: [] for name in commands}
    for _ in range(args.repeats):  # the commands take turns: a busy spell hits all of them
        for name, command in commands.items():
            runs[name].append(measured(command, cap_mib=args.cap_mib))
    rows = [(name, least_of(found)) for name, found in runs.items()]
    base, boot, floor, full, _, mistake = (m for _, m in rows)

    from audit.metrics.engine import compute_metrics
    from audit.metrics.score_logs import read_score_logs
    from audit.metrics.calibration import threshold_for_target
    from audit.metrics.separation import equal_error_rate

    read_seconds, logs = cpu_timed(read_score_logs, log, attributes)
    scores = logs.scores
    is_mated = scores["mated"].to_numpy(zero_copy_only=False)
    all_scores = scores["score"].to_numpy()
    nonmated, mated = all_scores[~is_mated], all_scores[is_mated]
    nonmated, mated = nonmated[~np.isnan(nonmated)], mated[~np.isnan(mated)]
    calibrate_seconds, threshold = cpu_timed(threshold_for_target, nonmated, args.target_fmr)
    sort_seconds, _ = cpu_timed(np.sort, nonmated)
    scored = np.concatenate([nonmated, mated])
    labels = np.concatenate([np.zeros(nonmated.size, bool), np.ones(mated.size, bool)])
    eer_seconds, eer = cpu_timed(equal_error_rate, scored, labels)
    bob = bob_thresholds(args.bob_python, nonmated, mated, args.target_fmr, args.data) if (
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
    engine_seconds, _ = cpu_timed(engine)
    profile_text = profile(engine)

    n = len(scores)

    def row(name: str, m: Measured) -> str:
        stopped = f" (stopped above {args.cap_mib:,.0f} MiB)" if m.capped else ""
        return (f"| {name} | {m.cpu:.1f} s | {m.wall:.1f} s | {m.peak_mib:,.0f} MiB{stopped} |")

    table = "\n".join(row(name, m) for name, m in rows)
    ratio = ("not comparable: the CLI was stopped at the memory cap" if full.capped else
             f"**{full.cpu / base.cpu:.1f}x** the CPU time, **{full.peak_mib / base.peak_mib:.1f}x**"
             f" the peak memory of the plain baseline; **{full.cpu / boot.cpu:.1f}x** the CPU"
             f" time, **{full.peak_mib / boot.peak_mib:.1f}x** the peak memory of the baseline"
             " with the bootstrap")
    floor_text = (f"**{floor.cpu / base.cpu:.1f}x** the plain baseline's CPU time, "
                  f"**{floor.cpu / boot.cpu:.1f}x** that with the bootstrap: at 1.5x the latter, "
                  f"{1.5 * boot.cpu - floor.cpu:.1f} s would be left for every check, statistic "
                  f"and output, where the CLI spends {full.cpu - floor.cpu:.1f} s on them")
    bob_lines = (f"| bob.measure `far_threshold` (same arrays) | {bob[0]:.3f} s | threshold "
                 f"{bob[1]:.6f} |\n| bob.measure `eer_threshold` (same arrays) | {bob[2]:.3f} s | "
                 f"threshold {bob[3]:.6f}; (FAR + FRR) / 2 there {bob[4]:.6f} |" if bob else
                 "| bob.measure `far_threshold`, `eer_threshold` | not measured | |")
    report = f"""# Score-log benchmark: `lfr-audit metrics` against a plain pyarrow + numpy script

Reproduce from the repository root (not part of the test suite; the data,
about 0.9 GiB of CSV at the default size, is generated into `--data` on the
first run; bob.measure lives in its own venv, `python3.11 -m venv BOB &&
BOB/bin/pip install bob.measure`):

```
.venv/bin/python benchmarks/bench_score_logs.py --data DATA --trials {args.trials} --searches {args.searches} --subjects {args.subjects} --target-fmr {args.target_fmr} --cap-mib {args.cap_mib:.0f} --profile-rows {args.profile_rows} --repeats {args.repeats}{' --bob-python BOB/bin/python' if args.bob_python else ''}
```

Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()},
numpy {np.__version__}; a 2-core host shared with other work, so wall times vary
widely; CPU time (user + system of the process) is the steadier figure.
Data: {n:,} verification trials of {args.subjects:,} people in 10 groups ({args.subjects:,} mated),
{args.searches:,} identification searches; target FMR {args.target_fmr}, grouping `group`.

## Whole commands (each its own process; least CPU of {args.repeats} runs taking turns, highest peak)

| command | CPU | wall | peak resident memory |
|---|---|---|---|
{table}

CLI against the baseline: {ratio}.
The floor: {floor_text}.
The mistake's answer: `{mistake.output.strip().splitlines()[-1] if mistake.output.strip() else ''}`

## Parts, in one process on the same arrays (CPU seconds; bob.measure in its own process)

| part | CPU | note |
|---|---|---|
| reader: `read_score_logs` (CSV -> checked SCORES + images) | {read_seconds:.2f} s | {n:,} rows |
| calibration: `threshold_for_target` | {calibrate_seconds:.3f} s | threshold {threshold:.6f} |
| equal error rate: `equal_error_rate` ({scored.size:,} scores) | {eer_seconds:.3f} s | EER {eer:.6f} |
| for scale: one `np.sort` of the {nonmated.size:,} non-mated scores | {sort_seconds:.3f} s | |
{bob_lines}
| `compute_metrics` on the first {len(prefix):,} trials (target FMR, grouping `group`) | {engine_seconds:.1f} s | profiled below |

## Engine parts on all {n:,} trials at the calibrated threshold (CPU seconds, one process)

Each part is the least CPU time of {REPEAT} calls (the bare bincount varies several-fold
from call to call on a shared machine).

| part | CPU | against the bare bincount |
|---|---|---|
| bare `np.bincount` of errors and trials by group (same arrays) | {parts['bare']:.3f} s | 1x |
| FMR by `group`, all of it: pair coding, unit counts and breakdown (MetricFrame, subject and pair counts) | {parts['by_group']:.2f} s | {parts['by_group'] / parts['bare']:.1f}x |
| of which, once per log: coding the trials' unordered subject pairs (`subject_pairs`, alone; shared by every FMR breakdown, operating point and the cross-group matrix) | {parts['pairs']:.2f} s | {parts['pairs'] / parts['bare']:.1f}x |
| of which, the pairs already coded: unit counts, trial tables and breakdown | {parts['with_tables']:.2f} s | {parts['with_tables'] / parts['bare']:.1f}x |
| of which, once per rate: the trials per subject and per subject pair by cell (`rate_tables`, alone; read by every grouping and operating point) | {parts['tables']:.2f} s | {parts['tables'] / parts['bare']:.1f}x |
| of which, per grouping and operating point: unit counts and breakdown, the pairs coded and the tables counted | {parts['at_point']:.2f} s | {parts['at_point'] / parts['bare']:.1f}x |
| of which: per-subject and per-pair counts for the intervals (`_cluster_counts` with its tables, alone) | {parts['clusters']:.2f} s | {parts['clusters'] / parts['bare']:.1f}x |
| for scale: what a second operating point adds to that breakdown (two points less one) | {parts['second_point']:.2f} s | {parts['second_point'] / parts['bare']:.1f}x |
| cross-group FMR matrix: trial set, breakdown, dyadic variance | {parts['cross']:.2f} s | |

## Profile of `compute_metrics` on the first {len(prefix):,} trials (cumulative time)

```
{profile_text}
```
"""
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    main()

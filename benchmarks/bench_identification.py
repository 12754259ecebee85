"""Speed and memory of 1:N watchlist search (not a test; run on demand).

A live deployment searches every passer-by against the whole watchlist, so
the search is the matching stage's hot loop. This measures it at the scale
asked of the tool: a 10,000-entry watchlist and 100,000 probes of 128-d
float32 embeddings (the Dlib descriptor size), and two naive baselines in the
same run, on the same data:

- ``loop``: one probe at a time (a matrix-vector product per probe), on a
  subset of probes;
- ``full-matrix``: one unchunked matrix product for a subset of probes, the
  memory-hungry way.

Each case runs in its own subprocess, so that its peak resident memory
(``resource.getrusage``) is its own; ``tracemalloc`` gives the peak of the
allocations made during the timed call. Throughput is probes per second;
ratios compare the chunked search with each baseline.

    .venv/bin/python benchmarks/bench_identification.py

``--markdown`` prints the results as the table kept in
``benchmarks/results_identification.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pyarrow as pa

from audit.matching.identification import (
    DEFAULT_BLOCK_BYTES,
    identification_scores,
    search_watchlist,
)
from audit.matching.similarity import similarity_matrix
from audit.schema import FACES

WATCHLIST = 10_000
PROBES = 100_000
DIM = 128
MATED_SHARE = 0.3  # share of probes whose subject is on the watchlist
LOOP_SUBSET = 2_000
FULL_MATRIX_SUBSET = 20_000
SEED = 0


def synthetic(n_probes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit-ish embeddings: watchlist entries, probes (30% noisy copies of an entry)."""
    rng = np.random.default_rng(SEED)
    watchlist = rng.normal(size=(WATCHLIST, DIM)).astype(np.float32)
    true_entry = np.where(
        rng.random(PROBES) < MATED_SHARE, rng.integers(0, WATCHLIST, PROBES), -1
    )
    probes = rng.normal(size=(PROBES, DIM)).astype(np.float32)
    mated = true_entry >= 0
    probes[mated] = watchlist[true_entry[mated]] + 0.8 * probes[mated]
    return watchlist, probes[:n_probes], true_entry[:n_probes]


def synthetic_tables() -> tuple[pa.Table, pa.Table]:
    """Faces and manifest tables of 110,000 images of 27,500 subjects (4 images each)."""
    rng = np.random.default_rng(SEED)
    n = WATCHLIST + PROBES
    subject = np.repeat(np.arange(n // 4), 4)
    centres = rng.normal(size=(n // 4, DIM)).astype(np.float32)
    embedding = centres[subject] + 0.8 * rng.normal(size=(n, DIM)).astype(np.float32)
    ids = pa.array([f"img{i:06d}" for i in range(n)])
    manifest = pa.table(
        {
            "image_id": ids,
            "path": ids,
            "subject_id": pa.array([f"s{s:05d}" for s in subject]),
            "dataset": pa.array(["synthetic"] * n),
        }
    )
    columns = {f.name: pa.nulls(n, f.type) for f in FACES}
    columns["image_id"] = ids
    columns["config_key"] = pa.array(["bench"] * n)
    columns["status"] = pa.array(["ok"] * n)
    offsets = pa.array(np.arange(0, (n + 1) * DIM, DIM, dtype=np.int32))
    columns["embedding"] = pa.ListArray.from_arrays(offsets, pa.array(embedding.ravel()))
    return pa.table(columns, schema=FACES), manifest


def naive_loop(probes: np.ndarray, watchlist: np.ndarray, true_entry: np.ndarray) -> None:
    """Baseline: a Python loop over probes, each a matrix-vector product."""
    unit = watchlist / np.linalg.norm(watchlist, axis=1, keepdims=True)
    for p, t in zip(probes, true_entry):
        s = unit @ (p / np.linalg.norm(p))
        int(np.argmax(s))
        if t >= 0:
            int(np.count_nonzero(s > s[t]))


def full_matrix(probes: np.ndarray, watchlist: np.ndarray, true_entry: np.ndarray) -> None:
    """Baseline: the same work as one unchunked product (memory grows with probes)."""
    scores = similarity_matrix(probes, watchlist, distance="cosine")
    np.argmax(scores, axis=1)
    mated = np.flatnonzero(true_entry >= 0)
    true_score = scores[mated, true_entry[mated]][:, None]
    np.count_nonzero(scores[mated] > true_score, axis=1)


def run_case(case: str) -> dict:
    """Time one case in this process; return its measurements."""
    if case == "table":
        faces, manifest = synthetic_tables()
        work = lambda: identification_scores(  # noqa: E731
            faces, manifest, watchlist_size=WATCHLIST, seed=SEED
        )
        n_probes = PROBES
    else:
        n_probes = {"loop": LOOP_SUBSET, "full-matrix": FULL_MATRIX_SUBSET}.get(case, PROBES)
        watchlist, probes, true_entry = synthetic(n_probes)
        if case == "loop":
            work = lambda: naive_loop(probes, watchlist, true_entry)  # noqa: E731
        elif case == "full-matrix":
            work = lambda: full_matrix(probes, watchlist, true_entry)  # noqa: E731
        else:
            chunk = None if case == "chunked" else int(case.split("-")[1])
            work = lambda: search_watchlist(  # noqa: E731
                probes, watchlist, true_entry=true_entry, chunk_size=chunk
            )
    tracemalloc.start()
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "case": case,
        "probes": n_probes,
        "seconds": seconds,
        "probes_per_s": n_probes / seconds,
        "traced_peak_mib": peak / 2**20,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


CASES = ("chunked", "chunk-256", "chunk-4096", "table", "full-matrix", "loop")

DESCRIPTIONS = {
    "chunked": f"search_watchlist, default chunk ({DEFAULT_BLOCK_BYTES // (4 * WATCHLIST)} probes)",
    "chunk-256": "search_watchlist, chunk_size=256",
    "chunk-4096": "search_watchlist, chunk_size=4096",
    "table": "identification_scores end to end (110,000-image tables in, scores table out)",
    "full-matrix": f"baseline: one unchunked product, {FULL_MATRIX_SUBSET:,} probes",
    "loop": f"baseline: per-probe loop, {LOOP_SUBSET:,} probes",
}


def markdown(results: list[dict]) -> str:
    by_case = {r["case"]: r for r in results}
    rate = by_case["chunked"]["probes_per_s"]
    lines = [
        "| case | probes | time (s) | probes/s | default chunked is N x faster | traced peak (MiB) | max RSS (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {DESCRIPTIONS[r['case']]} | {r['probes']:,} | {r['seconds']:.2f} | "
            f"{r['probes_per_s']:,.0f} | {rate / r['probes_per_s']:.1f}x | "
            f"{r['traced_peak_mib']:.0f} | {r['max_rss_mib']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES, help="run one case in this process (JSON out)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    results = []
    for case in CASES:
        out = subprocess.run(
            [sys.executable, __file__, "--case", case], check=True, capture_output=True, text=True
        )
        results.append(json.loads(out.stdout))
        print(json.dumps(results[-1]), file=sys.stderr)
    print(
        f"watchlist {WATCHLIST:,} x probes {PROBES:,}, d={DIM}, float32, cosine; "
        f"numpy {np.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs"
    )
    print(markdown(results) if args.markdown else json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

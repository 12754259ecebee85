"""Speed and memory of the watchlist-size curve (not a test; run on demand).

The exact FPIR(W) curve (:mod:`audit.metrics.watchlist_curve`) needs, for
every probe and threshold, the number of gallery entries scoring at or above
it. Streamed (:func:`audit.matching.streaming.exceedance_histogram`), that is a
chunked float32 matrix product plus a count, then one small matrix product
(:func:`audit.metrics.watchlist_curve.fpir_from_histogram`). The baseline,
measured in the same run on the same data, is what a single-watchlist search
costs: the same chunked float32 product plus the top-1 entry of each probe.

Each case runs in its own subprocess, so that its peak resident memory
(``resource.getrusage``) is its own. The count's cost grows with the share of
scores at or above the lowest threshold (only those are binned); the
thresholds here run from 2 to 6 standard deviations of the non-mated scores,
so the curve spans FPIR from near 1 to about 1e-4 across the W range.

    nice -n 10 .venv/bin/python benchmarks/bench_watchlist_curve.py --markdown
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

import numpy as np

from audit.matching.streaming import BLOCK_BYTES, exceedance_histogram
from audit.matching.similarity import similarity_matrix
from audit.metrics.watchlist_curve import fpir_from_histogram

DIM = 128
SEED = 0


def synthetic(n_probes: int, gallery: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    return (rng.normal(size=(n_probes, DIM)).astype(np.float32),
            rng.normal(size=(gallery, DIM)).astype(np.float32))


def thresholds(count: int) -> np.ndarray:
    """Cosine thresholds from 2 to 6 standard deviations of random 128-d pairs (sd 1/sqrt(128))."""
    return np.linspace(2, 6, count) / np.sqrt(DIM)


def run_case(case: str, n_probes: int, gallery_size: int, n_thresholds: int) -> dict:
    probes, gallery = synthetic(n_probes, gallery_size)
    chunk = max(1, BLOCK_BYTES // (4 * gallery_size))
    start = time.perf_counter()
    if case == "gemm-top1":
        top = np.empty(n_probes, dtype=np.int64)
        for b in range(0, n_probes, chunk):
            top[b: b + chunk] = np.argmax(similarity_matrix(probes[b: b + chunk], gallery,
                                                            distance="cosine"), axis=1)
        result = {"checksum": int(top.sum())}
    else:
        sizes = np.unique(np.round(np.logspace(1, np.log10(gallery_size), 30)).astype(int))
        hist = exceedance_histogram(probes, gallery, thresholds(n_thresholds), chunk_size=chunk)
        curve = fpir_from_histogram(hist, gallery_size, sizes)
        result = {"fpir_w10_lowest_t": float(curve[0, 0]),
                  "fpir_wmax_highest_t": float(curve[-1, -1]), "sizes": len(sizes)}
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    return {"case": case, "seconds": seconds, "peak_rss_mib": peak, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=100_000)
    parser.add_argument("--gallery", type=int, default=10_000)
    parser.add_argument("--thresholds", type=int, default=1_000)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.probes, args.gallery, args.thresholds)))
        return
    rows = []
    for case in ("gemm-top1", "curve"):
        out = subprocess.run(
            [sys.executable, __file__, "--case", case, "--probes", str(args.probes),
             "--gallery", str(args.gallery), "--thresholds", str(args.thresholds)],
            capture_output=True, text=True, check=True, env=os.environ)
        rows.append(json.loads(out.stdout))
    base = rows[0]["seconds"]
    header = (f"{args.probes:,} probes x {args.gallery:,} gallery, {DIM}-d float32, "
              f"{args.thresholds:,} thresholds; {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} CPUs")
    if args.markdown:
        print(header + "\n\n| case | seconds | x GEMM+top-1 | peak RSS MiB |\n|---|---|---|---|")
        for r in rows:
            print(f"| {r['case']} | {r['seconds']:.1f} | {r['seconds'] / base:.2f} "
                  f"| {r['peak_rss_mib']:.0f} |")
        print("\n" + json.dumps(rows[1]))
    else:
        print(header)
        for r in rows:
            print(r)


if __name__ == "__main__":
    main()

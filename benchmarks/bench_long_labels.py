"""Report size and render time against label length: bounded by the number of groups.

The simulated audit of the report tests (400 people, gender x ethnicity, three
groupings, real metrics stage) is run with every label lengthened to L
characters, and its report rendered with long labels shortened
(:mod:`audit.report.labels`, the default) and, as the baseline measured in the
same run, without (HTML only: the unshortened PDF of 10,000-character labels
did not finish in 30 minutes in the issue that asked for this). One untimed
render first, so that imports and font loading count in no row. Times are
wall-clock on a shared machine: the sizes are the measure that does not move.

    PYTHONPATH=. nice -n 10 python benchmarks/bench_long_labels.py \
        > benchmarks/results_long_labels.md
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from report_audit import audit_spec, simulate, thresholds  # noqa: E402
from report_tables import run_info  # noqa: E402

from audit.runs.report import with_short_labels  # noqa: E402
from audit.report.context import build_context  # noqa: E402
from audit.report.inputs import DatasetInfo  # noqa: E402
from audit.report.render import write_report  # noqa: E402
from audit.runs.measure import measure  # noqa: E402

LENGTHS = (10, 1_000, 10_000)


def lengthened(manifest: pa.Table, length: int) -> pa.Table:
    """Every gender and ethnicity value padded to ``length`` characters (still distinct)."""
    for name in ("gender", "ethnicity"):
        column = manifest.column(name)
        padded = pc.utf8_rpad(pc.binary_join_element_wise(column, "-", ""), length, "q")
        manifest = manifest.set_column(manifest.column_names.index(name), name, padded)
    return manifest


def metrics_for(length: int) -> pa.Table:
    manifest, faces, scores = simulate(3)
    spec = audit_spec(groupings={"sensitive": ["gender", "ethnicity", "gender x ethnicity"],
                                 "conditions": ["face_height_band"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return measure(spec, lengthened(manifest, length), faces, scores, thresholds())


def render(metrics: pa.Table, shorten: bool, formats: tuple[str, ...]) -> dict[str, tuple]:
    run = run_info(datasets=(DatasetInfo(name="simulated", label_source="perceived"),))
    if shorten:
        metrics, run = with_short_labels(metrics, run)
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        for fmt in formats:
            start = time.perf_counter()
            written = write_report(build_context(metrics, run), Path(folder), (fmt,))
            out[fmt] = (time.perf_counter() - start, written[fmt].stat().st_size)
    return out


def main() -> None:
    render(metrics_for(10), True, ("html", "pdf"))  # warm-up: imports, fonts, caches
    print("| label length | shortened | HTML s | HTML kB | PDF s | PDF kB |", flush=True)
    print("|---:|---|---:|---:|---:|---:|")
    for length in LENGTHS:
        metrics = metrics_for(length)
        for shorten in (True, False):
            formats = ("html", "pdf") if shorten else ("html",)
            result = render(metrics, shorten, formats)
            html_s, html_b = result["html"]
            pdf = (f"{result['pdf'][0]:.1f} | {result['pdf'][1] / 1e3:,.0f}" if "pdf" in result
                   else "not run | -")
            print(f"| {length:,} | {'yes' if shorten else 'no (baseline)'} | {html_s:.1f} | "
                  f"{html_b / 1e3:,.0f} | {pdf} |", flush=True)


if __name__ == "__main__":
    main()

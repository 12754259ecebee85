"""The report quotes the coverage study's measured numbers, read from its file, or says it has none."""

from __future__ import annotations

import json

from audit.report.coverage import MEASURED, measured_coverage


def test_measured_coverage_reads_the_study_file(tmp_path):
    study = {"command": "bench", "nominal": 0.95, "results": [
        {"setting": "FMR, dyadic", "interval": "rate g1", "measured": 0.925, "simulations": 400},
        {"setting": "FMR, dyadic", "interval": "ratio", "measured": 0.905, "simulations": 400}]}
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(study))
    rows = measured_coverage(path)
    assert [(r.method, r.statistic, r.measured, r.simulations) for r in rows] == [
        ("wilson-clustered", "rate g1", 0.925, 400), ("mover-log", "ratio", 0.905, 400)]
    assert measured_coverage(tmp_path / "absent.json") is None


def test_the_packaged_study_file_is_complete():
    rows = measured_coverage(MEASURED)
    assert rows, "benchmarks/bench_coverage.py writes audit/report/coverage.json"
    assert all(r.simulations >= 200 and 0 < r.measured <= 1 for r in rows)
    assert {r.method for r in rows} == {"wilson-clustered", "mover-log", "mover"}

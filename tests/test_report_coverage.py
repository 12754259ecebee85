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
    assert {r.method for r in rows} == {"wilson-clustered", "mover-log", "mover", "hall-t-log",
                                        "hall-t", "symmetric-t-log", "symmetric-t"}


def test_a_row_naming_its_method_is_quoted_with_it(tmp_path):
    study = {"nominal": 0.95, "results": [{"setting": "FMR, dyadic", "interval": "ratio",
                                           "method": "hall-t-log", "measured": 0.95,
                                           "simulations": 200}]}
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(study))
    assert [r.method for r in measured_coverage(path)] == ["hall-t-log"]


def test_method_section_names_exactly_the_intervals_that_fall_short():
    import dataclasses
    import html
    import re
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from report_tables import hand_made, run_info

    from audit.report.context import CoverageResult, build_context
    from audit.report.render import environment

    rows = (CoverageResult("wilson-clustered", "rate g1", 0.95, 0.925, 400, "FMR, dyadic"),
            CoverageResult("wilson-clustered", "rate g2", 0.95, 0.931, 400, "FMR, dyadic"),
            CoverageResult("mover-log", "ratio", 0.95, 0.944, 400, "FNMR, one-way"))
    context = dataclasses.replace(build_context(hand_made(), run_info()), coverage=rows)
    markup = environment().get_template("sections/method.html.j2").render(ctx=context)
    words = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup)))
    named = words.split("should be read with that in mind:")[1].split("Intervals at calibrated")[0]
    assert "rate g1: 92.5%" in named
    assert "93.1%" not in named and "94.4%" not in named

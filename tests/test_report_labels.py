"""Long group labels: shortened everywhere in the report, printed in full once."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from report_tables import hand_made, run_info

from typer.testing import CliRunner

from audit.cli import app
from audit.report.context import build_context
from audit.report.labels import MAX_LABEL_CHARS, long_labels, shorten_metrics, with_short_labels
from audit.report.render import render_html
from audit.tables import write_table

LONG = 10_000


def _lengthened(metrics: pa.Table, length: int) -> pa.Table:
    """Groups ``a`` and ``b`` renamed to labels of ``length`` characters."""
    mapping = {g: g + "-" + g * (length - 2) for g in ("a", "b")}
    return shorten_metrics(metrics, mapping)  # the same replacement, run the other way


def test_every_label_over_the_bound_is_shortened_uniquely():
    labels = ["a" * 50 + "1", "a" * 50 + "2", "short"]
    mapping = long_labels(labels)
    assert set(mapping) == set(labels[:2])
    assert len(set(mapping.values())) == 2
    assert all(len(short) == MAX_LABEL_CHARS for short in mapping.values())


def test_report_size_does_not_grow_with_label_length():
    base = hand_made()
    html = {}
    for length in (100, LONG):
        metrics, run = with_short_labels(_lengthened(base, length), run_info())
        html[length] = render_html(build_context(metrics, run))
    long_a = "a-" + "a" * (LONG - 2)
    assert html[LONG].count(long_a) == 1  # in full once, in the data section
    assert f"[1] {long_a}" in html[LONG]
    # the shortened labels are the same at both lengths: the two full labels are the growth
    assert len(html[LONG]) - len(html[100]) == 2 * (LONG - 100)


def test_labels_in_the_metrics_table_are_replaced_in_both_label_columns():
    metrics = _lengthened(hand_made(), 100)
    mapping = long_labels(pc.unique(metrics.column("group")).to_pylist())
    shortened = shorten_metrics(metrics, mapping)
    for name in ("group", "group_b"):
        if name in shortened.column_names:
            values = [v for v in pc.unique(shortened.column(name)).to_pylist() if v]
            assert max(len(v) for v in values) <= MAX_LABEL_CHARS


def test_report_of_a_bare_metrics_table_shortens_long_labels(tmp_path):
    """``lfr-audit report metrics.parquet``: no run folder, no datasets, the same rule."""
    html = {}
    for length in (100, LONG):
        path = tmp_path / str(length) / "metrics.parquet"  # same name: same run id
        path.parent.mkdir()
        write_table(_lengthened(hand_made(), length), path)
        result = CliRunner().invoke(app, ["report", str(path), "--format", "html"])
        assert result.exit_code == 0, result.output
        html[length] = (path.parent / "report.html").read_text(encoding="utf-8")
    long_a, long_b = ("a-" + "a" * (LONG - 2)), ("b-" + "b" * (LONG - 2))
    assert html[LONG].count(long_a) == html[LONG].count(long_b) == 1
    assert f"[1] {long_a}" in html[LONG] and f"[2] {long_b}" in html[LONG]
    assert "a" * 40 not in html[LONG].replace(long_a, "")  # nowhere else in full
    short_a = long_labels([long_a])[long_a]
    assert html[LONG].count(short_a) > 1  # the shortened label is what tables print
    assert len(html[LONG]) - len(html[100]) == 2 * (LONG - 100)

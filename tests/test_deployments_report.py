"""``lfr-audit deployments``: the published examples end to end, the report's
safety, and user mistakes as one-line errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli import EXIT_USAGE, app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "deployments"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["deployments", *map(str, args)], env={"COLUMNS": "220"})


def examples(out, *formats):
    extra = [a for f in formats for a in ("--format", f)]
    return run(EXAMPLES / "records.csv", "--alerts", EXAMPLES / "alerts.csv", "--crowd",
               EXAMPLES / "crowd.csv", "--lab", EXAMPLES / "lab.csv", "--out", out, *extra)


def test_examples_give_the_published_figures_and_a_report(tmp_path):
    result = examples(tmp_path)
    assert result.exit_code == 0, result.output
    # South Wales 2017 final: 2,297 of 2,470 false is 93.0% (the press says 92%).
    assert "93.0% [91.9%, 94.0%] (2,297/2,470)" in result.output
    # Essex review: 14 of 42 recorded false, up to 34 of 42 with the 20 unresolved.
    assert "(14/42)" in result.output and "81.0% [65.9%, 91.4%] (34/42)" in result.output
    # NPL: 7 of 7 shows over-representation only below a crowd share of 0.025 ** (1/7).
    assert "7 of 7 false alerts 'ethnic minority'; over-representation shown for crowd shares below 59.0%" in result.output
    html = (tmp_path / "deployments.html").read_text()
    assert "2,297 of 2,470" in html and "59.0%" in html and "Content-Security-Policy" in html
    assert "<script" not in html and "src=\"http" not in html
    assert 'id="trend-fig"' in html  # the figure over time, as inline SVG
    pdf = tmp_path / "deployments.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: PDF pages not rendered")
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 6 and all(p.stat().st_size > 1000 for p in pages)


def test_every_sentence_names_what_is_missing(tmp_path):
    result = examples(tmp_path, "html")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "deployments.html").read_text()
    text = re.sub(r"<[^>]+>", " ", html)
    assert "No false-alert rate or share could be computed for met-2017-notting-hill, npl-2023-lfr-t0.60" in text
    assert "no interval in the source" in text
    assert "shown at the low end of the range but not at the high end" in text
    assert not (tmp_path / "deployments.pdf").exists()


def test_data_text_is_escaped(tmp_path):
    records = tmp_path / "r.csv"
    records.write_text("deployment_id,location,alerts,confirmed_false,notes\n"
                       "\"<script>alert(1)</script>\",<img src=x onerror=y>,3,1,<b>bold</b>\n")
    result = run(records, "--out", tmp_path / "out", "--format", "html")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "out" / "deployments.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_impossible_records_exit_2_with_the_row_and_no_traceback(tmp_path):
    records = tmp_path / "r.csv"
    records.write_text("deployment_id,alerts,confirmed_true,confirmed_false\nok,3,1,2\nbad,3,3,2\n")
    result = run(records, "--out", tmp_path / "out")
    assert result.exit_code == EXIT_USAGE
    assert "row 3 (bad): confirmed true + false + unresolved (5) > alerts (3)" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()



@pytest.mark.parametrize("confidence, differ", [(0.95, False), (0.90, True), (0.99, False)])
def test_records_are_said_to_differ_at_the_audit_s_own_level(confidence, differ):
    """The heterogeneity verdict uses the level of the intervals beside it, not a fixed 5%."""
    from types import SimpleNamespace

    from audit.report.render import environment

    template = environment().from_string(
        '{% import "macros/deployments.html.j2" as d with context %}{{ d.differ(h) }}')
    said = template.render(h=SimpleNamespace(p_value=0.07),
                           audit=SimpleNamespace(confidence=confidence))
    assert said.strip() == ("differ more than chance would explain" if differ
                            else "are not shown to differ more than chance would explain")

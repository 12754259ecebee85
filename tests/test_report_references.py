"""The public reference figures: one data file, every figure with its source,
counts that add up, and shares that match the counts (worked by hand)."""

from __future__ import annotations

import pytest

from audit.report import formatting
from audit.report.references import _reference, public_references


@pytest.fixture(scope="module")
def references():
    return {r.id: r for r in public_references()}


def test_every_reference_carries_its_source(references):
    assert set(references) == {"npl-2023", "essex-2019", "south-wales-2017"}
    for r in references.values():
        assert r.title and r.publisher and r.date and r.url.startswith("https://")
        assert r.system and r.setting and r.threshold and r.watchlist and r.findings


def test_south_wales_share_is_93_percent_and_the_press_figure_is_kept(references):
    r = references["south-wales-2017"]
    assert (r.alerts, r.false_alerts, r.press_percent) == (2470, 2297, 92)
    assert formatting.percent(r.false_share, 3) == "93.0%"  # 2297 / 2470 = 0.92996


def test_essex_counts_add_up_and_only_eight_were_verified(references):
    r = references["essex-2019"]
    assert r.rejected_at_once + r.lost_in_crowd + r.stopped == r.alerts == 42
    assert (r.verified_correct, r.stopped - r.verified_correct, r.not_verified) == (8, 14, 20)
    assert formatting.percent(r.verified_share) == "19%"
    assert r.false_share is None  # the source does not say 34 were false


def test_npl_is_a_live_operations_study_with_its_tpir_and_imbalance(references):
    r = references["npl-2023"]
    text = " ".join(r.findings)
    assert "live police operations" in r.setting and "controlled" not in r.setting
    assert "89%" in text and "0.58 and 0.56" in text and "1 in 6,000" in text
    assert "no statistically significant imbalance was found at 0.6" in text
    assert "10,000" in r.watchlist and "0.60" in r.threshold


def test_a_reference_without_its_source_is_refused():
    entry = {"id": "x", "label": "l", "title": "t", "publisher": "", "date": "d", "url": "https://x",
             "system": "s", "setting": "s", "threshold": "t", "watchlist": "w",
             "findings": ["f"], "per_face": "p", "authors": ""}
    with pytest.raises(ValueError, match="'x' lacks \\['publisher'\\]"):
        _reference(entry)
    with pytest.raises(ValueError, match="unknown keys"):
        _reference({**entry, "publisher": "p", "shared": 3})


def test_npl_watchlist_points_are_quoted_and_match_the_lab_examples(references):
    """The NPL points of the watchlist-size figure and the NPL rows of the deployments
    example (examples/deployments/lab.csv) are one figure from one source."""
    import csv
    from pathlib import Path

    r = references["npl-2023"]
    assert [(p.watchlist, p.one_in) for p in r.watchlist_points] == [(10000, 6000), (1000, 60000)]
    for p in r.watchlist_points:  # each point is in the quoted sentence, as worded
        assert f"one in {p.one_in:,}" in r.points_quote
        assert f"watchlist of {p.watchlist:,}" in r.points_quote
    lab = Path(__file__).parents[1] / "examples" / "deployments" / "lab.csv"
    rows = [row for row in csv.DictReader(lab.open()) if row["label"].startswith("NPL 2023")]
    assert {int(row["watchlist_size"]): float(row["fpir"]) for row in rows} == {
        p.watchlist: pytest.approx(p.fpir, rel=1e-12) for p in r.watchlist_points}
    assert all(row["source"].startswith(r.points_url) for row in rows)
    assert all(float(row["threshold"]) == 0.6 for row in rows) and "0.60" in r.threshold

"""The short report for the public: one or two pages, every number a row of the metrics table.

Each number the short report quotes from the table is a ``<data>`` element naming
its row (metric, grouping, group, second group, operating point, statistic) and
column. These tests look every one of them up in the table the report was built
from, check the printed text is that exact value in one of the report's number
formats, check that no other digit is printed (outside the quoted dataset
description and the run's identity), that "shown to differ" appears exactly where
the pair's adjusted p-value row is below the audit's alpha and its ratio interval
excludes 1 (and "unclear" where only the test shows a difference), that a dataset
without identities gets one line instead of any miss rate, and that the PDF has
at most two pages.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import warnings
from html.parser import HTMLParser

import pandas as pd
import pyarrow as pa
import pytest
from report_tables import CROWD, DEEPFACE, DEPLOYMENT, SHARE, SWEEP, WATCHLIST, hand_made, \
    hand_made_scores, run_info

from audit.metrics import compute_metrics, project_deployment
from audit.report import formatting
from audit.report.context import build_context
from audit.report.render import SHORT_STEM, SHORT_TEMPLATE, write_document

#: The structure columns a ``data-row`` names, in its order, then the value column.
KEY = ("metric", "grouping", "group", "group_b", "operating_point", "statistic")
FORMATS = (formatting.percent, formatting.count, formatting.ratio, formatting.ratio_end,
           formatting.threshold, formatting.exact_percent, formatting.rounded)


class Quoted(HTMLParser):
    """The short report's quoted numbers, its findings rows and its other visible text."""

    SKIPPED = {"head", "style", "title", "blockquote"}
    VOID = {"meta", "link", "br", "img", "hr", "input", "wbr", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.data: list[dict] = []  # attrs + "text" of every <data> element
        self.rows: list[list[dict]] = []  # the <data> of each findings row, with "result"
        self.result: dict[int, str] = {}
        self.other: list[str] = []  # visible text outside <data> and skipped parts
        self._stack: list[str] = []
        self._skip = 0
        self._in_data: dict | None = None
        self._row: list[dict] | None = None
        self._in_result = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in self.VOID:
            return
        if tag in self.SKIPPED or "identity" in (a.get("class") or "").split():
            self._skip += 1
            self._stack.append(f"skip:{tag}")
            return
        self._stack.append(tag)
        if tag == "data":
            self._in_data = {**a, "text": ""}
        elif tag == "tr" and "finding-row" in (a.get("class") or ""):
            self._row = []
        elif tag == "td" and a.get("class") == "result" and self._row is not None:
            self._in_result = True

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        opened = self._stack.pop() if self._stack else ""
        if opened.startswith("skip:"):
            self._skip -= 1
            return
        if tag == "data" and self._in_data is not None:
            self.data.append(self._in_data)
            if self._row is not None:
                self._row.append(self._in_data)
            self._in_data = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "td":
            self._in_result = False

    def handle_data(self, text):
        if self._skip:
            return
        if self._in_data is not None:
            self._in_data["text"] += text
        elif self._in_result:
            self.result[len(self.rows)] = self.result.get(len(self.rows), "") + text
        else:
            self.other.append(text)


def _parse(html: str) -> Quoted:
    parser = Quoted()
    parser.feed(html)
    return parser


def _row(frame: pd.DataFrame, key: str) -> tuple[pd.Series, str]:
    """The one table row a ``data-row`` names, and the column it quotes."""
    *parts, column = key.split("|")
    mask = pd.Series(True, index=frame.index)
    for name, part in zip(KEY, parts, strict=True):
        mask &= frame[name].isna() if part == "" else frame[name].astype(str) == part
    found = frame[mask]
    assert len(found) == 1, (key, len(found))
    return found.iloc[0], column


def _short(context, tmp_path, formats=("html",)) -> dict:
    return write_document(SHORT_TEMPLATE, SHORT_STEM, tmp_path, formats,
                          identifier=context.run.run_id, ctx=context)


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return hand_made()


@pytest.fixture(scope="module")
def context(table):
    return build_context(table, run_info())


@pytest.fixture(scope="module")
def written(context, tmp_path_factory):
    return _short(context, tmp_path_factory.mktemp("short"), ("html", "pdf"))


@pytest.fixture(scope="module")
def quoted(written) -> Quoted:
    return _parse(written["html"].read_text(encoding="utf-8"))


def test_every_quoted_number_is_its_table_row_exactly(quoted, table):
    frame = table.to_pandas()
    assert len(quoted.data) > 20
    checked = 0
    for item in quoted.data:
        if "setting" in (item.get("class") or ""):
            continue
        row, column = _row(frame, item["data-row"])
        assert float(item["value"]) == float(row[column]), item
        shown = {f(float(item["value"])) for f in FORMATS}
        assert item["text"] in shown, item
        checked += 1
    assert checked > 20


def test_settings_are_the_audits_own(quoted, context):
    settings = {float(i["value"]) for i in quoted.data if "setting" in (i.get("class") or "")}
    assert settings <= {context.run.statistics.confidence, 0.8, float(CROWD), float(WATCHLIST),
                        float(SHARE), float(context.run.projection.watchlist)}


def test_no_number_is_printed_that_is_not_quoted(quoted):
    text = " ".join(quoted.other)
    assert re.findall(r"\d", text) == [], re.findall(r".{30}\d.{10}", text)


def test_shown_to_differ_exactly_where_the_adjusted_p_is_below_alpha(quoted, table, context):
    frame = table.to_pandas()
    alpha = context.run.statistics.alpha
    judged = 0
    for n, row in enumerate(quoted.rows):
        keyed = [i for i in row if i.get("data-row", "").split("|")[5] in
                 ("ratio", "min_detectable_ratio")]
        if not keyed:
            continue
        parts = keyed[0]["data-row"].split("|")
        adjusted, _ = _row(frame, "|".join([*parts[:5], "p_adjusted", "value"]))
        ratio, _ = _row(frame, "|".join([*parts[:5], "ratio", "value"]))
        tested = not math.isnan(adjusted["value"]) and adjusted["value"] < alpha
        excludes_one = ratio["ci_low"] > 1 or ratio["ci_high"] < 1
        assert ("shown to differ" in quoted.result[n]) == (tested and excludes_one), parts
        assert ("unclear" in quoted.result[n]) == (tested and not excludes_one), parts
        unadjusted, _ = _row(frame, "|".join([*parts[:5], "p_value", "value"]))
        corrected_away = not tested and unadjusted["value"] < alpha
        assert ("once every comparison is allowed for" in quoted.result[n]) == corrected_away, parts
        judged += 1
    assert judged >= 3


def test_a_pair_only_the_correction_hides_says_so(table, tmp_path):
    """Its interval alone leaves out 1, so a bare "not shown" beside it would read as wrong."""
    frame = table.to_pandas()
    context = build_context(table, run_info())
    alpha = context.run.statistics.alpha
    primary = context.summary.primary.label
    adjusted = frame[(frame["statistic"] == "p_adjusted") & (frame["operating_point"] == primary)
                     & (frame["value"] < alpha)]
    assert len(adjusted), "the hand-made table has a pair shown at the primary point"
    pair = adjusted.index[0]
    frame.loc[pair, "value"] = 0.5  # the same pair, not shown once every comparison counts
    hidden = build_context(pa.Table.from_pandas(frame, schema=table.schema), run_info())
    quoted = _parse(_short(hidden, tmp_path)["html"].read_text(encoding="utf-8"))
    key = frame.loc[pair, ["metric", "grouping", "group", "group_b", "operating_point"]]
    rows = [n for n, row in enumerate(quoted.rows)
            if any(i["data-row"].split("|")[:5] == [str(v) for v in key] for i in row)]
    assert len(rows) == 1, key.tolist()
    assert quoted.result[rows[0]].strip() == "not shown once every comparison is allowed for"


def test_the_findings_are_those_of_the_primary_point(quoted, context):
    points = {i["data-row"].split("|")[4] for row in quoted.rows for i in row}
    assert context.summary.primary.label in points and points <= {context.summary.primary.label, ""}


def test_at_most_two_pages_and_the_pdf_carries_the_numbers(written, quoted):
    pdfinfo = shutil.which("pdfinfo")
    pdftotext = shutil.which("pdftotext")
    if pdfinfo is None or pdftotext is None:
        pytest.skip("pdfinfo/pdftotext are not installed (Debian: apt-get install poppler-utils)")
    info = subprocess.run([pdfinfo, str(written["pdf"])], capture_output=True, text=True,
                          check=True).stdout
    assert 1 <= int(re.search(r"Pages:\s+(\d+)", info).group(1)) <= 2
    text = subprocess.run([pdftotext, "-raw", str(written["pdf"]), "-"], capture_output=True,
                          text=True, check=True).stdout
    text = re.sub(r"\s+", " ", text)
    for item in quoted.data:
        assert item["text"] in text, item


def _without_identities() -> pa.Table:
    """The hand-made audit with every mated trial dropped (as UTKFace: one image a person)."""
    scores, images = hand_made_scores()
    scores = scores[~scores["mated"]].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = compute_metrics(scores, images, thresholds=(DEPLOYMENT,),
                                labelled_thresholds=(("deepface-default", DEEPFACE),),
                                sweep=SWEEP, groupings=("group",), min_subjects=5, min_trials=10)
        projected = project_deployment(table, crowd_size=CROWD, watchlist_share=SHARE,
                                       watchlist_size=WATCHLIST, audit_watchlist_size=WATCHLIST)
    return pa.concat_tables([table, projected.cast(table.schema)])


def test_a_dataset_without_identities_gets_one_line_and_no_miss_rate(tmp_path):
    context = build_context(_without_identities(), run_info())
    html = _short(context, tmp_path)["html"].read_text(encoding="utf-8")
    parsed = _parse(html)
    visible = " ".join(parsed.other)
    assert visible.count("No miss rates") == 1
    for word in ("FNIR", "FNMR", "Miss rate", "missed them", "no match"):
        assert word not in visible, word
    assert not [i for i in parsed.data if i.get("data-row", "").split("|")[0] in ("fnir", "fnmr")]


def test_the_projection_names_the_rate_it_uses(quoted, context):
    """"this false alert rate" only when the projection used the headline rate itself."""
    text = " ".join(" ".join(quoted.other).split())
    projection = context.summary.projection
    headline = context.summary.overall[context.summary.metrics.index("fpir")]
    same = projection.overall.fpir.value == headline.value
    assert ("faces, this false alert rate would give" in text) == same
    assert ("so not exactly the rate above) would give" in text) == (not same)

"""Groups of several label columns read naturally (issue 14, new-user trial s7): each
column named with its value in tables, figures and the short report ("sex female, ethn A"),
the people in it in sentences ("women with ethn “A”"), never "sex x ethn “female x A”".
The parts come from the data's values (labels are built, never split), and stay escaped."""

from __future__ import annotations

import html
import re
import warnings

import pandas as pd
import pytest
from report_tables import DEPLOYMENT, hand_made_scores, run_info

from audit.metrics import compute_metrics
from audit.report.context import build_context
from audit.report.group_names import GroupNames, group_names
from audit.report.inputs import RunInfo
from audit.report.render import SHORT_STEM, SHORT_TEMPLATE, render_html, write_document

GROUPING = "sex x ethn"
#: ethn of each hand-made group; ``e`` (3 people, too few for any rate) carries markup.
ETHN = {"a": "A", "b": "B", "c": "C", "d": "D", "e": "<e>"}


def _labelled():
    """The hand-made scores, people of each group alternately female and male."""
    scores, images = hand_made_scores()
    person = images["subject_id"].str[1:].astype(int)
    images = images.assign(sex=person.mod(2).map({0: "female", 1: "male"}),
                           ethn=images["group"].map(ETHN))
    return scores, images


def _visible(markup: str) -> str:
    markup = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", markup, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)))


@pytest.fixture(scope="module")
def intersection():
    """The metrics of the intersection alone (no one-column grouping in the table), with
    the values of each label column as the data holds them."""
    scores, images = _labelled()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = compute_metrics(scores, images, thresholds=(DEPLOYMENT,),
                                groupings=(GROUPING,), min_subjects=5, min_trials=10)
    values = {c: tuple(sorted(images[c].unique())) for c in ("sex", "ethn")}
    return table, images, run_info(label_values=values)


def test_every_label_is_named_by_the_values_of_its_people(intersection):
    table, images, run = intersection
    names = group_names(table, run)
    # Hand check: each (sex, ethn) pair of the images, against the table's labels.
    pairs = images[["sex", "ethn"]].drop_duplicates().itertuples(index=False)
    expected = {f"{sex} x {ethn}": (("sex", sex), ("ethn", ethn)) for sex, ethn in pairs}
    labels = set(table.to_pandas().query("grouping == @GROUPING and statistic == 'rate'")["group"])
    assert labels <= set(expected)
    assert {label: names.parts(GROUPING, label) for label in labels} == {
        label: expected[label] for label in labels}
    assert names.text(GROUPING, "female x A") == "sex female, ethn A"


def test_a_label_two_combinations_build_keeps_its_table_form():
    """Values holding " x " make "a x b x c" from ("a x b", "c") and from ("a", "b x c"):
    which is meant is unknown, so it is printed as the table holds it."""
    rows = pd.DataFrame({"grouping": ["p x q"] * 2, "group": ["a x b x c", "a x c"],
                         "group_b": [None, None], "statistic": ["rate", "rate"]})
    run = RunInfo(run_id="x", label_values={"p": ("a x b", "a"), "q": ("b x c", "c")})
    names = group_names(rows, run)
    assert names.parts("p x q", "a x b x c") == ()
    assert names.text("p x q", "a x b x c") == "a x b x c"
    assert names.text("p x q", "a x c") == "p a, q c"


def test_without_the_values_of_a_column_the_label_is_kept():
    rows = pd.DataFrame({"grouping": ["sex", "sex", "sex x ethn"],
                         "group": ["female", "male", "female x A"],
                         "group_b": [None, None, None], "statistic": ["rate"] * 3})
    assert group_names(rows, RunInfo(run_id="x")).parts(GROUPING, "female x A") == ()
    named = group_names(rows, RunInfo(run_id="x", label_values={"ethn": ("A",)}))
    assert named.text(GROUPING, "female x A") == "sex female, ethn A"  # sex from the table
    assert GroupNames().text(GROUPING, "<60 px") == "under 60 px"  # bands still in words


def test_reports_name_each_column_in_sentences_tables_figures_and_short(intersection,
                                                                       tmp_path):
    table, _, run = intersection
    context = build_context(table, run)
    markup = render_html(context)
    text = _visible(markup)
    written = write_document(SHORT_TEMPLATE, SHORT_STEM, tmp_path, ("html",),
                             identifier=run.run_id, ctx=context)
    short = _visible(written["html"].read_text(encoding="utf-8"))
    for words in (text, short):
        assert not re.search(r"(fe)?male x [A-E<]", words)
        assert "sex x ethn “" not in words
    assert re.search(r"(wo)?men with ethn “[A-D]”", text)  # finding sentences
    assert "<th scope=\"row\">sex female, ethn A</th>" in markup  # tables
    forest = re.search(r"<svg[^>]*id=\"panel-identification-sex-x-ethn[^>]*>.*?</svg>", markup, flags=re.S)
    drawn = re.sub(r"<(title|desc)[^>]*>.*?</\1>", " ", forest.group(0), flags=re.S)
    assert "sex female, ethn A" in _visible(drawn)  # the figure's own tick labels
    assert re.search(r"sex (fe)?male, ethn [A-D] / sex (fe)?male, ethn [A-D]", short)
    # Both sides name their columns: the grouping is not repeated after the pair.
    assert not re.search(r"ethn [A-D] \( ?sex x ethn ?\)", short)
    assert "sex female, ethn &lt;e&gt;" in markup and "<e>" not in markup


def test_a_runs_label_values_are_those_of_the_manifest_columns_its_groupings_read():
    import pyarrow as pa

    from audit.runs.report import _label_values

    manifest = pa.table({"image_id": ["1", "2", "3"], "subject_id": ["s", "t", "u"],
                         "gender": ["male", "female", "male"], "ethnicity": ["b", "a", "b"],
                         "age_band": ["0-17", "18-29", "60+"]})
    assert _label_values(manifest, ["gender x ethnicity"]) == {
        "gender": ("female", "male"), "ethnicity": ("a", "b")}

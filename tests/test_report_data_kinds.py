"""The report's words follow the data's kinds (issue 14, new-user trial s7).

Each sentence must be true of the data behind it: a 1:1-only log has no
watchlist, a log of passers-by only has people with several images but no
search of anyone on the watchlist, a score log is called test images only when
it is one, labels not used are not claimed absent, a symmetric matrix is not
labelled probe/reference, and counts of one are singular. Each case renders
the report (or the short report) of a small table from the hand-made audit
(``report_tables``) cut to that kind of data, through the real metrics stage.
"""

from __future__ import annotations

import html
import re
import warnings
from dataclasses import replace

import pandas as pd
import pytest
from report_tables import DEPLOYMENT, hand_made, hand_made_scores, run_info

from audit.log_about import AboutError, LogAbout
from audit.metrics import compute_metrics
from audit.metrics.lfw_accuracy import LfwAccuracy, format_lfw_accuracy
from audit.report.context import build_context
from audit.report.data_kinds import (
    NO_SAME_PERSON_PAIR,
    NO_WATCHLISTED_SEARCH,
    ONE_IMAGE_EACH,
)
from audit.report.inputs import DatasetInfo, WatchlistDesign
from audit.report.render import SHORT_STEM, SHORT_TEMPLATE, environment, render_html, write_document
from audit.runs.log_info import run_info_from_record

MIN = dict(min_subjects=5, min_trials=10)


def _metrics(scores: pd.DataFrame, images: pd.DataFrame, groupings=("group",)):
    """The metrics table of some of the hand-made scores, at the deployment threshold."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small groups and empty rates warn by design
        return compute_metrics(scores.reset_index(drop=True), images,
                               thresholds=(DEPLOYMENT,), groupings=groupings, **MIN)


def _text(markup: str) -> str:
    """Visible text, one space between words (SVG text kept: axis labels are text)."""
    markup = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", markup, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)))


def _short(context, tmp_path) -> str:
    written = write_document(SHORT_TEMPLATE, SHORT_STEM, tmp_path, ("html",),
                             identifier=context.run.run_id, ctx=context)
    return _text(written["html"].read_text(encoding="utf-8"))


def _section(name: str, context) -> str:
    return _text(environment().get_template(f"sections/{name}.html.j2").render(ctx=context))


@pytest.fixture(scope="module")
def scores_images():
    return hand_made_scores()


@pytest.fixture(scope="module")
def verification_only(scores_images):
    """A 1:1-only log (with an about file's watchlist, as the repro's D2 had)."""
    scores, images = scores_images
    table = _metrics(scores[scores["trial_kind"] == "verification"], images)
    run = run_info(score_log=True, watchlist=WatchlistDesign(size=5000, description="custody"))
    return build_context(table, run)


@pytest.fixture(scope="module")
def passers_by(scores_images):
    """A 1:N log of passers-by only, groups a and b: people have ten images each, but no
    search is of a watchlisted person; one pair of groups, so one comparison in all."""
    scores, images = scores_images
    keep = (scores["trial_kind"] == "identification") & ~scores["mated"] & (
        scores["probe_subject"].str[0].isin(["a", "b"]))
    table = _metrics(scores[keep], images[images["group"].isin(["a", "b"])])
    return build_context(table, run_info(score_log=True, projection=None))


def test_a_verification_log_is_not_worded_as_watchlist_searches(verification_only):
    summary = _section("summary", verification_only)
    assert "watchlist" not in summary and "false alerts" not in summary
    assert "the system declares two faces a match when their similarity score is 0.50" in summary
    assert "wrongly declares images of two different people a match" in summary
    system = _section("system", verification_only)
    assert "Watchlist design" not in system and "Each watchlist search" not in system
    assert "The watchlist described in the about file is not used" in system
    deployment = _section("deployment", verification_only)
    assert "lfr-audit run" not in deployment and "one-to-one comparisons only" in deployment


def test_an_absent_kind_gets_one_line_not_an_empty_heading(verification_only, passers_by):
    results = _section("results", verification_only)
    section = results.split("5.2 Watchlist search")[1].split("5.3 One-to-one")[0]
    assert section.strip().startswith("(1:N): false alerts and misses None: this audit holds "
                                      "one-to-one comparisons only")
    assert "false alert rate (FPIR) is the share" not in section
    section = _section("results", passers_by).split("5.3 One-to-one")[1].split("5.4")[0]
    assert "None: this audit holds watchlist searches only" in section
    assert "false match rate (FMR) is the share" not in section


def test_passers_by_only_give_the_true_reason_for_no_miss_rate(passers_by, tmp_path):
    assert passers_by.kinds.missing_misses == (("identification", NO_WATCHLISTED_SEARCH),)
    reason = "no search in the data was of a person on the watchlist"
    summary = _section("summary", passers_by)
    assert "second image" not in summary and "more than one image" not in summary
    assert ("It measures how often the system wrongly flags people who are not on a watchlist "
            "( false alerts ), and how these errors differ between groups of people defined by "
            f"group. It does not measure the miss rate (FNIR): {reason}") in summary
    assert f"Miss rate (FNIR) : not measured: {reason}" in summary
    short = _short(passers_by, tmp_path)
    assert f"No miss rates: {reason}" in short and "more than one image" not in short
    limitations = _section("limitations", passers_by)
    assert f"The miss rate (FNIR) could not be measured: {reason}" in limitations
    assert "no two images known to show the same person" not in limitations


def test_a_miss_rate_with_no_trial_gets_no_column(passers_by):
    results = _section("results", passers_by)
    assert "no trials" not in results and "Miss rate (FNIR) rate" not in results
    assert "No miss rate is given: no search in the data was of a person" in results
    assert "GARBE" not in results  # it needs both error rates
    panel = passers_by.results.identification[0]
    assert panel.metrics == ("fpir",)


def test_one_image_a_person_is_told_apart_from_no_mated_trial(scores_images):
    """UTKFace-like data (as many people as images) give the one-image reason; data with
    several images a person but no same-person comparison give their own."""
    scores, images = scores_images
    table = _metrics(scores[~scores["mated"]], images)
    people = images["subject_id"].nunique()
    many = build_context(table, run_info(datasets=(DatasetInfo("x", subjects=people,
                                                               images=len(images)),)))
    assert dict(many.kinds.missing_misses) == {"identification": NO_WATCHLISTED_SEARCH,
                                               "verification": NO_SAME_PERSON_PAIR}
    single = build_context(table, run_info(datasets=(DatasetInfo("x", subjects=people,
                                                                 images=people),)))
    assert dict(single.kinds.missing_misses) == {"identification": ONE_IMAGE_EACH,
                                                 "verification": ONE_IMAGE_EACH}
    text = _section("summary", single)
    assert ("It does not measure the miss rate (FNIR) and the false non-match rate (FNMR): no "
            "person in the data appears in more than one image") in text


def test_limitations_claim_no_absent_labels():
    scores, images = hand_made_scores()
    images = images.assign(sex=images["group"].map(lambda g: "female" if g in "ab" else "male"),
                           ethn=images["group"].map(lambda g: "A" if g in "ace" else "B"))
    table = _metrics(scores, images, groupings=("sex", "sex x ethn"))
    text = _section("limitations", build_context(table, run_info()))
    assert "has no" not in text and "gender or ethnicity" not in text
    assert ("Results are by sex, and by sex x ethn; differences by any other characteristic of "
            "the people were not measured.") in text


def test_the_cross_matrix_is_labelled_as_symmetric():
    context = build_context(hand_made(), run_info())
    assert context.results.cross
    page = render_html(context)
    assert "Probe group" not in page and "Reference group (the person" not in page
    assert "Group of one image’s person" in page and "Group of the other image’s person" in page
    assert "so the matrix is symmetric" in _text(page)


@pytest.mark.parametrize("setting, says", [
    ("", None), ("deployment", "The scores come from the system’s live use"),
    ("test", "These are test images, not a live deployment")])
def test_test_images_only_for_a_test_set(passers_by, tmp_path, setting, says):
    run = replace(passers_by.run, datasets=(DatasetInfo("export", setting=setting),))
    text = _short(replace(passers_by, run=run), tmp_path)
    assert ("These are test images" in text) == (setting == "test")
    assert ("live use" in text) == (setting == "deployment")
    if says:
        assert says in text


def test_a_run_is_a_test_set_and_a_log_only_when_stated_or_built_in():
    assert run_info().data_setting == "test"
    record = {"sources": {"trials": "t.csv"}, "counts": {"subjects": 3, "images": 6}}
    assert run_info_from_record(record, run_id="x").data_setting == ""
    stated = {"dataset": {"name": "mine", "setting": "deployment"}}
    assert run_info_from_record(record, run_id="x", about=stated).data_setting == "deployment"
    built_in = {"dataset": {"name": "lfw"}}
    assert run_info_from_record(record, run_id="x", about=built_in).data_setting == "test"
    assert LogAbout.model_validate({"dataset": {"setting": "test"}}).dataset.setting == "test"
    with pytest.raises(ValueError):
        LogAbout.model_validate({"dataset": {"setting": "live"}})


def test_counts_of_one_are_singular(passers_by):
    assert passers_by.summary.n_tests == 1
    page = render_html(passers_by)
    text = _text(page)
    assert "1 comparisons" not in text and "1 such comparisons" not in text
    assert "made 1 such comparison (" in text
    assert "Benjamini-Hochberg over the one comparison of the audit" in text
    assert "similarity scale of this system;" in text and "system and distance" not in text


def test_a_label_is_named_with_its_column():
    scores, images = hand_made_scores()
    images = images.assign(ethn=images["group"].str.upper())
    table = _metrics(scores, images, groupings=("ethn",))
    text = _section("summary", build_context(table, run_info()))
    assert "people with ethn “A”" in text
    assert "people labelled “A”" not in text


def test_kfold_title_says_k_fold_and_drops_an_unrecorded_distance():
    summary = pd.DataFrame([{"group": "overall", "fta_handling": h, "mean_accuracy": 0.9,
                             "std_accuracy": 0.01, "standard_error": 0.003, "n_folds": 5,
                             "n_pairs": 100, "n_fta_pairs": 0, "auc": 0.95, "eer": 0.1}
                            for h in ("excluded", "as_different")])
    folds = pd.DataFrame({"fold": range(5)})
    log = LfwAccuracy(folds, summary, similarity="", group_column="sex")
    first, second = format_lfw_accuracy(log).splitlines()[:2]
    assert first.startswith("5-fold accuracy by sex") and "LFW" not in first
    assert "distance" not in second and second.startswith("each fold's threshold")
    lfw = LfwAccuracy(folds, summary, similarity="cosine similarity", group_column="sex")
    first, second = format_lfw_accuracy(lfw, protocol="LFW").splitlines()[:2]
    assert first.startswith("LFW 5-fold accuracy") and second.startswith("score: cosine")



def test_an_unnamed_log_dataset_is_not_the_the():
    record = {"sources": {"trials": "t.csv"}, "counts": {"subjects": 3, "images": 6}}
    run = run_info_from_record(record, run_id="x")
    text = _section("data", build_context(hand_made(), run))
    assert "The the" not in text and "The score log's images as used in this audit." in text


def test_a_verification_report_defines_and_explains_only_its_rates(verification_only):
    """1:1 only: no FPIR/FNIR/TPIR in the glossary or the method, and the public 1:N
    figures of section 2 are said to be other systems' watchlist searches."""
    glossary = _section("glossary", verification_only)
    assert "FMR / FNMR" in glossary and "FTA" in glossary
    assert "FPIR" not in glossary and "FNIR" not in glossary and "TPIR" not in glossary
    assert "such as “FMR ≤ 0.1%”" in glossary
    assert "system declares a match." in glossary
    method = _section("method", verification_only)
    assert "False match rate (FMR)" in method and "False non-match rate (FNMR)" in method
    assert "FPIR" not in method and "FNIR" not in method
    assert "alert" not in method and "watchlist" not in method and "miss rate" not in method
    assert "so that the overall false match rate is at most a target" in method
    deployment = _section("deployment", verification_only)
    assert ("These figures describe watchlist searches (1:N) made by other systems in live "
            "deployments, which this audit’s data does not contain: it holds one-to-one "
            "comparisons only.") in deployment
    assert "This is why the projection" not in deployment
    system = _section("system", verification_only)
    assert "a match is declared when the score is at or above" in system


def test_a_search_report_defines_and_explains_no_comparison_rate(passers_by):
    """1:N only: no FMR/FNMR in the glossary or the method."""
    glossary = _section("glossary", passers_by)
    assert "FPIR / FNIR" in glossary and "such as “FPIR ≤ 0.1%”" in glossary
    assert "FMR" not in glossary and "FNMR" not in glossary
    method = _section("method", passers_by)
    assert "False alert rate (FPIR" in method and "Miss rate (FNIR" in method
    assert "FMR" not in method and "false match" not in method and "non-match" not in method
    assert "Searches involving the same person are not independent" in method
    deployment = _section("deployment", passers_by)
    assert "These figures come from other systems" in deployment


def test_rates_of_people_searched_many_times_say_they_count_searches(scores_images):
    """A live export searches a passer-by on every pass: "the share of passers-by who
    trigger an alert" read 5.2% where 22% of them had been flagged at least once. The
    definitions say searches, and the counts of searches and people are given."""
    scores, images = scores_images
    table = _metrics(scores, images)
    frame = table.to_pandas()
    rows = frame[(frame["grouping"] == "overall") & (frame["statistic"] == "rate")].set_index(
        "metric")
    assert rows.loc["fpir", "n_trials"] > rows.loc["fpir", "n_subjects"]  # 430 of 43
    context = build_context(table, run_info(score_log=True))
    assert context.kinds.searches("fpir") == (430, 43)
    assert context.kinds.searches("fmr") is None  # 1:1 rates are not searches
    text = _section("results", context)
    assert "the share of searches of passers-by not on the watchlist that trigger" in text
    assert ("These rates count searches, not people: 430 searches of 43 passers-by (about "
            "10.0 each); 140 searches of 35 people on the watchlist (about 4.0 each).") in text
    assert "share of passers-by not on the watchlist who trigger" not in text


def test_one_search_a_person_needs_no_counting_note(scores_images):
    scores, images = scores_images
    once = scores[scores["trial_kind"] == "verification"].copy()
    searches = scores[scores["trial_kind"] == "identification"]
    once = pd.concat([once, searches.drop_duplicates("probe_subject")])
    context = build_context(_metrics(once, images), run_info(score_log=True))
    assert context.kinds.searches("fpir") is None
    assert "count searches, not people" not in _section("results", context)


def test_a_log_without_a_sweep_names_the_option_that_makes_one(scores_images):
    scores, images = scores_images
    table = _metrics(scores, images)
    said = _section("results", build_context(table, run_info(score_log=True)))
    assert ("The metrics table holds no threshold sweep ( lfr-audit metrics computes one "
            "with --sweep )") in said  # the code elements' edges read as spaces here
    assert "--sweep" not in _section("results", build_context(table, run_info()))

"""The report's words: every abbreviation its templates and reference figures
print is explained in the glossary; every statistic it names is there too."""

from __future__ import annotations

import re
from pathlib import Path

from audit.report.assets import templates_dir
from audit.report.references import REFERENCES_FILE

#: Capitals that are words, not abbreviations a reader needs explained.
PLAIN = {"UK", "US", "DOCTYPE", "V4"}
STATISTICS = ("p-value", "Adjusted p-value", "Gini", "Holm", "Geometric mean", "GARBE",
              "FDR (false discovery rate)", "FDR (fairness discrepancy rate)", "Benjamini-Hochberg",
              "Exact conditional bound", "Detectable ratio", "MOVER", "Wilson", "Percentage points",
              "Effective sample size", "CI", "Power", "Ratio")


def _glossary() -> str:
    text = (templates_dir() / "sections" / "glossary.html.j2").read_text()
    return " ".join(re.findall(r"<dt>(.*?)</dt>", text))


def _report_words() -> str:
    """The transparency report's templates (the deployments report is its own document)."""
    files = [f for f in templates_dir().rglob("*.j2") if not f.name.startswith("deployments")]
    files.append(Path(__file__).parents[1] / "audit" / "report" / REFERENCES_FILE)
    return " ".join(re.sub(r"\{#.*?#\}", "", f.read_text(), flags=re.S) for f in files)


def test_every_abbreviation_is_in_the_glossary():
    found = set(re.findall(r"(?<![\w/.#-])[A-Z][A-Z0-9]{1,}(?![\w-])", _report_words())) - PLAIN
    assert {"FMR", "FPIR", "GARBE", "NPL", "TPIR"} <= found  # the scan finds them
    terms = _glossary()
    missing = sorted(a for a in found if not re.search(rf"\b{a}\b", terms))
    assert missing == []


def test_every_statistic_named_is_in_the_glossary():
    terms = _glossary()
    assert [s for s in STATISTICS if s.lower() not in terms.lower()] == []


def _ci_method_words() -> set[str]:
    text = (templates_dir() / "macros" / "words.html.j2").read_text()
    block = re.search(r"\{% set ci_method_words = \{(.*?)\} %\}", text, flags=re.S).group(1)
    return set(re.findall(r'^\s*"([^"]+)":', block, flags=re.M))


def test_every_interval_method_of_a_pair_row_has_words():
    """The report names each pair row's method in words (the coverage table, the rows'
    method column): the symmetric t at a calibrated threshold is not Hall's."""
    from audit.metrics import contrasts

    written = {contrasts.MOVER, contrasts.MOVER_LOG, contrasts.HALL, contrasts.HALL_LOG,
               contrasts.SYMMETRIC, contrasts.SYMMETRIC_LOG, contrasts.BOUND,
               contrasts.INVERTED, contrasts.INVERTED_HALL, contrasts.INVERTED_SYMMETRIC,
               contrasts.INVERTED_BOUND, contrasts.DETECTABLE, contrasts.BENJAMINI_HOCHBERG}
    assert sorted(written - _ci_method_words()) == []


def test_only_a_sex_or_gender_value_becomes_women_or_men():
    """A camera labelled "M" is not "men"; "m" in a sex or gender column is, and the words
    female and male are in any column."""
    from audit.report.group_names import GroupNames
    from audit.report.render import environment

    words = environment(names=GroupNames({("sex x camera", "m x M"): (("sex", "m"), ("camera", "M")),
                                    ("camera x site", "M x f"): (("camera", "M"),
                                                                 ("site", "f"))})
                        ).get_template("macros/words.html.j2").module
    said = {(label, grouping): " ".join(str(words.group_noun(label, grouping)).split())
            for label, grouping in (("female", "gender"), ("m", "sex"), ("M", "camera"),
                                    ("male", "group"), ("f", "sex_perceived"),
                                    ("m x M", "sex x camera"), ("M x f", "camera x site"))}
    assert said[("female", "gender")] == "women" and said[("m", "sex")] == "men"
    assert said[("male", "group")] == "men" and said[("f", "sex_perceived")] == "women"
    assert said[("M", "camera")] == "people with camera “M”"
    assert said[("m x M", "sex x camera")] == "men with camera “M”"
    assert said[("M x f", "camera x site")] == "people with camera “M” and site “f”"

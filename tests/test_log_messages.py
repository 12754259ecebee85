"""What the score-log reader and the metrics stage tell a user: a mapped column that is not
there, problems in row order, why the FTA count differs, notes that name their rate."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from audit.metrics.engine import compute_metrics
from audit.metrics.log_format import parse_mapping
from audit.metrics.rates import UndefinedRateWarning
from audit.metrics.score_logs import ScoreLogError, read_score_logs

TRIALS = """mode,img_a,person_a,person_b,similarity,genuine
verification,a1,A,A,0.81,yes
verification,a1,A,B,0.20,no
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "trials.csv").write_text(TRIALS)
    pd.DataFrame({"image": ["a1", "b1"], "person": ["A", "B"], "qc": ["ok", "ok"],
                  "gender": ["f", "m"]}).to_csv(tmp_path / "people.csv", index=False)
    return tmp_path


MAPPING = ["trial_kind=mode", "probe_id=img_a", "probe_subject=person_a",
           "reference_subject=person_b", "score=similarity", "mated=genuine",
           "image_id=image", "subject_id=person"]


def test_a_mapped_optional_column_that_is_absent_is_named_once(files):
    """Not one 'reference_id is empty' line per row: the mapped column is not in the file."""
    mapping = parse_mapping([*MAPPING, "reference_id=img_b"])
    with pytest.raises(ScoreLogError) as caught:
        read_score_logs(files / "trials.csv", files / "people.csv", columns=mapping)
    assert str(caught.value) == (
        "trials.csv: no column 'img_b' (mapped to reference_id); its columns are mode, img_a, "
        "person_a, person_b, similarity, genuine (name yours with --map reference_id=COLUMN)")


def test_a_mapped_status_column_that_is_absent_is_an_error_not_a_missing_fta(files):
    (files / "trials.csv").write_text(TRIALS.replace("mode,img_a,person_a,person_b",
                                                     "mode,img_a,person_a,img_b,person_b")
                                      .replace("a1,A,A", "a1,A,a1,A").replace("a1,A,B",
                                                                              "a1,A,b1,B"))
    mapping = parse_mapping([*MAPPING, "reference_id=img_b", "status=quality"])
    with pytest.raises(ScoreLogError, match=r"people.csv: no column 'quality' \(mapped to "
                                            r"status\); its columns are image, person, qc"):
        read_score_logs(files / "trials.csv", files / "people.csv", columns=mapping)


def test_row_problems_are_listed_in_row_order(files):
    lines = TRIALS.splitlines()
    rows = [lines[1]] * 6 + ["verification,a1,A,B,0.20,maybe"]
    rows[0] = "verification,a1,A,B,0.30,yes"  # row 1: mated but two people (a later check)
    rows[5] = "verification,a1,A,A,high,yes"  # row 6: score not a number (an earlier check)
    (files / "trials.csv").write_text("\n".join([lines[0], *rows]) + "\n")
    with pytest.raises(ScoreLogError) as caught:
        read_score_logs(files / "trials.csv", files / "people.csv", columns=parse_mapping(
            [m for m in MAPPING if not m.startswith("probe_id")]))
    numbers = [int(n) for n in re.findall(r"trials.csv row (\d+):", str(caught.value))]
    assert numbers == [1, 6, 7]


def test_unlisted_images_without_status_say_why_the_fta_count_is_smaller(files):
    text = "mode,img_a,person_a,img_b,person_b,similarity,genuine\n" + "".join(
        f"verification,a{i},A,a{i + 1},A,0.8,yes\n" for i in range(1, 200)) + (
        "verification,a1,A,z1,Z,0.1,no\n")
    (files / "trials.csv").write_text(text)
    pd.DataFrame({"image": [f"a{i}" for i in range(1, 201)], "person": "A",
                  "qc": ["no_face"] + ["ok"] * 199, "gender": "f"}).to_csv(
        files / "few.csv", index=False)
    logs = read_score_logs(files / "trials.csv", files / "few.csv", columns=parse_mapping(
        [*MAPPING, "reference_id=img_b", "status=qc"]))
    assert len(logs.fta) == 200 and len(logs.images) == 201
    assert ("fta: 1 of the 201 images the trials mention have no status in few.csv (not "
            "listed), so the FTA rate counts the other 200") in logs.notes
    assert any("lists no labels for 1 image (e.g. 'z1'), carrying 0.50%" in n
               for n in logs.notes)


def _scores(kinds: str, n: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(n):
        if "v" in kinds:
            rows.append(dict(trial_kind="verification", probe_id=f"p{i}", reference_id=f"q{i}",
                             probe_subject=f"s{i}", reference_subject=f"s{(i + 1) % n}",
                             score=rng.random() * 0.5, mated=False))
        if "i" in kinds:
            rows.append(dict(trial_kind="identification", probe_id=f"c{i}", reference_id=None,
                             probe_subject=f"s{i}", reference_subject=None,
                             score=rng.random(), mated=False))
    scores = pd.DataFrame(rows).assign(rank=None, fold=None, best_is_true_entry=None)
    ids = [*scores["probe_id"], *scores["reference_id"].dropna()]
    images = pd.DataFrame({"image_id": ids, "subject_id": [
        f"s{int(x[1:])}" for x in ids]}).drop_duplicates()
    return scores, images.assign(gender=[("f", "m")[int(x[1:]) % 2] for x in images["image_id"]])


def test_an_identification_only_log_gets_no_cross_group_fmr_notes():
    scores, images = _scores("i")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = compute_metrics(scores, images, thresholds=(0.5,), groupings=("gender",),
                                min_subjects=5, min_trials=5).to_pandas()
    assert not any("fmr_cross" in str(w.message) for w in caught)
    assert "fmr_cross" not in set(table["metric"]) and "fpir" in set(table["metric"])


def test_an_undefined_summary_names_its_rate_and_threshold():
    scores, images = _scores("v")
    with pytest.warns(UndefinedRateWarning) as caught:
        compute_metrics(scores, images, thresholds=(0.9,), groupings=("gender",),
                        min_subjects=5, min_trials=5)
    messages = [str(w.message) for w in caught if "every group" in str(w.message)]
    assert messages and messages[0].startswith("max_min_ratio")
    assert " of fmr at deployment 0.9 by gender in all: every group's fmr is 0" in messages[0]

"""Score-log reader: documented CSV/Parquet format in, SCORES + images out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.metrics.engine import compute_metrics
from audit.metrics.score_logs import ScoreLogError, read_score_logs
from audit.schema import SCORES, UNKNOWN

pytestmark = pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")
TRIALS = """trial_kind,probe_id,reference_id,probe_subject,reference_subject,score,mated,best_is_true_entry,rank,fold
verification,a1,a2,A,A,0.81,true,,,1
verification,a1,b1,A,B,0.20,False,,,1
verification,b1,b2,B,B,,1,,,2
identification,c1,,C,,0.70,yes,yes,1,0
identification,d1,,D,,0.30,no,,,0
identification,a2,,A,,,TRUE,,,0
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "trials.csv").write_text(TRIALS)
    pd.DataFrame({"subject_id": ["A", "B", "C"], "gender": ["female", "male", ""]}).to_csv(
        tmp_path / "subjects.csv", index=False
    )
    return tmp_path


def test_reads_csv_trials_and_per_subject_attributes(files):
    logs = read_score_logs(files / "trials.csv", files / "subjects.csv")
    assert logs.scores.schema.equals(SCORES)
    scores = logs.scores.to_pandas()
    assert scores["mated"].tolist() == [True, False, True, True, False, True]
    assert np.isnan(scores.loc[2, "score"])  # empty score = FTA
    assert scores["best_is_true_entry"].tolist()[3:5] == [True, None]
    assert scores["rank"].tolist()[3] == 1 and scores["fold"].tolist()[:3] == [1, 1, 2]
    images = logs.images.set_index("image_id")
    assert sorted(images.index) == ["a1", "a2", "b1", "b2", "c1", "d1"]
    assert images.loc["a2", "gender"] == "female"
    assert images.loc["c1", "gender"] == UNKNOWN  # empty cell
    assert images.loc["d1", "gender"] == UNKNOWN  # subject not listed


def test_reads_parquet_and_per_image_attributes_and_feeds_the_metrics_stage(files):
    csv = pd.read_csv(files / "trials.csv", dtype=str, keep_default_na=False)
    csv.to_parquet(files / "trials.parquet")
    pd.DataFrame(
        {"image_id": ["a1", "b1"], "subject_id": ["A", "B"], "lighting": ["good", "poor"]}
    ).to_parquet(files / "images.parquet")
    logs = read_score_logs([files / "trials.parquet"], files / "images.parquet")
    assert logs.images.set_index("image_id").loc["a2", "lighting"] == UNKNOWN
    table = compute_metrics(
        logs.scores,
        logs.images,
        thresholds=(0.5,),
        groupings=("lighting",),
        min_subjects=1,
        min_trials=1,
    ).to_pandas()
    fmr = table[(table["metric"] == "fmr") & (table["grouping"] == "overall")]
    assert fmr["value"].tolist() == [0.0] and fmr["n_trials"].tolist() == [1]


def _bad(files, text):
    (files / "bad.csv").write_text(text)
    with pytest.raises(ScoreLogError) as caught:
        read_score_logs(files / "bad.csv", files / "subjects.csv")
    return str(caught.value)


def test_bad_rows_are_reported_with_file_and_row(files):
    lines = TRIALS.splitlines()
    lines[2] = "verification,a1,b1,A,B,abc,maybe,,,1"  # data row 2
    lines[3] = "1:1,b1,b2,B,B,0.4,true,,,x"  # data row 3
    lines[4] = "identification,c1,,C,,0.70,yes,,1,0"  # row 4: mated search without the flag
    lines[5] = "verification,d1,a1,D,A,0.3,true,,,0"  # row 5: mated but different subjects
    message = _bad(files, "\n".join(lines) + "\n")
    for expected in (
        "bad.csv row 2: score is not a number",
        "bad.csv row 2: mated must be true or false",
        "bad.csv row 3: trial_kind must be 'verification' or 'identification'",
        "bad.csv row 3: fold must be an integer or empty",
        "bad.csv row 4: best_is_true_entry is empty in a mated identification row with a score",
        "bad.csv row 5: mated disagrees with probe_subject/reference_subject",
    ):
        assert expected in message


def test_missing_columns_and_conflicting_subjects(files):
    assert "missing required column 'mated'" in _bad(
        files, "trial_kind,probe_id,probe_subject,score\n"
    )
    conflict = TRIALS + "verification,a1,x1,Z,X,0.1,false,,,1\n"
    assert "image id 'a1' appears with more than one subject" in _bad(files, conflict)


def test_unknown_file_type_and_missing_file(files):
    (files / "trials.txt").write_text(TRIALS)
    with pytest.raises(ScoreLogError, match="unknown file type"):
        read_score_logs(files / "trials.txt", files / "subjects.csv")
    with pytest.raises(ScoreLogError, match="no such file"):
        read_score_logs(files / "nope.csv", files / "subjects.csv")

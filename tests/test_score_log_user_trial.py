"""What a new user's trial of the score-log reader found (issue 14): blank labels counted per
column, problem lists that give their total, one line for a half-given pair of image ids,
a wrong --map key blamed on --map, messages in the user's column names and spelling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.metrics.log_format import parse_mapping
from audit.metrics.score_logs import MAX_REPORTED, ScoreLogError, read_score_logs

pytestmark = pytest.mark.filterwarnings("ignore::audit.metrics.rates.UndefinedRateWarning")
HEADER = "mode,img_a,person_a,img_b,person_b,similarity,genuine"
MAPPING = ["trial_kind=mode", "probe_id=img_a", "probe_subject=person_a", "reference_id=img_b",
           "reference_subject=person_b", "score=similarity", "mated=genuine",
           "image_id=photo", "subject_id=person"]


def _log(tmp_path, n_people: int = 30, seed: int = 2):
    """Two images of each person: a mated pair each, and a non-mated pair with the next."""
    rng = np.random.default_rng(seed)
    rows = [HEADER]
    for i in range(n_people):
        j = (i + 1) % n_people
        rows.append(f"verification,P{i}-0,P{i},P{i}-1,P{i},{rng.uniform(0.5, 1):.4f},yes")
        rows.append(f"verification,P{i}-0,P{i},P{j}-1,P{j},{rng.uniform(0, 0.5):.4f},no")
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "log.csv", rows


def _people(tmp_path, n_people: int = 30, blank=()):
    """Per-image labels; the people in ``blank`` have an empty sex on both images."""
    frame = pd.DataFrame([{"photo": f"P{i}-{k}", "person": f"P{i}",
                           "sex": "" if i in blank else ("female" if i % 2 else "male"),
                           "band": "18-29"} for i in range(n_people) for k in range(2)])
    frame.to_csv(tmp_path / "people.csv", index=False)
    return tmp_path / "people.csv", frame


def _read(log, people, grouped=()):
    return read_score_logs(log, people, columns=parse_mapping(MAPPING), grouped=grouped)


def _trials_touching(log_rows, images: set[str]) -> int:
    """Independent count: rows whose probe or reference image is in ``images``."""
    rows = [r.split(",") for r in log_rows[1:]]
    return sum(r[1] in images or r[3] in images for r in rows)


def test_blank_labels_are_counted_per_column_and_noted(tmp_path):
    log, rows = _log(tmp_path)
    people, frame = _people(tmp_path, blank={3})
    logs = _read(log, people)
    images = set(frame.loc[frame["sex"] == "", "photo"])
    trials = _trials_touching(rows, images)  # P3's mated row, its own and P2's non-mated row
    assert trials == 3
    assert logs.notes == (
        f"people.csv: column 'sex' is empty for 2 images of 1 person, carrying {trials} "
        f"trial(s) ({trials / 60:.2%}); they are unlabelled ('unknown'): counted overall, "
        "never ranked as a group",)
    assert set(logs.images.loc[logs.images["image_id"].isin(images), "sex"]) == {"unknown"}


def test_blank_labels_above_one_percent_in_a_grouped_column_are_refused(tmp_path):
    log, rows = _log(tmp_path)
    people, _ = _people(tmp_path, blank={3})
    _read(log, people, grouped=("band",))  # another column: sex is not used, a note
    with pytest.raises(ScoreLogError) as caught:
        _read(log, people, grouped=("sex",))
    assert str(caught.value) == (
        "people.csv: column 'sex' is empty for 2 images of 1 person, carrying 3 trial(s) "
        "(5.00%); more than 1% of the trials unlabelled in a --grouping column is refused: "
        "fill in the labels or leave those trials out")


def test_a_status_column_of_a_per_subject_file_is_said_to_be_ignored(tmp_path):
    log, _ = _log(tmp_path)
    pd.DataFrame({"person": [f"P{i}" for i in range(30)], "sex": "female",
                  "quality": "no_face"}).to_csv(tmp_path / "subjects.csv", index=False)
    mapping = parse_mapping([m for m in MAPPING if not m.startswith(
        ("probe_id", "reference_id", "image_id"))] + ["status=quality"])
    (tmp_path / "noid.csv").write_text("\n".join(
        ",".join(c for k, c in enumerate(r.split(",")) if k not in (1, 3))
        for r in log.read_text().splitlines()) + "\n")
    logs = read_score_logs(tmp_path / "noid.csv", tmp_path / "subjects.csv", columns=mapping)
    assert logs.fta is None
    assert ("subjects.csv: column 'quality' (status) is ignored: a failure to acquire is per "
            "image, and this file has one row per subject; give an image_id column for the "
            "FTA rate") in logs.notes
    assert "quality" not in logs.images.columns  # never a label either


def test_problem_lists_give_the_total_of_every_capped_check(tmp_path):
    log, rows = _log(tmp_path)
    people, _ = _people(tmp_path)
    bad = [r.replace(",yes", ",maybe") for r in rows]  # 30 bad 'genuine' values
    log.write_text("\n".join(bad) + "\n")
    lines = str(pytest.raises(ScoreLogError, _read, log, people).value).splitlines()
    expected = [f"log.csv row {2 * i + 1}: genuine (mated) 'maybe' is not true or false"
                for i in range(30)]
    assert lines == expected[:MAX_REPORTED] + [
        f"... and {30 - MAX_REPORTED} more problem(s), 30 in all"]


def test_a_probe_id_without_reference_id_is_one_line_for_the_file(tmp_path):
    log, rows = _log(tmp_path)
    people, _ = _people(tmp_path)
    without = [m for m in MAPPING if not m.startswith("reference_id")]
    with pytest.raises(ScoreLogError) as caught:
        read_score_logs(log, people, columns=parse_mapping(without))
    assert str(caught.value) == (
        "log.csv: probe_id is given but no reference_id, and 60 verification row(s) compare "
        "two images; give both image ids (--map reference_id=COLUMN) or neither")


def test_row_messages_name_the_users_column_and_spelling(tmp_path):
    log, rows = _log(tmp_path)
    people, _ = _people(tmp_path)
    rows[1] = rows[1].rsplit(",", 2)[0] + ",NaN,yes"
    rows[2] = rows[2].rsplit(",", 2)[0] + ",0.1,yes"  # mated, but two different people
    log.write_text("\n".join(rows) + "\n")
    message = str(pytest.raises(ScoreLogError, _read, log, people).value)
    assert message.splitlines() == [
        "log.csv row 1: similarity (score) 'NaN' is not a number; leave the cell empty for a "
        "failure to acquire",
        "log.csv row 2: genuine (mated) is 'yes' but person_a (probe_subject) is 'P0' and "
        "person_b (reference_subject) 'P1'"]


def test_an_empty_score_note_names_only_the_rates_of_the_log(tmp_path):
    log, rows = _log(tmp_path)
    people, _ = _people(tmp_path)
    rows[1] = rows[1].rsplit(",", 2)[0] + ",,yes"
    log.write_text("\n".join(rows) + "\n")
    assert _read(log, people).notes == (
        "1 1:1 comparison(s) have an empty score: counted as failures to acquire, left out of "
        "FMR and FNMR, a miss in FNMR with FTA",)


@pytest.mark.parametrize("items, where", [
    (["scor=similarity"], "--map"),
    ([], "FILE"),
])
def test_a_wrong_key_is_blamed_on_where_it_was_given(tmp_path, items, where):
    columns = tmp_path / "cols.toml"
    columns.write_text('[columns]\nscore = "similarity"\n' + (
        "" if items else 'mated_ = "genuine"\n'))
    with pytest.raises(ValueError) as caught:
        parse_mapping(items, columns_file=columns)
    key = "scor" if items else "mated_"
    assert str(caught.value).startswith(
        f"{columns if where == 'FILE' else '--map'}: unknown key {key!r}; keys are")


def test_attribute_messages_name_the_users_column(tmp_path):
    log, _ = _log(tmp_path)
    people, frame = _people(tmp_path)
    frame = pd.concat([frame, frame.iloc[[4]]]).assign(quality="ok")
    frame.loc[frame.index[2], "quality"] = "blurry"
    frame.to_csv(people, index=False)
    mapping = parse_mapping([*MAPPING, "status=quality"])
    message = str(pytest.raises(ScoreLogError, read_score_logs, log, people,
                                columns=mapping).value)
    assert message.splitlines() == [
        "people.csv row 61: photo (image_id) 'P2-0' is listed again (first at row 5)",
        "people.csv row 3: quality (status) 'blurry' is not one of ok, no_face, unreadable, "
        "missing, error, timeout"]


def test_blank_labels_of_a_per_person_file_count_people_not_images(tmp_path):
    """Two images of person P3 in the log, one row for P3 in the file: one person."""
    log, rows = _log(tmp_path)
    pd.DataFrame({"person": [f"P{i}" for i in range(30)],
                  "sex": ["" if i == 3 else "female" for i in range(30)]}).to_csv(
        tmp_path / "subjects.csv", index=False)
    mapping = parse_mapping([m for m in MAPPING if not m.startswith("image_id")])
    logs = read_score_logs(log, tmp_path / "subjects.csv", columns=mapping)
    trials = _trials_touching(rows, {"P3-0", "P3-1"})
    assert logs.notes == (
        f"subjects.csv: column 'sex' is empty for 1 person, carrying {trials} trial(s) "
        f"({trials / 60:.2%}); they are unlabelled ('unknown'): counted overall, never ranked "
        "as a group",)

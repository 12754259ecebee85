"""Score-log reader: documented CSV/Parquet format in, SCORES + images out."""

from __future__ import annotations

import re
import numpy as np
import pandas as pd
import pytest

from audit.metrics.engine import compute_metrics
from audit.metrics.score_logs import SCHEMA, ScoreLogError, read_score_logs
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
    pd.DataFrame({"subject_id": ["A", "B", "C", "D"], "gender": ["female", "male", "", "male"]}).to_csv(
        tmp_path / "subjects.csv", index=False
    )
    return tmp_path


def test_reads_csv_trials_and_per_subject_attributes(files):
    logs = read_score_logs(files / "trials.csv", files / "subjects.csv")
    assert logs.scores.schema.equals(SCHEMA)  # SCORES, ids as dictionary codes
    assert logs.scores.cast(SCORES).schema.equals(SCORES)
    scores = logs.scores.cast(SCORES).to_pandas()
    assert scores["mated"].tolist() == [True, False, True, True, False, True]
    assert np.isnan(scores.loc[2, "score"])  # empty score = FTA
    assert scores["best_is_true_entry"].tolist()[3:5] == [True, None]
    assert scores["rank"].tolist()[3] == 1 and scores["fold"].tolist()[:3] == [1, 1, 2]
    images = logs.images.set_index("image_id")
    assert sorted(images.index) == ["a1", "a2", "b1", "b2", "c1", "d1"]
    assert images.loc["a2", "gender"] == "female"
    assert images.loc["c1", "gender"] == UNKNOWN  # empty cell
    assert images.loc["d1", "gender"] == "male"
    assert logs.notes == (
        "1 1:1 comparison(s) have an empty score: counted as failures to acquire, left out of "
        "FMR and FNMR, a miss in FNMR with FTA",
        "1 1:N search(es) have an empty score: counted as failures to acquire, no alert in "
        "FPIR, a miss in FNIR",
        "subjects.csv: column 'gender' is empty for 1 person, carrying 1 trial(s) (16.67%); "
        "they are unlabelled ('unknown'): counted overall, never ranked as a group")


def test_reads_parquet_and_per_image_attributes_and_feeds_the_metrics_stage(files):
    csv = pd.read_csv(files / "trials.csv", dtype=str, keep_default_na=False)
    csv.to_parquet(files / "trials.parquet")
    pd.DataFrame(
        {"image_id": ["a1", "b1", "b2", "c1", "d1"], "subject_id": ["A", "B", "B", "C", "D"],
         "lighting": ["good", "poor", "poor", "", "good"]}
    ).to_parquet(files / "images.parquet")
    with pytest.raises(ScoreLogError, match=r"images.parquet lists no labels for 1 image "
                       r"\(e.g. 'a2'\), carrying 33.33% of the trials; more than 1%"):
        read_score_logs([files / "trials.parquet"], files / "images.parquet")
    pd.read_parquet(files / "images.parquet").assign(lighting="good").pipe(
        lambda f: pd.concat([f, pd.DataFrame({"image_id": ["a2"], "subject_id": ["A"],
                                              "lighting": [""]})])).to_parquet(
        files / "images.parquet")
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


def test_bad_rows_are_reported_with_file_row_and_value(files):
    lines = TRIALS.splitlines()
    lines[2] = "verification,a1,b1,A,B,abc,maybe,,,1"  # data row 2
    lines[3] = "1:1,b1,b2,B,B,0.4,true,,,x"  # data row 3
    lines[4] = "identification,c1,,C,,0.70,yes,,1,0"  # row 4: mated search without the flag
    lines[5] = "verification,d1,a1,D,A,0.3,true,,,0"  # row 5: mated but different subjects
    lines[6] = "identification,a2,,A,,nan,TRUE,,2.5,0"  # row 6: NaN score, rank not integer
    message = _bad(files, "\n".join(lines) + "\n")
    for expected in (
        "bad.csv row 2: score 'abc' is not a number",
        "bad.csv row 2: mated 'maybe' is not true or false",
        "bad.csv row 3: trial_kind '1:1' is not 'verification' or 'identification'",
        "bad.csv row 3: fold 'x' is not an integer",
        "bad.csv row 4: best_is_true_entry is empty in a mated identification row with a score",
        "bad.csv row 5: mated is 'true' but probe_subject is 'D' and reference_subject 'A'",
        "bad.csv row 6: score 'nan' is not a number",
        "bad.csv row 6: rank '2.5' is not an integer",
    ):
        assert expected in message


def test_a_nan_score_in_a_clean_numeric_column_is_reported(files):
    text = TRIALS.replace("verification,a1,b1,A,B,0.20", "verification,a1,b1,A,B,NaN")
    assert ("bad.csv row 2: score 'NaN' is not a number; leave the cell empty for a failure "
            "to acquire") in _bad(files, text)


def test_missing_column_names_the_file_and_lists_its_columns(files):
    message = _bad(files, "trial_kind,probe_id,probe_subject,score\n")
    assert message == ("bad.csv: no column 'mated'; its columns are trial_kind, "
                       "probe_id, probe_subject, score (name yours with --map mated=COLUMN)")


def test_an_image_with_two_subjects_names_both_rows(files):
    conflict = TRIALS + "verification,a1,x1,Z,X,0.1,false,,,1\n"
    assert ("image 'a1' belongs to subject 'A' (bad.csv row 1) and to 'Z' (bad.csv row 7)"
            in _bad(files, conflict))


def test_duplicated_trials_name_both_rows_across_files(files):
    (files / "more.csv").write_text(TRIALS.splitlines()[0] + "\n" + TRIALS.splitlines()[2] + "\n")
    with pytest.raises(ScoreLogError) as caught:
        read_score_logs([files / "trials.csv", files / "more.csv"], files / "subjects.csv")
    assert str(caught.value) == (
        "more.csv row 1: repeats the trial of trials.csv row 2 (probe 'a1', reference 'b1')")


def test_label_variants_and_repeated_keys_are_refused(files):
    pd.DataFrame({"subject_id": ["A", "B", "C", "D", "B"],
                  "gender": ["Female", "male", "female ", "male", "male"]}).to_csv(
        files / "subjects.csv", index=False)
    with pytest.raises(ScoreLogError) as caught:
        read_score_logs(files / "trials.csv", files / "subjects.csv")
    assert str(caught.value).splitlines() == [
        "subjects.csv row 5: subject_id 'B' is listed again (first at row 2)",
        "subjects.csv: column 'gender' spells one label several ways: 'Female' (row 1), "
        "'female' (row 3); use one spelling",
    ]


def test_a_few_unlisted_subjects_are_a_note(files):
    trials = TRIALS + "".join(f"verification,x{i},y{i},X{i},Y{i},0.1,false,,,1\n"
                              for i in range(200))
    (files / "many.csv").write_text(trials)
    people = [f"X{i}" for i in range(200)] + [f"Y{i}" for i in range(200)]
    pd.DataFrame({"subject_id": people + ["A", "B", "C"], "gender": "male"}).to_csv(
        files / "subjects.csv", index=False)
    logs = read_score_logs(files / "many.csv", files / "subjects.csv")
    assert logs.notes[2] == ("subjects.csv lists no labels for 1 subject (e.g. 'D'), carrying "
                             "0.49% of the trials; their labels are 'unknown'")


def test_mapping_round_trip_and_optional_ids(files):
    """The user's names map onto the format; without ids a subject stands for its images."""
    from audit.metrics.log_format import parse_mapping

    original = pd.read_csv(files / "trials.csv", dtype=str, keep_default_na=False)
    renamed = original.drop(columns=["probe_id", "reference_id"]).rename(
        columns={"score": "similarity", "probe_subject": "person", "mated": "genuine"})
    renamed.to_csv(files / "renamed.csv", index=False)
    (files / "columns.toml").write_text('[columns]\nscore = "similarity"\nmated = "genuine"\n')
    mapping = parse_mapping(["probe_subject=person"], columns_file=files / "columns.toml")
    mapped = read_score_logs(files / "renamed.csv", files / "subjects.csv", columns=mapping)
    plain = read_score_logs(files / "trials.csv", files / "subjects.csv")
    for column in ("trial_kind", "probe_subject", "reference_subject", "score", "mated",
                   "fold", "rank", "best_is_true_entry"):
        assert mapped.scores[column].equals(plain.scores[column])
    assert mapped.scores["probe_id"].to_pylist() == mapped.scores["probe_subject"].to_pylist()
    assert sorted(mapped.images["image_id"]) == ["A", "B", "C", "D"]
    with pytest.raises(ValueError, match="unknown key 'similarity'"):
        parse_mapping(["similarity=score"])


def test_per_image_labels_need_image_ids(files):
    pd.DataFrame({"image_id": ["a1"], "gender": ["male"]}).to_csv(files / "img.csv", index=False)
    (files / "noid.csv").write_text(
        "trial_kind,probe_subject,reference_subject,score,mated\nverification,A,B,0.1,false\n")
    with pytest.raises(ScoreLogError, match="labels are per image"):
        read_score_logs(files / "noid.csv", files / "img.csv")


def test_status_column_gives_fta_and_is_not_a_label(files):
    pd.DataFrame({"image_id": ["a1", "a2", "b1", "b2", "c1", "d1"],
                  "subject_id": ["A", "A", "B", "B", "C", "D"],
                  "status": ["ok", "ok", "ok", "no_face", "ok", "ok"],
                  "gender": ["f", "f", "m", "m", "m", "f"]}).to_csv(files / "img.csv", index=False)
    logs = read_score_logs(files / "trials.csv", files / "img.csv")
    assert "status" not in logs.images.columns
    assert logs.fta.set_index("image_id")["fta"].to_dict() == {
        "a1": False, "a2": False, "b1": False, "b2": True, "c1": False, "d1": False}
    pd.DataFrame({"image_id": ["a1"], "status": ["blurry"]}).to_csv(files / "bad.csv", index=False)
    with pytest.raises(ScoreLogError, match="bad.csv row 1: status 'blurry' is not one of"):
        read_score_logs(files / "trials.csv", files / "bad.csv")


def test_unknown_file_type_and_missing_file(files):
    (files / "trials.txt").write_text(TRIALS)
    with pytest.raises(ScoreLogError, match="unknown file type"):
        read_score_logs(files / "trials.txt", files / "subjects.csv")
    with pytest.raises(ScoreLogError, match="no such file"):
        read_score_logs(files / "nope.csv", files / "subjects.csv")


def test_the_format_page_shows_the_format_tables_and_the_help_points_to_it():
    from pathlib import Path

    from typer.testing import CliRunner

    from audit.cli import app
    from audit.metrics.log_format import ATTRIBUTES, FORMAT_PAGE, TRIALS, markdown_table

    page = (Path(__file__).parents[1] / FORMAT_PAGE).read_text()
    assert markdown_table(TRIALS) in page and markdown_table(ATTRIBUTES) in page
    assert FORMAT_PAGE in " ".join(CliRunner().invoke(app, ["metrics", "--help"]).output.split())


def test_duplicates_found_by_sorting_match_a_first_seen_loop(tmp_path):
    """Every repeated trial (same kind, probe, reference, fold) is named with its first row,
    in row order, as a brute-force loop over the rows finds them."""
    rng = np.random.default_rng(3)
    n = 400
    probe, reference = rng.integers(0, 6, n), rng.integers(0, 6, n)
    kind = np.where(rng.random(n) < 0.7, "verification", "identification")
    fold = rng.integers(0, 2, n)
    rows = pd.DataFrame({
        "trial_kind": kind, "probe_id": [f"i{p}" for p in probe],
        "probe_subject": [f"S{p}" for p in probe],
        "reference_id": np.where(kind == "verification", [f"i{r}" for r in reference], ""),
        "reference_subject": np.where(kind == "verification", [f"S{r}" for r in reference], ""),
        "score": 0.5, "mated": np.where(kind == "verification", probe == reference, False),
        "fold": fold})
    rows.to_csv(tmp_path / "trials.csv", index=False)
    pd.DataFrame({"subject_id": [f"S{p}" for p in range(6)], "gender": "f"}).to_csv(
        tmp_path / "people.csv", index=False)
    first_seen, expected = {}, []
    for row, (k, p, r, f) in enumerate(zip(kind, probe, reference, fold), start=1):
        key = (k, p, r if k == "verification" else None, f)
        if key in first_seen:
            what = f"probe 'i{p}'" + (f", reference 'i{r}'" if k == "verification" else "")
            expected.append(f"trials.csv row {row}: repeats the trial of trials.csv row "
                            f"{first_seen[key]} ({what})")
        first_seen.setdefault(key, row)
    assert len(expected) > 20  # enough repeats to be cut at the reported maximum
    with pytest.raises(ScoreLogError) as caught:
        read_score_logs(tmp_path / "trials.csv", tmp_path / "people.csv")
    assert str(caught.value).splitlines() == expected[:20] + [  # the first 20 named
        f"... and {len(expected) - 20:,} more problem(s), {len(expected):,} in all"]


def test_spaces_around_ids_and_words_are_stripped_on_every_path(files):
    """' a1' and 'a1' are one image and ' TRUE ' is true, in CSV and in Parquet with
    dictionary columns and null cells (a null is an empty cell)."""
    spaced = TRIALS.replace("verification,a1,b1,A,B", " Verification , a1,b1 ,A , B").replace(
        ",0.81,true,", ",0.81, TRUE ,")
    (files / "spaced.csv").write_text(spaced)
    plain = read_score_logs(files / "trials.csv", files / "subjects.csv").scores.cast(SCORES)
    read = read_score_logs(files / "spaced.csv", files / "subjects.csv").scores.cast(SCORES)
    assert read.equals(plain)
    frame = pd.read_csv(files / "spaced.csv", dtype=str, keep_default_na=False)
    frame = frame.replace("", None).astype({c: "category" for c in
                                            ("trial_kind", "probe_id", "mated")})
    frame.to_parquet(files / "spaced.parquet")
    assert read_score_logs(files / "spaced.parquet", files / "subjects.csv").scores.cast(
        SCORES).equals(plain)


def test_images_are_the_probes_and_the_verification_references(files):
    """Whether subjects were coded through the images or not, the images table lists the
    images a trial counts: an identification row's reference is not one of them."""
    (files / "refs.csv").write_text(
        TRIALS.replace("identification,d1,,D,,", "identification,d1,zz,D,Z,"))
    long = re.sub(r"(?<=,)A(?=,)", "A_long_subject_name", TRIALS)
    (files / "long.csv").write_text(long)
    pd.DataFrame({"subject_id": ["A", "A_long_subject_name", "B", "C", "D", "Z"],
                  "gender": "f"}).to_csv(files / "subjects.csv", index=False)
    for name in ("refs.csv", "long.csv"):  # subjects of at most 8 bytes, and longer
        logs = read_score_logs(files / name, files / "subjects.csv")
        images = logs.images.set_index("image_id")["subject_id"].to_dict()
        a = "A" if name == "refs.csv" else "A_long_subject_name"
        assert images == {"a1": a, "a2": a, "b1": "B", "b2": "B", "c1": "C", "d1": "D"}


def test_an_unlisted_probe_of_a_search_log_without_references(files):
    """A 1:N log with no reference columns: its unlisted probe images are weighed by the
    searches they carry."""
    rows = "".join(f"identification,p{i},P{i},0.5,false,\n" for i in range(199))
    (files / "searches.csv").write_text(
        "trial_kind,probe_id,probe_subject,score,mated,best_is_true_entry\n" + rows
        + "identification,q0,Q,0.4,false,\n")
    pd.DataFrame({"image_id": [f"p{i}" for i in range(199)], "gender": "m"}).to_csv(
        files / "images.csv", index=False)
    logs = read_score_logs(files / "searches.csv", files / "images.csv")
    assert logs.notes == ("images.csv lists no labels for 1 image (e.g. 'q0'), carrying "
                          "0.50% of the trials; their labels are 'unknown'",)
    assert logs.images.set_index("image_id").loc["q0", "gender"] == UNKNOWN

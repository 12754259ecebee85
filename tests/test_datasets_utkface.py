"""UTKFace adapter: labels from file names, malformed names reported, real copy balanced."""

from __future__ import annotations

import pytest

from audit.datasets.errors import DatasetError
from audit.datasets.utkface import load_utkface

NAMES = {
    "females/asian/17_1_2_20170116174525125.jpg.chip.jpg": ("female", "asian", "17", "0-17"),
    "males/white/18_0_0_20170111204813415.jpg.chip.jpg": ("male", "white", "18", "18-29"),
    "males/black/44_0_1_20170117191542710.jpg.chip.jpg": ("male", "black", "44", "30-44"),
    "x/45_1_3_20170119171433126.jpg.chip.jpg": ("female", "indian", "45", "45-59"),
    "60_0_4_20170117201321001.jpg.chip.jpg": ("male", "other", "60", "60+"),
    # Malformed, as in the real UTKFace release: the race field is missing.
    "61_1_20170109150557335.jpg.chip.jpg": ("unknown", "unknown", "unknown", "unknown"),
    # Out-of-range codes: only the unreadable field becomes unknown.
    "30_3_9_20170109150557336.jpg.chip.jpg": ("unknown", "unknown", "30", "30-44"),
}


@pytest.fixture
def utk_copy(tmp_path):
    for name in NAMES:
        path = tmp_path / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"jpeg")
    (tmp_path / "images" / "README.txt").write_text("not an image")
    return tmp_path


def test_labels_are_read_from_file_names(utk_copy):
    table, _ = load_utkface(utk_copy)
    rows = {r["path"].removeprefix("images/"): r for r in table.to_pylist()}
    assert set(rows) == set(NAMES)
    for name, (gender, ethnicity, age, band) in NAMES.items():
        row = rows[name]
        assert (row["gender"], row["ethnicity"], row["age"], row["age_band"]) == (
            gender,
            ethnicity,
            age,
            band,
        ), name
        assert row["image_id"] == name.rsplit("/", 1)[-1].removesuffix(".jpg.chip.jpg")
        assert row["subject_id"] == row["image_id"]
        assert row["dataset"] == "utkface"


def test_malformed_names_are_listed_not_fatal(utk_copy):
    _, report = load_utkface(utk_copy)
    assert report.malformed_paths == (
        "images/30_3_9_20170109150557336.jpg.chip.jpg",
        "images/61_1_20170109150557335.jpg.chip.jpg",
    )
    assert report.other_files == ("images/README.txt",)
    assert report.counts() == {"n_images": 7, "n_subjects": 7, "malformed": 2, "other_files": 1}


def test_no_images_is_a_clear_error(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(DatasetError, match=r"no UTKFace images \(\*\.jpg\) under"):
        load_utkface(tmp_path)


def test_same_file_name_in_two_folders_is_refused(utk_copy):
    copy = utk_copy / "images" / "again" / "60_0_4_20170117201321001.jpg.chip.jpg"
    copy.parent.mkdir()
    copy.write_bytes(b"jpeg")
    with pytest.raises(DatasetError, match=r"60_0_4_20170117201321001.*unique id"):
        load_utkface(utk_copy)


def test_real_copy_is_balanced(utkface_root):
    table, report = load_utkface(utkface_root)
    assert table.num_rows == report.n_images == 2_000
    assert report.malformed == 0
    frame = table.to_pandas()
    cells = frame.groupby(["gender", "ethnicity"]).size()
    assert len(cells) == 10 and (cells == 200).all()
    assert set(frame["age_band"]) <= {"0-17", "18-29", "30-44", "45-59", "60+"}
    # The folder names repeat the file-name labels; they must agree.
    folders = frame["path"].str.split("/").str[1:3].str.join("/")
    assert (folders == frame["gender"] + "s/" + frame["ethnicity"]).all()

"""LFW adapter: every label quirk of the real files, on a synthetic copy, then the real one."""

from __future__ import annotations

import re

import pytest

from audit.datasets.errors import DatasetError
from audit.datasets.lfw import (
    NO_LABELS,
    PAIRS_COUNT,
    PAIRS_HEADER,
    PAIRS_MATCHED,
    PAIRS_MISMATCHED,
    PAIRS_NO_IMAGE,
    PAIRS_NUMBER,
    load_lfw,
    read_view2_pairs,
)
from audit.schema import MANIFEST

IMAGES = {
    "A_One": ["A_One_0001.jpg", "A_One_0002.jpg"],
    "B_Two": ["B_Two_0001.jpg"],
    "C_Three": ["C_Three_0001.jpg", "C_Three_0002.jpg"],
    "D_Four": ["D_Four_0001.jpg"],
}
# Like the real AFIF4 files: CRLF endings, a blank line, a name without .jpg,
# a name in both files, a name twice in one file, and a name with no image.
MALE = (
    b"A_One_0001.jpg\r\nA_One_0002\r\n\r\nC_Three_0001.jpg\r\n"
    b"Ghost_Person_0001.jpg\r\nA_One_0001.jpg\r\n"
)
FEMALE = b"B_Two_0001.jpg\r\nC_Three_0001.jpg\r\n"
PAIRS = "2\t1\nA_One\t1\t2\nA_One\t1\tB_Two\t1\nC_Three\t1\t2\nC_Three\t2\tD_Four\t1\n"


def make_lfw(root, pairs=PAIRS, male=MALE, female=FEMALE):
    for person, files in IMAGES.items():
        (root / "images" / person).mkdir(parents=True)
        for name in files:
            (root / "images" / person / name).write_bytes(b"jpeg")
    (root / "gender").mkdir()
    (root / "gender" / "male_names.txt").write_bytes(male)
    (root / "gender" / "female_names.txt").write_bytes(female)
    (root / "pairs.txt").write_text(pairs, newline="")
    return root


@pytest.fixture
def lfw_copy(tmp_path):
    return make_lfw(tmp_path)


def test_manifest_matches_schema_and_layout(lfw_copy):
    table, _ = load_lfw(lfw_copy)
    assert table.schema.names[:4] == MANIFEST.names
    rows = table.to_pylist()
    assert rows[0] == {
        "image_id": "A_One_0001",
        "path": "images/A_One/A_One_0001.jpg",
        "subject_id": "A_One",
        "dataset": "lfw",
        "gender": "male",
    }
    assert [r["image_id"] for r in rows] == sorted(r["image_id"] for r in rows)


def test_every_label_quirk_is_handled_and_counted(lfw_copy):
    table, quirks = load_lfw(lfw_copy)
    gender = dict(zip(table["image_id"].to_pylist(), table["gender"].to_pylist(), strict=True))
    assert gender == {
        "A_One_0001": "male",
        "A_One_0002": "male",  # listed without .jpg
        "B_Two_0001": "female",
        "C_Three_0001": "unknown",  # in both files
        "C_Three_0002": "unknown",  # in neither
        "D_Four_0001": "unknown",
    }
    assert quirks.conflicting_ids == ("C_Three_0001",)
    assert quirks.missing_ids == ("C_Three_0002", "D_Four_0001")
    assert quirks.unmatched_names == ("Ghost_Person_0001",)
    assert quirks.counts() == {
        "n_images": 6,
        "n_subjects": 4,
        "conflicting": 1,
        "missing": 2,
        "unmatched": 1,
        "duplicate_lines": 1,
        "blank_lines": 1,
        "lines_without_extension": 1,
        "other_files": 0,
    }


def test_stray_files_are_reported_not_loaded(lfw_copy):
    (lfw_copy / "images" / "A_One" / "Thumbs.db").write_bytes(b"")
    (lfw_copy / "images" / "loose.jpg").write_bytes(b"")
    table, quirks = load_lfw(lfw_copy)
    assert table.num_rows == 6
    assert quirks.other_files == ("images/A_One/Thumbs.db", "images/loose.jpg")


def test_missing_label_file_names_file_and_fix(lfw_copy):
    (lfw_copy / "gender" / "female_names.txt").unlink()
    path = (lfw_copy / "gender" / "female_names.txt").resolve()
    with pytest.raises(
        DatasetError, match=re.escape(NO_LABELS.format(path=path, folder=path.parent))
    ):
        load_lfw(lfw_copy)


def test_no_images_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="no LFW images under"):
        load_lfw(tmp_path)


def test_view2_pairs_are_read_by_fold(lfw_copy):
    pairs = read_view2_pairs(lfw_copy)
    assert pairs.to_dict("records") == [
        {"fold": 0, "image_id_a": "A_One_0001", "image_id_b": "A_One_0002", "mated": True},
        {"fold": 0, "image_id_a": "A_One_0001", "image_id_b": "B_Two_0001", "mated": False},
        {"fold": 1, "image_id_a": "C_Three_0001", "image_id_b": "C_Three_0002", "mated": True},
        {"fold": 1, "image_id_a": "C_Three_0002", "image_id_b": "D_Four_0001", "mated": False},
    ]
    assert pairs["mated"].dtype == bool


def test_view2_pairs_accept_crlf_and_spaces(tmp_path):
    root = make_lfw(tmp_path, pairs=PAIRS.replace("\t", " ").replace("\n", "\r\n"))
    assert len(read_view2_pairs(root)) == 4


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ("1100\n", PAIRS_HEADER.format(line=1, got="1100")),
        ("2 1\nA_One 1 2\n", PAIRS_COUNT.format(got=1, want=4, folds=2, per=1)),
        (
            PAIRS.replace("A_One\t1\tB_Two\t1", "A_One\t1\t2"),
            PAIRS_MISMATCHED.format(line=3, fold=0, got="A_One 1 2"),
        ),
        (
            PAIRS.replace("C_Three\t1\t2", "C_Three\t1\tD_Four\t1"),
            PAIRS_MATCHED.format(line=4, fold=1, got="C_Three 1 D_Four 1"),
        ),
        (PAIRS.replace("A_One\t1\t2", "A_One\tx\t2"), PAIRS_NUMBER.format(line=2, got="x")),
        (PAIRS.replace("A_One\t1\t2", "A_One\t0\t2"), PAIRS_NUMBER.format(line=2, got="0")),
        (
            PAIRS.replace("A_One\t1\t2", "A_One\t1\t9"),
            PAIRS_NO_IMAGE.format(line=2, image_id="A_One_0009"),
        ),
    ],
)
def test_view2_errors_give_the_line(tmp_path, pairs, message):
    root = make_lfw(tmp_path, pairs=pairs)
    with pytest.raises(DatasetError, match=re.escape(message)):
        read_view2_pairs(root)


def test_view2_collects_all_line_errors(tmp_path):
    bad = PAIRS.replace("A_One\t1\t2", "A_One\t1\t9").replace("D_Four\t1", "D_Four\t7")
    with pytest.raises(DatasetError, match=r"2 problem\(s\)") as caught:
        read_view2_pairs(make_lfw(tmp_path, pairs=bad))
    assert "line 2:" in str(caught.value) and "line 5:" in str(caught.value)


# The real copy (skipped when absent): the figures its README states.


@pytest.fixture(scope="module")
def real_lfw(lfw_root):
    return load_lfw(lfw_root)


def test_real_copy_counts(real_lfw):
    table, quirks = real_lfw
    assert table.num_rows == quirks.n_images == 13_233
    assert quirks.n_subjects == 5_749
    assert len(set(table["subject_id"].to_pylist())) == 5_749


def test_real_copy_label_quirks(real_lfw):
    table, quirks = real_lfw
    assert quirks.conflicting_ids == (
        "Allison_Searing_0001",
        "Claudia_Coslovich_0001",
        "Elizabeth_Hill_0001",
        "Erika_Reyes_0001",
        "Tatiana_Shchegoleva_0001",
    )
    assert quirks.missing_ids == (
        "Robert_Evans_0001",
        "Robert_Evans_0002",
        "Tara_Kirk_0001",
        "Yasser_Arafat_0005",
    )
    assert quirks.unmatched == 0
    assert quirks.blank_lines == 1 and quirks.lines_without_extension >= 1
    genders = table["gender"].to_pylist()
    assert genders.count("unknown") == 9
    assert set(genders) == {"male", "female", "unknown"}


def test_real_view2_pairs(lfw_root):
    pairs = read_view2_pairs(lfw_root)
    assert len(pairs) == 6_000
    per_fold = pairs.groupby("fold")["mated"].agg(["sum", "count"])
    assert per_fold.index.tolist() == list(range(10))
    assert (per_fold["sum"] == 300).all() and (per_fold["count"] == 600).all()

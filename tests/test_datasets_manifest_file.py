"""Evaluator manifests: labels as text, hostile paths refused, problems row-numbered."""

from __future__ import annotations

import os
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audit.datasets.errors import DatasetError, ManifestError
from audit.datasets.manifest_file import (
    BACKSLASH,
    DUPLICATE_COLUMN,
    EMPTY_VALUE,
    MISSING_COLUMN,
    NO_FILES,
    NOT_IMAGE,
    RAGGED,
    REPEATED,
    UNNAMED_COLUMN,
    UNSUPPORTED_FORMAT,
    load_manifest_file,
)
from audit.datasets.rows import CONFLICTING, NAME_TOO_LONG, shown
from audit.schema import MANIFEST


@pytest.fixture
def root(tmp_path):
    images = tmp_path / "root" / "cam1"
    images.mkdir(parents=True)
    for name in ("a.jpg", "b.jpg", "c.png", "d.jpg"):
        (images / name).write_bytes(b"img")
    (tmp_path / "secret.jpg").write_bytes(b"s")
    return tmp_path / "root"


def write_csv(tmp_path, text, name="captures.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_good_csv(tmp_path, root):
    manifest = write_csv(
        tmp_path,
        "\ufeffpath, subject_id ,gender,lighting\n"
        "cam1/a.jpg,s1, female ,dim\n"
        "./cam1//b.jpg,s1,,bright\n"
        "\n"
        "cam1/c.png,s2,male,\n",
    )
    table, report = load_manifest_file(manifest, root)
    assert table.schema.names == [*MANIFEST.names, "gender", "lighting"]
    assert all(f.type == pa.string() for f in table.schema)
    assert table.to_pylist() == [
        {"image_id": "cam1/a.jpg", "path": "cam1/a.jpg", "subject_id": "s1",
         "dataset": "captures", "gender": "female", "lighting": "dim"},
        {"image_id": "cam1/b.jpg", "path": "cam1/b.jpg", "subject_id": "s1",
         "dataset": "captures", "gender": "unknown", "lighting": "bright"},
        {"image_id": "cam1/c.png", "path": "cam1/c.png", "subject_id": "s2",
         "dataset": "captures", "gender": "male", "lighting": "unknown"},
    ]  # fmt: skip
    assert report.counts() == {"n_images": 3, "n_subjects": 2, "missing_files": 0,
                               "skipped_rows": 0, "labels_changed": 0}


def test_image_id_and_dataset_columns(tmp_path, root):
    manifest = write_csv(
        tmp_path, "image_id,path,subject_id,dataset\nA,cam1/a.jpg,s1,site-1\n,cam1/b.jpg,s2,\n"
    )
    table, _ = load_manifest_file(manifest, root)
    assert table["image_id"].to_pylist() == ["A", "cam1/b.jpg"]
    assert table["dataset"].to_pylist() == ["site-1", "captures"]


def test_parquet_labels_become_text(tmp_path, root):
    manifest = tmp_path / "m.parquet"
    pq.write_table(
        pa.table(
            {
                "path": ["cam1/a.jpg", "cam1/b.jpg"],
                "subject_id": pa.array([7, 8], pa.int64()),
                "age": pa.array([34, None], pa.int64()),
                "eyewear": pa.array([True, False]),
            }
        ),
        manifest,
    )
    table, _ = load_manifest_file(manifest, root)
    assert table["subject_id"].to_pylist() == ["7", "8"]
    assert table["age"].to_pylist() == ["34", "unknown"]
    assert table["eyewear"].to_pylist() == ["true", "false"]


def test_every_row_problem_is_reported_at_once(tmp_path, root):
    os.symlink(root.parent / "secret.jpg", root / "cam1" / "link.jpg")
    manifest = write_csv(
        tmp_path,
        "path,subject_id,gender\n"  # line 1
        "cam1/a.jpg,s1,f\n"  # row 1
        ",s1,f\n"  # row 2: empty path
        "cam1/b.jpg,,m\n"  # row 3: empty subject
        "../secret.jpg,s2,m\n"  # row 4: climbs out
        "/etc/passwd,s2,m\n"  # row 5: absolute (and not an image)
        "cam1/link.jpg,s3,m\n"  # row 6: symlink escaping the root
        "cam1\\d.jpg,s3,m\n"  # row 7: backslashes
        "cam1/notes.txt,s3,m\n"  # row 8: not an image
        "cam1/a.jpg,s4,m\n"  # row 9: repeats row 1 (path, hence default image_id)
        "cam1/c.png,s4\n",  # row 10: ragged
    )
    with pytest.raises(ManifestError, match=r"9 problem\(s\); fix them") as caught:
        load_manifest_file(manifest, root)
    problems = caught.value.problems
    assert len(problems) == 9
    assert problems[0] == "row 2 (line 3 of the CSV): " + EMPTY_VALUE.format(column="path")
    assert problems[1] == "row 3 (line 4 of the CSV): " + EMPTY_VALUE.format(column="subject_id")
    assert problems[2].startswith("row 4 (line 5 of the CSV): path '../secret.jpg' contains '..'")
    assert problems[3].startswith("row 5 (line 6 of the CSV): path '/etc/passwd' does not end in")
    assert problems[4].startswith(
        "row 6 (line 7 of the CSV): path 'cam1/link.jpg' resolves through"
    )
    assert problems[5] == "row 7 (line 8 of the CSV): " + BACKSLASH.format(value=repr("cam1\\d.jpg"))
    assert problems[6].startswith(
        "row 8 (line 9 of the CSV): " + NOT_IMAGE.split("(")[0].format(value="'cam1/notes.txt'")
    )
    assert problems[7] == "row 9 (line 10 of the CSV): " + CONFLICTING.format(
        value="'cam1/a.jpg'", first=1, differences="subject_id: 's1' vs 's4'; gender: 'f' vs 'm'"
    )
    assert problems[8] == "row 10 (line 11 of the CSV): " + RAGGED.format(got=2, want=3)


def test_absolute_image_path_is_refused_as_outside(tmp_path, root):
    manifest = write_csv(tmp_path, f"path,subject_id\n{root.parent / 'secret.jpg'},s1\n")
    with pytest.raises(ManifestError, match=r"row 1 \(line 2 of the CSV\): path '/.*' is absolute"):
        load_manifest_file(manifest, root)


def test_extension_check_can_be_switched_off(tmp_path, root):
    (root / "cam1" / "e.raw").write_bytes(b"r")
    manifest = write_csv(tmp_path, "path,subject_id\ncam1/e.raw,s1\n")
    with pytest.raises(ManifestError, match="does not end in an image extension"):
        load_manifest_file(manifest, root)
    table, _ = load_manifest_file(manifest, root, check_extensions=False)
    assert table["path"].to_pylist() == ["cam1/e.raw"]


def test_error_list_is_capped(tmp_path, root):
    manifest = write_csv(tmp_path, "path,subject_id\n" + ",s\n" * 5)
    with pytest.raises(ManifestError, match=r"5 problem\(s\), first 2 shown") as caught:
        load_manifest_file(manifest, root, max_errors=2)
    assert len(caught.value.problems) == 2


def test_multiline_field_keeps_line_numbers_right(tmp_path, root):
    manifest = write_csv(tmp_path, 'path,subject_id,note\ncam1/a.jpg,s1,"two\nlines"\n,s2,x\n')
    with pytest.raises(ManifestError, match=re.escape("row 2 (line 4 of the CSV): path is empty")):
        load_manifest_file(manifest, root)


def test_parquet_rows_are_numbered_from_one(tmp_path, root):
    manifest = tmp_path / "m.parquet"
    pq.write_table(
        pa.table({"path": ["cam1/a.jpg", "../x.jpg"], "subject_id": ["a", "b"]}), manifest
    )
    with pytest.raises(
        ManifestError, match=re.escape("row 2 of the Parquet file: path '../x.jpg'")
    ):
        load_manifest_file(manifest, root)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("path,gender", MISSING_COLUMN.split("(")[0].format(file="{file}", column="subject_id")),
        ("path,subject_id,path", DUPLICATE_COLUMN.format(file="{file}", column="path")),
        ("path,subject_id,", UNNAMED_COLUMN.format(file="{file}", number=3)),
    ],
)
def test_header_problems(tmp_path, root, header, message):
    manifest = write_csv(tmp_path, header + "\ncam1/a.jpg,s1,x\n")
    with pytest.raises(DatasetError, match=re.escape(message.format(file=manifest))):
        load_manifest_file(manifest, root)


def test_unsupported_format(tmp_path, root):
    manifest = write_csv(tmp_path, "", name="m.xlsx")
    with pytest.raises(
        DatasetError, match=re.escape(UNSUPPORTED_FORMAT.format(file=manifest, suffix=".xlsx"))
    ):
        load_manifest_file(manifest, root)


def test_missing_files_are_counted_but_all_missing_means_wrong_root(tmp_path, root):
    manifest = write_csv(tmp_path, "path,subject_id\ncam1/a.jpg,s1\ncam1/gone.jpg,s2\n")
    _, report = load_manifest_file(manifest, root)
    assert report.missing_paths == ("cam1/gone.jpg",)
    wrong_root = tmp_path / "elsewhere"
    wrong_root.mkdir()
    with pytest.raises(
        DatasetError, match=re.escape(NO_FILES.format(count=2, file=manifest, root=wrong_root))
    ):
        load_manifest_file(manifest, wrong_root)


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [("m.csv", "path,subject_id\n\u00e9.jpg,s\n".encode("latin-1"), "UTF-8 CSV"),
     ("m.parquet", b"not parquet", "Parquet")],
)  # fmt: skip
def test_unreadable_files_say_how_to_fix_them(tmp_path, root, name, data, kind):
    manifest = tmp_path / name
    manifest.write_bytes(data)
    with pytest.raises(DatasetError, match=re.escape(f"cannot be read as {kind} (")):
        load_manifest_file(manifest, root)


def test_repeated_explicit_image_id_is_reported(tmp_path, root):
    manifest = write_csv(tmp_path, "image_id,path,subject_id\nX,cam1/a.jpg,s1\nX,cam1/b.jpg,s2\n")
    expected = "row 2 (line 3 of the CSV): " + REPEATED.format(
        column="image_id", value="'X'", first=1
    )
    with pytest.raises(ManifestError, match=re.escape(expected)):
        load_manifest_file(manifest, root)


def _hostile_manifest(tmp_path):
    """Good rows 1, 3, 6; every other row has one problem a file system call would
    choke on, or a duplicate."""
    long_name = "x" * 300 + ".jpg"
    return write_csv(
        tmp_path,
        "path,subject_id,gender\n"
        "cam1/a.jpg,s1,f\n"  # row 1
        "cam1/n\0ul.jpg,s1,f\n"  # row 2: NUL in the path
        "cam1/b.jpg,s2,m\n"  # row 3
        f"cam1/{long_name},s2,m\n"  # row 4: name too long
        "cam1/c.png,s3,\x1b[31mred\n"  # row 5: escape sequence in a label
        "cam1/d.jpg,s3,m\n"  # row 6
        "cam1/d.jpg,s3,m\n",  # row 7: duplicate of row 6
    ), long_name


def test_hostile_values_are_row_problems_reported_together(tmp_path, root):
    manifest, long_name = _hostile_manifest(tmp_path)
    with pytest.raises(ManifestError, match=r"4 problem\(s\)") as caught:
        load_manifest_file(manifest, root)
    assert caught.value.problems == [
        "row 2 (line 3 of the CSV): path 'cam1/n\\x00ul.jpg' holds a control character (NUL); "
        "remove it from the manifest",
        "row 4 (line 5 of the CSV): " + NAME_TOO_LONG.format(
            value=shown(f"cam1/{long_name}"), size=304, limit=255),
        "row 5 (line 6 of the CSV): gender '\\x1b[31mred' holds a control character (U+001B); "
        "remove it from the manifest",
        "row 7 (line 8 of the CSV): " + REPEATED.format(column="path", value="'cam1/d.jpg'",
                                                        first=6),
    ]


def test_skip_bad_rows_keeps_the_good_ones_and_lists_the_rest(tmp_path, root):
    manifest, _ = _hostile_manifest(tmp_path)
    table, report = load_manifest_file(manifest, root, skip_bad_rows=True)
    assert table["path"].to_pylist() == ["cam1/a.jpg", "cam1/b.jpg", "cam1/d.jpg"]
    assert [line.split(":")[0] for line in report.skipped_rows] == [
        "row 2 (line 3 of the CSV)", "row 4 (line 5 of the CSV)", "row 5 (line 6 of the CSV)",
        "row 7 (line 8 of the CSV)"]
    assert report.counts()["skipped_rows"] == 4


def test_skip_bad_rows_with_no_good_row_stops(tmp_path, root):
    manifest = write_csv(tmp_path, "path,subject_id\n,s1\n../x.jpg,s2\n")
    with pytest.raises(DatasetError, match="all 2 row"):
        load_manifest_file(manifest, root, skip_bad_rows=True)


def test_long_values_are_shown_shortened_with_their_length(tmp_path, root):
    label = "\0" + "y" * 10_000
    manifest = write_csv(tmp_path, f"path,subject_id,gender\ncam1/a.jpg,s1,{label}\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest_file(manifest, root)
    (line,) = caught.value.problems
    assert "(10,001 characters)" in line and len(line) < 200


def test_labels_are_folded_and_unknowns_unified_on_the_record(tmp_path, root):
    manifest = write_csv(
        tmp_path,
        "path,subject_id,gender\ncam1/a.jpg,s1,Female\ncam1/b.jpg,s2,female  \n"
        "cam1/c.png,s3,UNKNOWN\ncam1/d.jpg,s4,n/a\n")
    table, report = load_manifest_file(manifest, root)
    assert table["gender"].to_pylist() == ["female", "female", "unknown", "unknown"]
    assert [(c.column, c.rule, c.n_values) for c in report.label_changes] == [
        ("gender", "folded", 1), ("gender", "unknown", 2)]
    kept, _ = load_manifest_file(manifest, root, fold_labels=False)
    assert kept["gender"].to_pylist() == ["Female", "female", "unknown", "unknown"]

"""Checks made before any embedding: grouping columns against the manifest, writable folders."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest

from audit.config import AuditSpec
from audit.runs.preflight import check_groupings, check_writable
from audit.runs.layout import RunError


def _manifest() -> pa.Table:
    return pa.table({name: ["x"] for name in
                     ("image_id", "path", "subject_id", "dataset", "gender", "age_band")})


def _spec(**groupings) -> AuditSpec:
    return AuditSpec(dataset={"name": "captures.csv"}, groupings=groupings)


def test_known_columns_and_measured_bands_pass():
    check_groupings(_spec(sensitive=["gender", "gender x age_band", "gender | yaw_band"],
                          conditions=["face_height_band"]), _manifest(), "captures")


def test_unknown_columns_are_named_with_what_exists():
    spec = _spec(sensitive=["ethnicity", "gender x ethnicity"], conditions=["lighting"])
    with pytest.raises(RunError) as caught:
        check_groupings(spec, _manifest(), "captures")
    message = str(caught.value)
    assert message.count("column 'ethnicity'") == 2 and "column 'lighting'" in message
    assert "its columns: subject_id, dataset, gender, age_band, face_height_band" in message


def test_pair_grouping_must_be_a_manifest_column():
    spec = AuditSpec(dataset={"name": "c.csv"}, matching={"pair_grouping": ["yaw_band"]})
    with pytest.raises(RunError, match=r"\[matching.pair_grouping\] 'yaw_band'"):
        check_groupings(spec, _manifest(), "captures")


def test_bad_grouping_syntax_is_named():
    with pytest.raises(RunError, match=r"\[groupings.sensitive\] 'gender x gender'"):
        check_groupings(_spec(sensitive=["gender x gender"]), _manifest(), "captures")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_read_only_folder_is_refused(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(RunError, match="cannot write to the runs folder"):
            check_writable(tmp_path / "runs", "runs", "--runs-dir")
    finally:
        tmp_path.chmod(0o700)


def test_a_file_where_a_folder_belongs_is_refused(tmp_path):
    (tmp_path / "runs").write_text("")
    with pytest.raises(RunError, match="cannot write to the runs folder .* choose another with "
                                       "--runs-dir"):
        check_writable(tmp_path / "runs", "runs", "--runs-dir")
    check_writable(tmp_path / "fresh" / "runs", "runs", "--runs-dir")
    assert list((tmp_path / "fresh" / "runs").iterdir()) == []

"""resolve_inside and list_files: hostile paths never leave the dataset root."""

from __future__ import annotations

import os
import re

import pytest

from audit.datasets.paths import (
    ABSOLUTE,
    CLIMBS_OUT,
    EMPTY,
    SYMLINK_OUTSIDE,
    SYMLINKED_FOLDER,
    UnsafePathError,
    list_files,
    normalise_relative,
    resolve_inside,
)


@pytest.fixture
def root(tmp_path):
    (tmp_path / "root" / "a").mkdir(parents=True)
    (tmp_path / "root" / "a" / "x.jpg").write_bytes(b"x")
    (tmp_path / "outside.jpg").write_bytes(b"o")
    return tmp_path / "root"


def test_plain_and_missing_paths_resolve_inside(root):
    assert resolve_inside(root, "a/x.jpg") == (root / "a" / "x.jpg").resolve()
    assert resolve_inside(root, "./a//x.jpg") == (root / "a" / "x.jpg").resolve()
    assert resolve_inside(root, "a/not-there.jpg").name == "not-there.jpg"


def test_unsafe_path_error_is_a_value_error():
    assert issubclass(UnsafePathError, ValueError)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../x.jpg", CLIMBS_OUT.split("{")[0]),
        ("a/../../x.jpg", CLIMBS_OUT.split("{")[0]),
        ("a/../a/x.jpg", CLIMBS_OUT.split("{")[0]),
        ("/etc/passwd", ABSOLUTE.split("{")[0]),
        ("", EMPTY),
        ("   ", EMPTY),
    ],
)
def test_hostile_paths_are_refused(root, path, message):
    with pytest.raises(UnsafePathError, match=re.escape(message)):
        resolve_inside(root, path)


def test_message_names_the_path_and_the_fix(root):
    with pytest.raises(UnsafePathError, match=r"'/etc/passwd' is absolute; write it relative"):
        resolve_inside(root, "/etc/passwd")


def test_symlink_escaping_root_is_refused(root):
    os.symlink(root.parent / "outside.jpg", root / "a" / "link.jpg")
    with pytest.raises(UnsafePathError, match=re.escape(SYMLINK_OUTSIDE.split("{")[0])):
        resolve_inside(root, "a/link.jpg")


def test_symlinked_folder_escaping_root_is_refused(root):
    os.symlink(root.parent, root / "up")
    with pytest.raises(UnsafePathError, match="outside the dataset root"):
        resolve_inside(root, "up/outside.jpg")


def test_symlink_inside_root_is_allowed(root):
    os.symlink(root / "a" / "x.jpg", root / "a" / "alias.jpg")
    assert resolve_inside(root, "a/alias.jpg") == (root / "a" / "x.jpg").resolve()


def test_normalise_relative_gives_posix_text():
    assert normalise_relative("./a//b.jpg") == "a/b.jpg"


def test_list_files_is_sorted_and_relative(root):
    (root / "a" / "b").mkdir()
    (root / "a" / "b" / "y.jpg").write_bytes(b"y")
    (root / "a" / "0.jpg").write_bytes(b"0")
    assert list_files(root, "a") == ["a/0.jpg", "a/b/y.jpg", "a/x.jpg"]


def test_list_files_keeps_inside_links_and_refuses_escapes(root):
    os.symlink(root / "a" / "x.jpg", root / "a" / "alias.jpg")
    os.symlink(root / "a" / "gone.jpg", root / "a" / "dangling.jpg")
    assert list_files(root, "a") == ["a/alias.jpg", "a/dangling.jpg", "a/x.jpg"]
    os.symlink(root.parent / "outside.jpg", root / "a" / "escape.jpg")
    with pytest.raises(UnsafePathError, match="outside the dataset root"):
        list_files(root, "a")


def test_list_files_refuses_symlinked_folders(root):
    os.symlink(root / "a", root / "a" / "loop")
    with pytest.raises(UnsafePathError, match=re.escape(SYMLINKED_FOLDER.format(path="a/loop"))):
        list_files(root, "a")

"""load_manifest: names and manifest files to (table, DatasetInfo); fingerprints."""

from __future__ import annotations

import json
import re

import pytest

from audit.datasets import DatasetError, DatasetInfo, fingerprint, load_manifest
from audit.datasets.registry import UNKNOWN_DATASET
from audit.schema import MANIFEST, check_table


def write_images(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"img-" + name.encode())


@pytest.fixture
def custom(tmp_path):
    root = tmp_path / "root"
    write_images(root, ["a/1.jpg", "a/2.jpg", "b/1.jpg"])
    manifest = tmp_path / "site.csv"
    manifest.write_text("path,subject_id,gender\na/1.jpg,s1,f\na/2.jpg,s1,f\nb/1.jpg,s2,m\n")
    return manifest, root


def test_custom_manifest(custom):
    manifest, root = custom
    table, info = load_manifest(manifest, root, label_provenance="self-reported")
    check_table(table, MANIFEST, "manifest")
    assert isinstance(info, DatasetInfo)
    assert (info.name, info.supports_mated, info.label_provenance) == (
        "site",
        True,
        "self-reported",
    )
    assert info.quirks == {"n_images": 3, "n_subjects": 2, "missing_files": 0,
                           "skipped_rows": 0, "labels_changed": 0}
    assert info.fingerprint.startswith("sha256:")
    json.dumps(info.as_dict())


def test_custom_manifest_without_pairs_of_images_cannot_be_mated(tmp_path):
    write_images(tmp_path / "r", ["x.jpg", "y.jpg"])
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,subject_id\nx.jpg,1\ny.jpg,2\n")
    _, info = load_manifest(manifest, tmp_path / "r")
    assert not info.supports_mated
    assert info.label_provenance == "unspecified"
    assert any("mated figures are impossible" in note for note in info.notes)


def test_a_symlink_loop_listed_in_a_manifest_is_loaded_for_the_pipeline_to_judge(tmp_path):
    import os

    write_images(tmp_path / "r", ["x.jpg", "y.jpg"])
    os.symlink("loop2.jpg", tmp_path / "r" / "loop1.jpg")
    os.symlink("loop1.jpg", tmp_path / "r" / "loop2.jpg")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,subject_id\nx.jpg,1\ny.jpg,1\nloop1.jpg,2\n")
    table, info = load_manifest(manifest, tmp_path / "r")
    assert table.column("path").to_pylist() == ["x.jpg", "y.jpg", "loop1.jpg"]
    assert info.quirks["missing_files"] == 1 and info.fingerprint.startswith("sha256:")


def test_unknown_name_lists_the_choices(tmp_path):
    with pytest.raises(
        DatasetError, match=re.escape(UNKNOWN_DATASET.format(name="lfw2", names="lfw, utkface"))
    ):
        load_manifest("lfw2", tmp_path)


def test_provenance_is_checked(custom):
    manifest, root = custom
    with pytest.raises(DatasetError, match="label provenance 'guessed' is not one of"):
        load_manifest(manifest, root, label_provenance="guessed")


def test_fingerprint_is_stable_and_sensitive(custom, tmp_path):
    manifest, root = custom
    _, first = load_manifest(manifest, root)
    _, again = load_manifest(manifest, root)
    assert first.fingerprint == again.fingerprint
    assert fingerprint(root, ["b/1.jpg", "a/1.jpg"]) == fingerprint(root, ["a/1.jpg", "b/1.jpg"])
    (root / "b" / "1.jpg").write_bytes(b"a longer image than before")
    _, resized = load_manifest(manifest, root)
    assert resized.fingerprint != first.fingerprint
    manifest.write_text(manifest.read_text().replace(",m\n", ",f\n"))
    _, relabelled = load_manifest(manifest, root)
    assert relabelled.fingerprint != resized.fingerprint


def test_fingerprint_ignores_where_the_copy_lives(tmp_path):
    for folder in ("one", "two"):
        write_images(tmp_path / folder, ["a/1.jpg"])
        (tmp_path / folder / "labels.txt").write_text("labels")
    one = fingerprint(tmp_path / "one", ["a/1.jpg"], ["labels.txt"])
    assert one == fingerprint(tmp_path / "two", ["a/1.jpg"], ["labels.txt"])
    (tmp_path / "two" / "labels.txt").write_text("other labels")
    assert one != fingerprint(tmp_path / "two", ["a/1.jpg"], ["labels.txt"])


def test_real_lfw_through_the_registry(lfw_root):
    table, info = load_manifest("lfw", lfw_root)
    assert table.num_rows == 13_233
    assert (info.name, info.supports_mated, info.label_provenance) == ("lfw", True, "perceived")
    assert info.quirks["conflicting"] == 5 and info.quirks["missing"] == 4
    assert any("Tatiana_Shchegoleva_0001" in note for note in info.notes)


def test_real_utkface_through_the_registry(utkface_root):
    table, info = load_manifest("utkface", utkface_root)
    assert table.num_rows == 2_000
    assert (info.supports_mated, info.label_provenance) == (False, "perceived")
    with pytest.raises(DatasetError, match="labels are perceived"):
        load_manifest("utkface", utkface_root, label_provenance="self-reported")


def test_select_subjects_keeps_whole_subjects_and_is_seeded():
    import pyarrow as pa

    from audit.datasets import select_subjects

    table = pa.table({"image_id": [f"i{k}" for k in range(7)],
                      "path": [f"p{k}.jpg" for k in range(7)],
                      "subject_id": ["a", "a", "b", "c", "c", "c", "d"],
                      "dataset": ["x"] * 7})
    picked = select_subjects(table, 2, seed=3, min_images=2)
    subjects = set(picked.column("subject_id").to_pylist())
    assert subjects <= {"a", "c"} and len(subjects) == 2
    assert picked.num_rows == 5  # every image of a drawn subject
    assert select_subjects(table, 2, seed=3).equals(select_subjects(table, 2, seed=3))
    assert select_subjects(table, 99).num_rows == 7

"""Labeled Faces in the Wild (deep-funneled), with AFIF4 perceived-gender labels.

Expected local layout (see ``datasets/lfw.md``)::

    <root>/images/<Person>/<Person>_NNNN.jpg
    <root>/pairs.txt                      View 2 protocol
    <root>/gender/male_names.txt          AFIF4 labels, one image file name a line
    <root>/gender/female_names.txt

The label files are real-world messy (CRLF endings, a blank line, names without
``.jpg``, images in both files, images in neither). The loader copes with all of
it and reports counts: an image listed in both files or in neither gets gender
``unknown``; nothing is guessed and no image is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.datasets.errors import DatasetError
from audit.datasets.paths import list_files, resolve_inside
from audit.datasets.table import build_manifest
from audit.schema import UNKNOWN

NAME = "lfw"
IMAGES_DIR = "images"
PAIRS_FILE = "pairs.txt"
MALE_FILE = "gender/male_names.txt"
FEMALE_FILE = "gender/female_names.txt"

NO_IMAGES = (
    "no LFW images under {folder}; expected images/<Person>/<Person>_NNNN.jpg: "
    "run `lfr-audit datasets fetch lfw` or point the data folder at a copy of lfw-deepfunneled"
)
NO_LABELS = (
    "LFW gender label file {path} is missing; place AFIF4's male_names.txt and "
    "female_names.txt in {folder} (see datasets/lfw.md)"
)
NO_PAIRS = "LFW protocol file {path} is missing; place the official View 2 pairs.txt there"
PAIRS_HEADER = (
    "pairs.txt line {line}: expected the View 2 header '<folds> <pairs per fold and kind>' "
    "such as '10 300', got {got!r}; use the official pairs.txt"
)
PAIRS_MATCHED = (
    "pairs.txt line {line}: fold {fold} expects a matched pair 'name i j' here, got {got!r}"
)
PAIRS_MISMATCHED = (
    "pairs.txt line {line}: fold {fold} expects a mismatched pair 'name1 i name2 j' here, "
    "got {got!r}"
)
PAIRS_NUMBER = "pairs.txt line {line}: image number {got!r} is not a positive integer"
PAIRS_NO_IMAGE = (
    "pairs.txt line {line}: image {image_id} is not under images/; is the copy complete?"
)
PAIRS_COUNT = (
    "pairs.txt has {got} pair lines but its header promises {want} "
    "({folds} folds x {per} matched + {per} mismatched); use the official, complete file"
)
PAIRS_SUMMARY = "{path}: {count} problem(s){shown}:"

MAX_PAIR_ERRORS = 20


@dataclass(frozen=True)
class LFWLabelQuirks:
    """What the gender label files say about this copy, for the report.

    The counts are properties over the sorted id tuples, so a report can give
    both the figure and the names behind it.
    """

    n_images: int
    n_subjects: int
    conflicting_ids: tuple[str, ...]  # images in both files: gender unknown
    missing_ids: tuple[str, ...]  # images in neither file: gender unknown
    unmatched_names: tuple[str, ...]  # label lines naming no image on disk
    duplicate_lines: int  # a name listed twice in the same file (harmless)
    blank_lines: int
    lines_without_extension: int  # e.g. "Allison_Searing_0001" (read as the .jpg)
    other_files: tuple[str, ...]  # files under images/ not shaped <Person>/<name>.jpg

    @property
    def conflicting(self) -> int:
        return len(self.conflicting_ids)

    @property
    def missing(self) -> int:
        return len(self.missing_ids)

    @property
    def unmatched(self) -> int:
        return len(self.unmatched_names)

    def counts(self) -> dict[str, int]:
        """All counts, by name, for the dataset section of a report."""
        return {
            "n_images": self.n_images,
            "n_subjects": self.n_subjects,
            "conflicting": self.conflicting,
            "missing": self.missing,
            "unmatched": self.unmatched,
            "duplicate_lines": self.duplicate_lines,
            "blank_lines": self.blank_lines,
            "lines_without_extension": self.lines_without_extension,
            "other_files": len(self.other_files),
        }


def load_lfw(root: str | Path) -> tuple[pa.Table, LFWLabelQuirks]:
    """Return the LFW manifest and the label quirks found in this copy.

    One row per image, sorted by path: ``image_id`` is the file stem
    (``Aaron_Peirsol_0001``), ``subject_id`` the person's folder name,
    ``gender`` one of ``male``, ``female``, ``unknown`` (perceived gender, as
    annotated by Afifi & Abdelhamed, 2017).
    """
    root = Path(root)
    images, other_files = _list_images(root)
    male = _read_label_file(root, MALE_FILE)
    female = _read_label_file(root, FEMALE_FILE)

    in_male = images["image_id"].isin(male.stems)
    in_female = images["image_id"].isin(female.stems)
    gender = np.select([in_male & ~in_female, in_female & ~in_male], ["male", "female"], UNKNOWN)

    on_disk = set(images["image_id"])
    quirks = LFWLabelQuirks(
        n_images=len(images),
        n_subjects=images["subject_id"].nunique(),
        conflicting_ids=tuple(images.loc[in_male & in_female, "image_id"]),
        missing_ids=tuple(images.loc[~in_male & ~in_female, "image_id"]),
        unmatched_names=tuple(sorted((set(male.stems) | set(female.stems)) - on_disk)),
        duplicate_lines=male.duplicates + female.duplicates,
        blank_lines=male.blanks + female.blanks,
        lines_without_extension=male.without_extension + female.without_extension,
        other_files=other_files,
    )
    table = build_manifest(
        NAME,
        {
            "image_id": images["image_id"],
            "path": images["path"],
            "subject_id": images["subject_id"],
            "gender": gender,
        },
    )
    return table, quirks


def read_view2_pairs(root: str | Path) -> pd.DataFrame:
    """Read LFW's View 2 protocol (``pairs.txt``) as one row per pair.

    Columns: ``fold`` (0-based), ``image_id_a``, ``image_id_b`` (file stems,
    image numbers 1-based as in the file) and ``mated`` (same person). The
    header ``<folds> <n>`` must be followed, for each fold, by ``n`` matched
    lines ``name i j`` then ``n`` mismatched lines ``name1 i name2 j``, and every
    image must exist under ``images/``. All lines are checked before raising;
    errors give 1-based line numbers of the file (blank lines are skipped but
    counted).
    """
    root = Path(root)
    path = resolve_inside(root, PAIRS_FILE)
    if not path.is_file():
        raise DatasetError(NO_PAIRS.format(path=path))
    lines = [
        (number, line.split())
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if line.strip()
    ]
    if not lines:
        raise DatasetError(PAIRS_HEADER.format(line=1, got=""))
    header_line, header = lines[0]
    if len(header) != 2 or not all(_positive(f) for f in header):
        raise DatasetError(PAIRS_HEADER.format(line=header_line, got=" ".join(header)))
    folds, per = int(header[0]), int(header[1])
    body = lines[1:]
    if len(body) != 2 * folds * per:
        raise DatasetError(
            PAIRS_COUNT.format(got=len(body), want=2 * folds * per, folds=folds, per=per)
        )

    on_disk = set(_list_images(root)[0]["image_id"])
    rows, errors = [], []
    for index, (number, fields) in enumerate(body):
        fold, mated = index // (2 * per), index % (2 * per) < per
        row, error = _parse_pair(number, fold, mated, fields)
        if error is None:
            missing = [i for i in row[1:3] if i not in on_disk]
            error = PAIRS_NO_IMAGE.format(line=number, image_id=missing[0]) if missing else None
        if error is None:
            rows.append(row)
        else:
            errors.append(error)
    if errors:
        shown = f", first {MAX_PAIR_ERRORS} shown" if len(errors) > MAX_PAIR_ERRORS else ""
        summary = PAIRS_SUMMARY.format(path=path, count=len(errors), shown=shown)
        raise DatasetError("\n".join([summary, *errors[:MAX_PAIR_ERRORS]]))
    pairs = pd.DataFrame(rows, columns=["fold", "image_id_a", "image_id_b", "mated"])
    return pairs.astype({"fold": "int64", "mated": "bool"})


def _parse_pair(
    number: int, fold: int, mated: bool, fields: list[str]
) -> tuple[tuple[int, str, str, bool] | None, str | None]:
    """Turn one pairs.txt line into (fold, id_a, id_b, mated), or an error line."""
    if mated and len(fields) != 3:
        return None, PAIRS_MATCHED.format(line=number, fold=fold, got=" ".join(fields))
    if not mated and len(fields) != 4:
        return None, PAIRS_MISMATCHED.format(line=number, fold=fold, got=" ".join(fields))
    name_a, i = fields[0], fields[1]
    name_b, j = (fields[0], fields[2]) if mated else (fields[2], fields[3])
    for image_number in (i, j):
        if not _positive(image_number):
            return None, PAIRS_NUMBER.format(line=number, got=image_number)
    return (fold, f"{name_a}_{int(i):04d}", f"{name_b}_{int(j):04d}", mated), None


def _positive(text: str) -> bool:
    return text.isdigit() and int(text) > 0


def _list_images(root: Path) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Images (columns image_id, path, subject_id), and the other files found.

    An image is any ``images/<Person>/<name>.jpg``; the person folder is the
    identity. Anything else under ``images/`` (stray files, deeper folders) is
    not an LFW image and is reported, not loaded.
    """
    folder = resolve_inside(root, IMAGES_DIR)
    if not folder.is_dir():
        raise DatasetError(NO_IMAGES.format(folder=folder))
    paths = pd.Series(list_files(root, IMAGES_DIR), dtype="str")
    parts = paths.str.split("/", regex=False)
    is_image = (parts.str.len() == 3) & paths.str.endswith(".jpg")
    if not is_image.any():
        raise DatasetError(NO_IMAGES.format(folder=folder))
    images = pd.DataFrame(
        {
            "image_id": parts[is_image].str[2].str.removesuffix(".jpg"),
            "path": paths[is_image],
            "subject_id": parts[is_image].str[1],
        }
    ).reset_index(drop=True)
    return images, tuple(paths[~is_image])


class _LabelFile(NamedTuple):
    stems: list[str]
    duplicates: int
    blanks: int
    without_extension: int


def _read_label_file(root: Path, relative: str) -> _LabelFile:
    """Image stems listed in one AFIF4 file, with counts of its oddities.

    ``splitlines`` handles the CRLF endings; a trailing ``.jpg`` is removed so
    that ``Allison_Searing_0001`` and ``Allison_Searing_0001.jpg`` name the
    same image.
    """
    path = resolve_inside(root, relative)
    if not path.is_file():
        raise DatasetError(NO_LABELS.format(path=path, folder=path.parent))
    lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    entries = [line for line in lines if line]
    stems = [e.removesuffix(".jpg") for e in entries]
    without_extension = sum(not e.endswith(".jpg") for e in entries)
    duplicates = len(stems) - len(set(stems))
    return _LabelFile(stems, duplicates, len(lines) - len(entries), without_extension)

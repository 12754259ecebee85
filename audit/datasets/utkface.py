"""UTKFace: labels read from file names, no identities.

Expected local layout (see ``datasets/utkface.md``): any folder tree under
``<root>/images/`` holding ``<age>_<gender>_<race>_<datetime>.jpg.chip.jpg``
files (the "Aligned & Cropped" release); the tree is searched recursively, so
the flat official folder and the balanced test subset both work.

UTKFace has no identity labels, so each image is taken as its own subject. It
therefore supports failure-to-acquire and non-mated figures (false matches,
false alerts) but not mated ones (misses); the registry records that with
``supports_mated=False``, and a report using it must say it assumed one person
per image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.datasets.errors import DatasetError
from audit.datasets.paths import list_files, resolve_inside
from audit.datasets.table import build_manifest
from audit.schema import UNKNOWN

NAME = "utkface"
IMAGES_DIR = "images"
SUFFIX = ".jpg.chip.jpg"

#: ``<age>_<gender>_<race>_<datetime>.jpg.chip.jpg``, as documented by the authors.
FILE_NAME = r"^(?P<age>\d{1,3})_(?P<gender>\d)_(?P<race>\d)_(?P<stamp>\d+)\.jpg\.chip\.jpg$"
GENDERS = {"0": "male", "1": "female"}
ETHNICITIES = {"0": "white", "1": "black", "2": "asian", "3": "indian", "4": "other"}
#: Oldest age (in whole years) and name of each band; the last band is open-ended.
AGE_BANDS = ((17, "0-17"), (29, "18-29"), (44, "30-44"), (59, "45-59"), (None, "60+"))

NO_IMAGES = (
    "no UTKFace images (*.jpg) under {folder}; put the aligned-and-cropped UTKFace files "
    "(<age>_<gender>_<race>_<datetime>.jpg.chip.jpg) there (see datasets/utkface.md)"
)


@dataclass(frozen=True)
class UTKFaceReport:
    """What loading found: images, and the file names that did not parse.

    A malformed name (a field missing, or a gender or race code outside the
    documented ones) keeps its image in the manifest with ``unknown`` for every
    label that could not be read; it is listed here so a report can say so.
    """

    n_images: int
    malformed_paths: tuple[str, ...]
    other_files: tuple[str, ...]  # non-.jpg files under images/, not loaded

    @property
    def malformed(self) -> int:
        return len(self.malformed_paths)

    def counts(self) -> dict[str, int]:
        """All counts, by name, for the dataset section of a report."""
        return {
            "n_images": self.n_images,
            "n_subjects": self.n_images,
            "malformed": self.malformed,
            "other_files": len(self.other_files),
        }


def load_utkface(root: str | Path) -> tuple[pa.Table, UTKFaceReport]:
    """Return the UTKFace manifest (sorted by path) and what loading found.

    Columns beyond the contract: ``gender`` (male, female), ``ethnicity``
    (white, black, asian, indian, other: the authors' "race" codes 0-4),
    ``age`` (years, as text) and ``age_band`` (0-17, 18-29, 30-44, 45-59, 60+);
    ``unknown`` where the file name does not say. ``image_id`` is the file name
    without ``.jpg.chip.jpg`` and ``subject_id`` equals it.
    """
    root = Path(root)
    folder = resolve_inside(root, IMAGES_DIR)
    if not folder.is_dir():
        raise DatasetError(NO_IMAGES.format(folder=folder))
    files = pd.Series(list_files(root, IMAGES_DIR), dtype="str")
    is_image = files.str.lower().str.endswith(".jpg")
    paths = files[is_image].reset_index(drop=True)
    if paths.empty:
        raise DatasetError(NO_IMAGES.format(folder=folder))

    names = paths.str.rsplit("/", n=1).str[-1]
    fields = names.str.extract(FILE_NAME)
    gender = fields["gender"].map(GENDERS)
    ethnicity = fields["race"].map(ETHNICITIES)
    malformed = fields["age"].isna() | gender.isna() | ethnicity.isna()
    age = pd.to_numeric(fields["age"])

    image_id = names.str.removesuffix(SUFFIX).where(names.str.endswith(SUFFIX), names.str[:-4])
    table = build_manifest(
        NAME,
        {
            "image_id": image_id,
            "path": paths,
            "subject_id": image_id,
            "gender": gender.fillna(UNKNOWN),
            "ethnicity": ethnicity.fillna(UNKNOWN),
            "age": fields["age"].fillna(UNKNOWN),
            "age_band": _age_band(age),
        },
    )
    report = UTKFaceReport(
        n_images=len(paths),
        malformed_paths=tuple(paths[malformed]),
        other_files=tuple(files[~is_image]),
    )
    return table, report


def _age_band(age: pd.Series) -> pd.Series:
    """Band name for each age in years; ``unknown`` where the age is missing."""
    edges = [-np.inf] + [upper + 0.5 for upper, _ in AGE_BANDS[:-1]] + [np.inf]
    bands = pd.cut(age, bins=edges, labels=[label for _, label in AGE_BANDS])
    return bands.astype("str").where(age.notna(), UNKNOWN)

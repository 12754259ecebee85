"""Build the manifest table that every adapter returns.

Adapters hand over plain columns of strings; this module fixes the Arrow
types (``pa.string()``, not the ``large_string`` that ``from_pandas`` would
give for pandas' string dtype), puts the contract columns first, and checks the
one invariant no adapter may break: ``image_id`` is unique.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.datasets.errors import DatasetError
from audit.schema import MANIFEST, check_table

DUPLICATE_IMAGE_IDS = (
    "{dataset}: {count} image_id value(s) occur more than once (e.g. {examples}); "
    "each image needs a unique id: remove duplicate copies of the image files"
)


def build_manifest(dataset: str, columns: Mapping[str, Sequence[str] | pd.Series]) -> pa.Table:
    """Return a manifest table from ``columns``, with ``dataset`` filled in.

    ``dataset`` names every row, unless ``columns`` has its own ``dataset``
    column (a custom manifest may combine several collections).

    ``columns`` holds ``image_id``, ``path``, ``subject_id`` and any label
    columns, all of strings with no missing values (adapters write
    ``"unknown"`` themselves, since only they know why a value is missing).
    Label columns keep the order they have in ``columns``.
    """
    ids = pd.Series(columns["image_id"], dtype="str")
    repeated = ids[ids.duplicated()].unique()
    if len(repeated):
        raise DatasetError(
            DUPLICATE_IMAGE_IDS.format(
                dataset=dataset, count=len(repeated), examples=", ".join(sorted(repeated)[:3])
            )
        )
    data = {name: columns[name] for name in columns}
    data.setdefault("dataset", [dataset] * len(ids))
    names = MANIFEST.names + [n for n in data if n not in MANIFEST.names]
    fields = [pa.field(n, pa.string(), nullable=False) for n in names]
    arrays = [pa.array(list(data[n]), type=pa.string()) for n in names]
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    return check_table(table, MANIFEST, "manifest")


def select_subjects(manifest: pa.Table, n: int, *, seed: int = 0, min_images: int = 1) -> pa.Table:
    """Rows of ``n`` subjects drawn at random (seeded) among those with ``min_images``+ images.

    For quick audits on a subset: drawing subjects, not images, keeps every
    image of a drawn person, so mated pairs stay possible; a seeded draw keeps
    the subset identical from run to run. ``min_images=2`` restricts the draw to
    people with mated pairs, which changes the population: reports say so.
    """
    subjects = manifest.column("subject_id").to_pandas()
    counts = subjects.value_counts()
    eligible = sorted(counts[counts >= min_images].index)
    if n >= len(eligible):
        chosen = set(eligible)
    else:
        rng = np.random.default_rng(seed)
        chosen = {eligible[i] for i in rng.choice(len(eligible), size=n, replace=False)}
    return manifest.filter(pa.array(subjects.isin(chosen).to_numpy()))

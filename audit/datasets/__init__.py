"""Dataset stage: local copies of face datasets -> the manifest table.

``load_manifest("lfw" | "utkface" | "<manifest>.csv|.parquet", root)`` returns
the manifest (``audit.schema.MANIFEST`` plus string label columns) and a
:class:`DatasetInfo`. Adapters read only local files; downloading is the
separate, explicit :func:`audit.datasets.fetch.fetch_lfw`.
"""

from audit.datasets.errors import DatasetError, FetchError, ManifestError
from audit.datasets.paths import UnsafePathError, resolve_inside
from audit.datasets.lfw import read_view2_pairs
from audit.datasets.registry import (
    DATASETS,
    SKIPPED_ROWS_FILE,
    DatasetInfo,
    ManifestRows,
    fingerprint,
    load_manifest,
)
from audit.datasets.table import select_subjects

__all__ = [
    "DATASETS",
    "DatasetError",
    "DatasetInfo",
    "FetchError",
    "ManifestError",
    "ManifestRows",
    "SKIPPED_ROWS_FILE",
    "UnsafePathError",
    "fingerprint",
    "load_manifest",
    "read_view2_pairs",
    "resolve_inside",
    "select_subjects",
]

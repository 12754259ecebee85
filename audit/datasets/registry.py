"""One entry point from a dataset name (or manifest file) to a manifest table.

``load_manifest`` returns the table and a :class:`DatasetInfo` that carries what
a report and a run's provenance need to say about the data: whether mated
figures are possible, whether labels are perceived or self-reported, the label
quirks found, and a fingerprint of the copy that was read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from audit.datasets import lfw, manifest_file, utkface
from audit.datasets.errors import DatasetError
from audit.datasets.paths import normalise_relative, resolve_inside

PROVENANCES = ("perceived", "self-reported", "unspecified")
#: The run folder's file listing manifest rows left out (one problem line each).
SKIPPED_ROWS_FILE = "skipped_rows.json"


@dataclass(frozen=True)
class ManifestRows:
    """How an evaluator's manifest rows are checked and its labels normalised
    (:func:`~audit.datasets.manifest_file.load_manifest_file`)."""

    skip_bad_rows: bool = False
    check_extensions: bool = True
    fold_labels: bool = True

UNKNOWN_DATASET = (
    "unknown dataset {name!r}: use one of {names}, or the path of a .csv or .parquet manifest"
)
UNKNOWN_PROVENANCE = "label provenance {value!r} is not one of {allowed}"
PROVENANCE_FIXED = "{name} labels are {fixed}; label_provenance applies only to custom manifests"


@dataclass(frozen=True)
class DatasetInfo:
    """What the report and the run record say about the data behind a manifest.

    ``supports_mated`` is False when the data has no identities (UTKFace) or no
    subject with two images: only failure-to-acquire and non-mated rates
    (false matches, false alerts) can then be computed. ``label_provenance``
    says whether demographic labels were assigned by annotators
    (``perceived``) or given by the people themselves (``self-reported``).
    """

    name: str
    root: Path
    supports_mated: bool
    label_provenance: str
    fingerprint: str
    quirks: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    skipped_rows: tuple[str, ...] = ()  # manifest rows left out, one problem line each

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready values, for the run's provenance file."""
        return {
            "name": self.name,
            "root": str(self.root),
            "supports_mated": self.supports_mated,
            "label_provenance": self.label_provenance,
            "fingerprint": self.fingerprint,
            "quirks": dict(self.quirks),
            "notes": list(self.notes),
        }


def _load_lfw(root: Path) -> tuple[pa.Table, DatasetInfo]:
    table, quirks = lfw.load_lfw(root)
    notes = []
    if quirks.conflicting:
        notes.append(
            f"{quirks.conflicting} image(s) listed as both male and female; gender set to "
            "unknown: " + _names(quirks.conflicting_ids)
        )
    if quirks.missing:
        notes.append(
            f"{quirks.missing} image(s) with no gender label; gender set to unknown: "
            + _names(quirks.missing_ids)
        )
    if quirks.unmatched:
        notes.append(
            f"{quirks.unmatched} gender label line(s) name no image in this copy: "
            + _names(quirks.unmatched_names)
        )
    if quirks.other_files:
        notes.append(
            f"{len(quirks.other_files)} file(s) under images/ are not LFW images and were not "
            "loaded: " + _names(quirks.other_files)
        )
    info = _info(
        lfw.NAME,
        root,
        table,
        supports_mated=True,
        label_provenance="perceived",
        metadata=(lfw.PAIRS_FILE, lfw.MALE_FILE, lfw.FEMALE_FILE),
        quirks=quirks.counts(),
        notes=notes,
    )
    return table, info


def _load_utkface(root: Path) -> tuple[pa.Table, DatasetInfo]:
    table, report = utkface.load_utkface(root)
    notes = ["no identity labels: each image is assumed to be a distinct person"]
    if report.malformed:
        notes.append(
            f"{report.malformed} file name(s) do not follow <age>_<gender>_<race>_<datetime>; "
            "labels that could not be read are unknown: " + _names(report.malformed_paths)
        )
    info = _info(
        utkface.NAME,
        root,
        table,
        supports_mated=False,
        label_provenance="perceived",
        metadata=(),
        quirks=report.counts(),
        notes=notes,
    )
    return table, info


#: Built-in datasets, by the name a user types.
DATASETS: dict[str, Callable[[Path], tuple[pa.Table, DatasetInfo]]] = {
    lfw.NAME: _load_lfw,
    utkface.NAME: _load_utkface,
}


def load_manifest(
    name_or_path: str | Path,
    root: str | Path,
    *,
    label_provenance: str | None = None,
    rows: ManifestRows | None = None,
) -> tuple[pa.Table, DatasetInfo]:
    """Return the manifest table and :class:`DatasetInfo` for a dataset.

    ``name_or_path`` is a built-in dataset name (``lfw``, ``utkface``), whose
    local copy is at ``root``, or the path of an evaluator's CSV/Parquet
    manifest, whose image paths are relative to ``root``. For a custom
    manifest, ``label_provenance`` says how its labels were obtained
    (default ``unspecified``) and ``rows`` how its rows are checked and its
    labels normalised; built-in datasets fix both themselves.
    """
    root = Path(root)
    if label_provenance is not None and label_provenance not in PROVENANCES:
        raise DatasetError(UNKNOWN_PROVENANCE.format(value=label_provenance, allowed=PROVENANCES))
    if str(name_or_path) in DATASETS:
        table, info = DATASETS[str(name_or_path)](root)
        if label_provenance not in (None, info.label_provenance):
            raise DatasetError(PROVENANCE_FIXED.format(name=info.name, fixed=info.label_provenance))
        return table, info
    path = Path(name_or_path)
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise DatasetError(
            UNKNOWN_DATASET.format(name=str(name_or_path), names=", ".join(DATASETS))
        )
    rows = rows or ManifestRows()
    table, report = manifest_file.load_manifest_file(
        path, root, check_extensions=rows.check_extensions, skip_bad_rows=rows.skip_bad_rows,
        fold_labels=rows.fold_labels)
    subjects = table.column("subject_id").to_pandas()
    supports_mated = bool(subjects.duplicated().any())
    notes = [] if supports_mated else ["no subject has two images: mated figures are impossible"]
    if report.skipped_rows:
        notes.append(f"{len(report.skipped_rows)} manifest row(s) with problems were left out "
                     f"(skip_bad_rows), listed in {SKIPPED_ROWS_FILE}")
    notes += [change.note() for change in report.label_changes]
    if report.missing_paths:
        notes.append(
            f"{len(report.missing_paths)} listed file(s) do not exist under the root "
            "(reported as missing by the pipeline): " + _names(report.missing_paths)
        )
    info = _info(
        path.stem,
        root,
        table,
        supports_mated=supports_mated,
        label_provenance=label_provenance or "unspecified",
        metadata=(),
        quirks=report.counts(),
        notes=notes,
        extra_files=(path,),
        skipped_rows=report.skipped_rows,
    )
    return table, info


def fingerprint(root: str | Path, paths: Iterable[str], metadata: Iterable[str | Path] = ()) -> str:
    """A stable id of a dataset copy: SHA-256 over sorted (path, size) of images,
    plus the full content of the small label and protocol files.

    Images are identified by path and size, not content: reading every image
    just to name the copy (about 100 MB for LFW, far more for an evaluator's
    captures) would make every load slow, and the pipeline already hashes the
    content of each image it embeds (``faces.content_hash``). A re-encoded
    image of the same size would go unnoticed here but not there. An image
    that cannot be stat'ed (missing, a symlink loop) counts with size -1. ``paths`` come from a manifest whose adapter has
    already checked them against symlink escapes, so only their text is checked
    here (resolving 13k paths again would cost half a second a load).
    ``metadata`` paths are relative to ``root`` or absolute (a custom manifest
    may live elsewhere); only their file name enters the hash, so the same copy
    in another folder keeps its fingerprint.
    """
    root = Path(root)
    digest = hashlib.sha256(b"lfr-audit dataset fingerprint v1\n")
    for path in sorted(paths):
        try:
            size = (root / normalise_relative(path)).stat().st_size
        except OSError:  # missing, a symlink loop, a name too long: the pipeline's row says
            size = -1
        digest.update(json.dumps([path, size]).encode() + b"\n")
    for item in metadata:
        full = Path(item) if Path(item).is_absolute() else resolve_inside(root, item)
        content = ""
        if full.is_file():
            with full.open("rb") as handle:
                content = hashlib.file_digest(handle, "sha256").hexdigest()
        digest.update(json.dumps([Path(item).name, content]).encode() + b"\n")
    return "sha256:" + digest.hexdigest()


def _info(
    name: str,
    root: Path,
    table: pa.Table,
    *,
    supports_mated: bool,
    label_provenance: str,
    metadata: tuple[str, ...],
    quirks: Mapping[str, int],
    notes: list[str],
    extra_files: tuple[Path, ...] = (),
    skipped_rows: tuple[str, ...] = (),
) -> DatasetInfo:
    paths = table.column("path").to_pylist()
    return DatasetInfo(
        name=name,
        root=Path(os.path.realpath(root)),
        supports_mated=supports_mated,
        label_provenance=label_provenance,
        fingerprint=fingerprint(root, paths, (*metadata, *(p.resolve() for p in extra_files))),
        quirks=dict(quirks),
        notes=tuple(notes),
        skipped_rows=skipped_rows,
    )


def _names(values: tuple[str, ...], limit: int = 10) -> str:
    """First ``limit`` names, and how many more, for a one-line note."""
    shown = ", ".join(values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")

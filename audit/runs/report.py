"""Reports from run folders: what ``lfr-audit run`` and ``lfr-audit compare`` call.

A run folder (:mod:`audit.runs`) holds ``metrics.parquet``,
``provenance.json`` (run id, date, spec, dataset record, thresholds and how
they were chosen, versions, weight hashes, seed, timings), ``policy.json``
and ``manifest.parquet``. :func:`run_info_from_folder` turns them into a
:class:`~audit.report.inputs.RunInfo`; :func:`render_run` writes
``report.html`` / ``report.pdf`` into the folder; :func:`render_changes`
writes ``changes.html`` / ``changes.pdf`` from :func:`audit.runs.compare.compare_runs`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from audit.report.changes import build_changes
from audit.runs.layout import MANIFEST_FILE, METRICS_FILE
from audit.runs.provenance import Provenance, ThresholdOrigin
from audit.choices import DEEPFACE_DEFAULT
from audit.report.labels import with_short_labels
from audit.report.inputs import (
    FROM_SPEC,
    PERCEIVED,
    SELF_REPORTED,
    UNKNOWN_SOURCE,
    DatasetInfo,
    FaceImage,
    GroupCount,
    RunInfo,
    ThresholdInfo,
    run_info_from_spec,
)

if TYPE_CHECKING:
    from audit.report.comparison import Comparison

NOT_A_RUN = "{folder} is not a finished lfr-audit run folder (no {name})"
#: Example face images shown when explicitly asked for: at most this many.
MAX_FACES = 6


def _read_json(folder: Path, name: str, *, required: bool = False) -> dict:
    path = folder / name
    if not path.is_file():
        if required:
            raise FileNotFoundError(NOT_A_RUN.format(folder=folder, name=name))
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _thresholds(recorded: Mapping[float, ThresholdOrigin]) -> tuple[ThresholdInfo, ...]:
    """The recorded fixed thresholds, as the report describes them."""
    out = []
    for value, origin in recorded.items():
        if origin.deployed:
            out.append(ThresholdInfo(value, "deployment", FROM_SPEC, origin.how))
        else:  # deepface's default: audited for reference, not deployed
            out.append(ThresholdInfo(value, DEEPFACE_DEFAULT, DEEPFACE_DEFAULT, origin.how))
    return tuple(out)


def _label_source(value: str | None) -> str:
    return value if value in (PERCEIVED, SELF_REPORTED) else UNKNOWN_SOURCE


def _composition(manifest, groupings: Iterable[str]) -> tuple[GroupCount, ...]:
    """Subjects and images per group of each demographic grouping found in the manifest."""
    from audit.metrics.trials import Grouping

    frame = manifest.to_pandas()
    out = []
    for name in groupings:
        grouping = Grouping.parse(name)
        columns = list(grouping.columns)
        if grouping.control or not grouping.sensitive or not all(c in frame.columns for c in columns):
            continue
        grouped = frame.groupby(columns, sort=True, dropna=False)
        images = grouped.size()
        subjects = grouped["subject_id"].nunique()
        for key in images.index:
            values = key if isinstance(key, tuple) else (key,)
            label = grouping.label(tuple(str(v) for v in values))
            out.append(GroupCount(name, label, int(subjects[key]), int(images[key])))
    return tuple(out)


def _label_values(manifest, groupings: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each label column the groupings read from the manifest -> its values."""
    from audit.metrics.trials import Grouping
    from audit.runs.log_record import label_values

    read: set[str] = set()
    for name in groupings:
        grouping = Grouping.parse(name)
        read.update(grouping.sensitive + grouping.control)
    columns = [c for c in manifest.column_names if c in read]
    return {c: tuple(v) for c, v in label_values(manifest.select(columns).to_pandas()).items()}


def _faces(manifest, root: Path, grouping: str | None) -> tuple[FaceImage, ...]:
    """One example image per group (first image id), inside the dataset root only."""
    frame = manifest.to_pandas().sort_values("image_id", kind="stable")
    column = grouping if grouping in frame.columns else None
    picked = frame.groupby(column, sort=True).head(1) if column else frame.head(1)
    base = root.resolve()
    out = []
    for row in picked.head(MAX_FACES).to_dict(orient="records"):
        path = (base / str(row["path"])).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            continue
        label = str(row[column]) if column else ""
        out.append(FaceImage(path, caption=label, alt=label))
    return tuple(out)


def run_info_from_folder(folder: Path, *, include_faces: bool = False) -> RunInfo:
    """Describe a finished run folder for its report.

    Reads ``provenance.json`` (required), ``policy.json`` and
    ``manifest.parquet`` (optional: the composition by group, and example
    images when ``include_faces``).
    """
    folder = Path(folder)
    provenance = Provenance.from_json(_read_json(folder, "provenance.json", required=True),
                                      run_id=folder.name)
    spec, dataset = provenance.spec, provenance.dataset
    manifest_path = folder / MANIFEST_FILE
    manifest = pq.read_table(manifest_path) if manifest_path.is_file() else None
    groupings = tuple(spec.get("groupings", {}).get("sensitive", ()))
    info = DatasetInfo(
        name=str(dataset.get("name", spec.get("dataset", {}).get("name", ""))),
        label_source=_label_source(dataset.get("label_provenance")),
        subjects=len(manifest.column("subject_id").unique()) if manifest is not None else None,
        images=manifest.num_rows if manifest is not None else provenance.n_images,
        composition=_composition(manifest, groupings) if manifest is not None else (),
        notes=tuple(str(n) for n in dataset.get("notes", ())),
        description=str(dataset.get("description", "")),
        label_origin=str(dataset.get("label_origin", "")),
        citation=str(dataset.get("citation", "")),
        licence=str(dataset.get("licence", "")),
        fingerprint=str(dataset.get("fingerprint", "")),
        quirks={str(k): int(v) for k, v in dataset.get("quirks", {}).items()},
    )
    # The dataset record is shown in the data section; its root (a local path) nowhere.
    kept = {k: v for k, v in provenance.to_json().items() if k != "spec"}
    kept["dataset"] = {k: v for k, v in dataset.items()
                       if k not in ("root", "description", "citation", "licence", "label_origin")}
    run = run_info_from_spec(
        spec,
        run_id=provenance.run_id,
        date=provenance.created_utc,
        provenance=kept,
        datasets=(info,),
    )
    system = run.system
    if provenance.thresholds:
        system = replace(system, thresholds=_thresholds(provenance.thresholds))
    faces = ()
    if include_faces and manifest is not None and dataset.get("root"):
        faces = _faces(manifest, Path(dataset["root"]), groupings[0] if groupings else None)
    return replace(
        run,
        system=system,
        policy=_read_json(folder, "policy.json"),
        face_images=faces,
        label_values=_label_values(manifest, groupings) if manifest is not None else {},
    )


def render_run(
    folder: Path,
    *,
    formats: Iterable[str] = ("html", "pdf"),
    include_faces: bool = False,
    previous: Path | None = None,
) -> dict[str, Path]:
    """Write the report of a run folder into it (``report.html`` / ``report.pdf``).

    ``previous``: an earlier run folder; the report gains a "changes since"
    subsection built by :func:`audit.runs.compare.compare_runs`. ``include_faces``
    is the explicit option without which no face image is embedded.
    """
    from audit.report.context import build_context
    from audit.report.coverage import measured_coverage
    from audit.report.render import write_report

    folder = Path(folder)
    metrics_path = folder / METRICS_FILE
    if not metrics_path.is_file():
        raise FileNotFoundError(NOT_A_RUN.format(folder=folder, name=METRICS_FILE))
    run = run_info_from_folder(folder, include_faces=include_faces)
    metrics, run = with_short_labels(pq.read_table(metrics_path), run)
    changes = None
    if previous is not None:
        from audit.runs.compare import compare_runs

        changes = build_changes(compare_runs(Path(previous), folder))
    context = build_context(metrics, run, include_faces=include_faces,
                            changes=changes, coverage=measured_coverage())
    return write_report(context, folder, formats)


def render_changes(
    comparison: Comparison, folder: Path, formats: Iterable[str] = ("html", "pdf")
) -> dict[str, Path]:
    """Write ``changes.html`` / ``changes.pdf`` for :func:`audit.runs.compare.compare_runs`."""
    from audit.report.render import write_changes

    return write_changes(build_changes(comparison), Path(folder), formats)

"""Faces of ``face_selection = "all"`` as probes: every face a trial, labels only where they hold.

With ``all`` the faces table has one row per detected face (crowd frames), but
a manifest row labels one person: its ``subject_id`` and group labels say who
the image's subject is, not which of its faces that is. So:

- an image with **one** face (or none: a failure to acquire) is one probe, the
  image's subject, exactly as with ``centre`` or ``largest``;
- each face of an image with **several** faces is a probe of its own, marked
  :data:`MAYBE` in the :data:`SUBJECT_FACE` column: it may or may not be the
  labelled subject. Such a face is compared only where the answer does not
  depend on which face the subject is: against other subjects' images and
  watchlist entries, as a non-mated probe (false matches, false alerts: every
  face in the frame is someone who should not be alerted to another person).
  It is never in a mated comparison (a bystander would be a false miss), never
  compared with its own subject's images or entry (the subject's face would be
  a false match: the trial's truth is unknown), and never enrolled. Its group
  labels are ``unknown``: the labels describe the subject, not the bystanders.

The consequence to state in a report: miss rates (FNMR, FNIR) come from
single-face images only, and the faces of multi-face images add non-mated
trials counted in the ``unknown`` group. Two people labelled in the manifest
who appear in each other's images (a labelled person as another image's
bystander) would be counted as non-mated; the labels cannot tell.

Probe ids: a single-face image keeps its ``image_id``; the faces of a
multi-face image get ``<image_id>#<face_index>``, with the image's id and the
face index kept in their own columns (:data:`SOURCE_IMAGE`, ``face_index``)
so that nothing parses the id.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.schema import FACES, MANIFEST, UNKNOWN, coerce_table

#: Manifest column of a probe manifest: ``yes`` for the image's subject, :data:`MAYBE` otherwise.
SUBJECT_FACE = "subject_face"
YES, MAYBE = "yes", "maybe"
#: Manifest column of a probe manifest: the manifest image the probe's face is in.
SOURCE_IMAGE = "source_image_id"


def face_probes(faces: pa.Table, manifest: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The (faces, manifest) pair of probes: one row each per probe, ids matching.

    ``faces`` may hold several rows per image (face selection ``all``); a faces
    table with one row per image comes back unchanged, with its manifest, so
    this can be applied to any faces table (a run folder's, for instance).
    Rows keep the manifest's order, a multi-face image's faces in the faces
    table's order.
    """
    faces = coerce_table(faces, FACES, "faces")
    manifest = coerce_table(manifest, MANIFEST, "manifest")
    face_image = faces.column("image_id").to_pylist()
    face_index = faces.column("face_index").to_pylist()
    rows_of: dict[str, list[int]] = {}
    for row, image_id in enumerate(face_image):
        rows_of.setdefault(image_id, []).append(row)
    if len(rows_of) == len(face_image):
        return faces, manifest

    probe_id = list(face_image)
    entries: list[tuple[int, str, str]] = []  # (manifest row, probe id, mark)
    for row, image_id in enumerate(manifest.column("image_id").to_pylist()):
        own = rows_of.get(image_id, [])
        if len(own) <= 1:
            entries.append((row, image_id, YES))
            continue
        for face_row in own:
            probe_id[face_row] = f"{image_id}#{face_index[face_row]}"
            entries.append((row, probe_id[face_row], MAYBE))
    take, ids, marks = (list(column) for column in zip(*entries, strict=True)) if entries \
        else ([], [], [])

    probes = manifest.take(pa.array(take, pa.int64()))
    probes = _relabel(probes, np.asarray(marks, dtype=object) == MAYBE)
    probes = probes.append_column(SOURCE_IMAGE, probes.column("image_id"))
    probes = probes.set_column(probes.column_names.index("image_id"), "image_id",
                               pa.array(ids, pa.string()))
    probes = probes.append_column(SUBJECT_FACE, pa.array(marks, pa.string()))
    column = FACES.get_field_index("image_id")
    faces = faces.set_column(column, FACES.field("image_id"), pa.array(probe_id, pa.string()))
    return faces, probes


def _relabel(probes: pa.Table, maybe: np.ndarray) -> pa.Table:
    """Group labels ``unknown`` on the ``maybe`` rows (faces of multi-face images)."""
    keep = set(MANIFEST.names)
    maybe = pa.array(maybe, pa.bool_())
    for position, name in enumerate(probes.column_names):
        if name in keep:
            continue
        replaced = pc.if_else(maybe, pa.scalar(UNKNOWN, pa.string()),
                              probes.column(name).cast(pa.string()))
        probes = probes.set_column(position, name, replaced)
    return probes


def is_subject_face(manifest: pa.Table) -> np.ndarray:
    """Per manifest row: whether it is surely the labelled subject (no :data:`SUBJECT_FACE`
    column: every row is)."""
    if SUBJECT_FACE not in manifest.column_names:
        return np.ones(manifest.num_rows, dtype=bool)
    return np.asarray(manifest.column(SUBJECT_FACE).to_pylist(), dtype=object) != MAYBE

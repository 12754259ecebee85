"""The audited images as arrays: identities, acquisition status and embeddings.

The matching stage reads the manifest (who is in each image) and the faces
table (what the pipeline made of it) once, checks them, and hands the trial
builders plain numpy arrays. Images are held sorted by (subject_id, image_id)
so that pairs and watchlists drawn with a seed do not depend on the order of
the input rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.matching.face_probes import is_subject_face
from audit.schema import FACE_STATUSES, FACES, MANIFEST, coerce_table

_MAX_NAMED = 5


@dataclass(frozen=True)
class Images:
    """Images of one audit, in (subject_id, image_id) order.

    ``ok`` marks images with a usable face (faces status ``ok``); the others
    failed to acquire (FTA) and their ``embedding`` row is zero and never read.
    ``subject_face`` is False for the faces of a multi-face image under face
    selection ``all`` (:mod:`audit.matching.face_probes`): perhaps not the
    labelled subject, so never mated, compared with their own subject, nor enrolled.
    """

    image_id: np.ndarray  # object array of str
    subject_id: np.ndarray  # object array of str
    ok: np.ndarray  # bool
    embedding: np.ndarray  # float32, shape (n_images, d)
    subject_face: np.ndarray  # bool

    def positions(self, image_ids: np.ndarray | pd.Series) -> np.ndarray:
        """Row of each image id; raises ValueError naming ids not in the manifest."""
        found = pd.Index(self.image_id).get_indexer(np.asarray(image_ids, dtype=object))
        if np.any(found < 0):
            missing = pd.unique(np.asarray(image_ids, dtype=object)[found < 0])
            raise ValueError(
                f"{len(missing)} image ids are not in the manifest, e.g. {_some(missing)}"
            )
        return found


def load_images(faces: pa.Table | pd.DataFrame, manifest: pa.Table | pd.DataFrame) -> Images:
    """Join the manifest with the faces table of one pipeline configuration.

    Every manifest image needs a faces row (a status, even if not ``ok``);
    faces rows of images outside the manifest are ignored, so a manifest
    subset audits a subset. Raises ValueError, naming image ids, for a faces
    table holding several pipeline configurations (comparisons never mix
    them), duplicate ids, unknown statuses, or an ``ok`` row whose embedding
    is missing, of another length, not finite, or zero.
    """
    manifest = coerce_table(manifest, MANIFEST, "manifest")
    faces = coerce_table(faces, FACES, "faces")
    image_id = np.asarray(manifest.column("image_id").to_pylist(), dtype=object)
    subject_id = np.asarray(manifest.column("subject_id").to_pylist(), dtype=object)
    _check_unique(image_id, "manifest")

    configs = pc.unique(faces.column("config_key")).to_pylist()
    if len(configs) > 1:
        raise ValueError(
            f"faces table holds {len(configs)} pipeline configurations ({_some(configs)}); "
            "filter it on config_key: match one configuration at a time"
        )
    in_manifest = pc.is_in(faces.column("image_id"), value_set=pa.array(image_id, pa.string()))
    faces = faces.filter(in_manifest)
    face_ids = np.asarray(faces.column("image_id").to_pylist(), dtype=object)
    _check_unique(face_ids, "faces")
    row = pd.Index(face_ids).get_indexer(image_id)
    if np.any(row < 0):
        raise ValueError(
            f"faces table has no row for {int(np.sum(row < 0))} manifest images, "
            f"e.g. {_some(image_id[row < 0])}: run the pipeline on them first"
        )

    status = np.asarray(faces.column("status").to_pylist(), dtype=object)[row]
    unknown = sorted(set(status) - set(FACE_STATUSES))
    if unknown:
        raise ValueError(f"unknown faces status {_some(unknown)}; expected one of {FACE_STATUSES}")
    ok = status == "ok"
    embedding = _ok_embeddings(faces.column("embedding").take(pa.array(row[ok])), image_id[ok])
    full = np.zeros((len(image_id), embedding.shape[1]), dtype=np.float32)
    full[ok] = embedding

    order = np.lexsort((image_id.astype(str), subject_id.astype(str)))
    subject_face = is_subject_face(manifest)
    return Images(image_id[order], subject_id[order], ok[order], full[order],
                  subject_face[order])


def _ok_embeddings(column: pa.ChunkedArray, image_id: np.ndarray) -> np.ndarray:
    """Embeddings of the ``ok`` images as one float32 matrix, checked."""
    column = column.combine_chunks()
    if len(column) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    missing = column.is_null().to_numpy(zero_copy_only=False)
    if np.any(missing):
        raise ValueError(f"status ok but no embedding for images {_some(image_id[missing])}")
    lengths = pc.list_value_length(column).to_numpy()
    if np.any(lengths != lengths[0]) or lengths[0] == 0:
        usual = np.bincount(lengths).argmax()
        odd = lengths != usual if usual else lengths == 0
        raise ValueError(
            "embeddings must share one non-zero length; lengths "
            f"{_some(sorted(set(lengths.tolist())))}, e.g. images {_some(image_id[odd])}"
        )
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    matrix = values.reshape(len(column), int(lengths[0]))
    bad = ~np.all(np.isfinite(matrix), axis=1) | ~np.any(matrix != 0, axis=1)
    if np.any(bad):
        raise ValueError(f"embeddings not finite or all zero for images {_some(image_id[bad])}")
    return matrix


def _check_unique(ids: np.ndarray, name: str) -> None:
    duplicated = pd.Index(ids).duplicated()
    if np.any(duplicated):
        raise ValueError(f"{name} table repeats image ids {_some(pd.unique(ids[duplicated]))}")


def _some(values) -> str:
    """A few values for an error message, with a count of the rest."""
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:_MAX_NAMED])
    return shown + (f" and {len(values) - _MAX_NAMED} more" if len(values) > _MAX_NAMED else "")

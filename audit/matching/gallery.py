"""Every probe against the whole gallery: the counts behind the watchlist-size curve.

A deployment's false-alert rate depends on how many people are on its
watchlist. Instead of drawing watchlists, the gallery holds *every* subject
with a usable face once (one ``ok`` image each, drawn with the seed), and for
each probe image and each threshold ``t`` this module counts what an exact
average over all watchlists needs (:mod:`audit.metrics.watchlist_curve`):

- ``others_at_least[i, j]``: how many gallery entries of subjects *other* than
  the probe's score ``>= thresholds[j]`` with probe ``i`` (a score equal to the
  threshold alerts, as everywhere in lfr-audit);
- ``own_score[i]``: the score against the probe's own entry (NaN when the
  subject has no entry, the probe is that entry, or the probe failed to
  acquire);
- ``beaten_by[i]``: how many other entries score strictly higher than the own
  entry (the own entry is top-ranked, rank 1, when none of them is on the
  watchlist; ties go to the own entry).

Both counts are also kept split by the group (stratum) of the entry, for
watchlists drawn within groups (:mod:`audit.matching.makeup`), and, for a
person seen k times, per person (:mod:`audit.matching.captures`).

Every image is a probe: as a passer-by (non-mated, its subject off the list)
and, unless it is its subject's entry, as a wanted person (mated). A face
that may not be its labelled subject (:mod:`audit.matching.face_probes`) is
never an entry and only a passer-by, scored against other subjects' entries. Probes
that failed to acquire keep their row with zero counts: no alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.matching._images import load_images
from audit.matching.captures import CaptureSetting, capture_counts
from audit.matching.makeup import image_labels
from audit.matching.similarity import check_distance, similarity_matrix
from audit.matching.streaming import BAD_THRESHOLDS, BLOCK_BYTES



@dataclass(frozen=True)
class GalleryCounts:
    """Per probe image: exceedance counts against the whole gallery (see module docstring).

    Arrays over probes (``n``) and thresholds (``T``, ascending). ``entry``
    marks the probes that are their subject's gallery entry (never mated
    probes); ``has_entry`` the probes whose subject has one. ``gallery_size``
    is ``G``, the number of entries (subjects with a usable face).

    **Strata.** Entries are split by the label of a grouping (one stratum,
    ``"all"``, without one): ``strata`` names them, ``stratum_people`` counts
    the entries of each, ``probe_stratum`` is each probe's subject's stratum,
    and ``stratum_at_least`` (n, S, T) / ``stratum_beaten`` (n, S) split
    ``others_at_least`` / ``beaten_by`` by the stratum of the entry, for
    watchlists drawn within strata (:mod:`audit.matching.makeup`).

    **Captures.** With ``captures`` k > 1, ``people`` holds what a passer-by
    or wanted person seen k times needs (:mod:`audit.matching.captures`).
    """

    thresholds: np.ndarray  # (T,) float64, ascending
    probe_id: np.ndarray  # (n,) object
    probe_subject: np.ndarray  # (n,) object
    acquired: np.ndarray  # (n,) bool
    entry: np.ndarray  # (n,) bool
    has_entry: np.ndarray  # (n,) bool
    others_at_least: np.ndarray  # (n, T) int64
    own_score: np.ndarray  # (n,) float64, NaN without an own entry
    beaten_by: np.ndarray  # (n,) int64, 0 without an own entry
    gallery_size: int
    captures: int = 1
    people: object | None = None  # audit.matching.captures.CaptureCounts when captures > 1
    strata: np.ndarray = field(default_factory=lambda: np.array(["all"], dtype=object))
    stratum_people: np.ndarray | None = None  # (S,) entries per stratum
    probe_stratum: np.ndarray | None = None  # (n,) int64 stratum code of the probe's subject
    stratum_at_least: np.ndarray | None = None  # (n, S, T) int64
    stratum_beaten: np.ndarray | None = None  # (n, S) int64

    @property
    def person_subject(self) -> np.ndarray | None:
        """Passers-by seen ``captures`` times (people with that many usable images)."""
        return None if self.people is None else self.people.passer_subject


def gallery_counts(
    faces: pa.Table | pd.DataFrame,
    manifest: pa.Table | pd.DataFrame,
    *,
    thresholds: object,
    distance: str = "cosine",
    seed: int = 0,
    chunk_size: int | None = None,
    captures: int = 1,
    strata: str | None = None,
) -> GalleryCounts:
    """Search every image against a gallery of every subject, counting exceedances.

    Parameters
    ----------
    faces, manifest : tables with :data:`audit.schema.FACES` / ``MANIFEST`` columns
    thresholds : array-like of float
        Similarity thresholds; sorted and de-duplicated.
    distance : {"cosine", "euclidean", "euclidean_l2", "angular"}
    seed : int
        Seed of the draw of each subject's entry among its ``ok`` images.
    chunk_size : int, optional
        Probes per matrix product; by default the float32 score block stays
        within :data:`BLOCK_BYTES`. Memory beyond inputs and outputs is about
        ``7 x chunk_size x G`` bytes (the block, two masks and the kept scores).
    captures : int
        Captures per person, k: also count what a passer-by and a wanted
        person seen k times need (:mod:`audit.matching.captures`).
    strata : str, optional
        Manifest label column splitting the entries into strata (a subject's
        stratum is its entry's label; missing labels are ``unknown``).

    Returns
    -------
    GalleryCounts
    """
    check_distance(distance)
    if captures < 1:
        raise ValueError(f"captures must be at least 1, got {captures}")
    grid = np.unique(np.asarray(thresholds, dtype=np.float64))
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)):
        raise ValueError(BAD_THRESHOLDS)
    images = load_images(faces, manifest)
    entries = _draw_entries(images.subject_id, images.ok & images.subject_face,
                            np.random.default_rng(seed))
    subject_code, _ = pd.factorize(images.subject_id)
    entry_of_subject = np.full(subject_code.max(initial=-1) + 1, -1, dtype=np.int64)
    entry_of_subject[subject_code[entries]] = np.arange(entries.size)
    own_column = entry_of_subject[subject_code]
    own_column[~images.subject_face] = -1  # perhaps not the subject: never a mated probe
    is_entry = np.zeros(len(subject_code), dtype=bool)
    is_entry[entries] = True
    stratum, names = _strata(images.image_id, manifest, strata, own_column, entries)
    columns = [np.flatnonzero(stratum[entries] == s) for s in range(names.size)]

    n, size = len(subject_code), entries.size
    k = np.zeros((n, names.size, grid.size), dtype=np.int64)
    own = np.full(n, np.nan)
    beaten = np.zeros((n, names.size), dtype=np.int64)
    searched = np.flatnonzero(images.ok)
    step = chunk_size or max(1, BLOCK_BYTES // (4 * max(size, 1)))
    gallery = images.embedding[entries]
    for begin in range(0, searched.size, step):
        rows = searched[begin: begin + step]
        scores = similarity_matrix(images.embedding[rows], gallery, distance=distance)
        own[rows], _ = own_entry_rank(scores, np.where(is_entry[rows], -1, own_column[rows]))
        with np.errstate(invalid="ignore"):
            above = scores > own[rows][:, None]  # False for every column without an own score
        own_entry = entry_of_subject[subject_code[rows]]
        listed = own_entry >= 0
        scores[np.flatnonzero(listed), own_entry[listed]] = -np.inf  # only *other* subjects count
        for s, cols in enumerate(columns):
            whole = len(columns) == 1
            k[rows, s] = exceedance_counts(scores if whole else scores[:, cols], grid)
            beaten[rows, s] = np.count_nonzero(above if whole else above[:, cols], axis=1)
    people = None if captures == 1 else capture_counts(
        images, gallery, own_column, is_entry, CaptureSetting(columns, stratum, grid, captures,
                                                              step, distance))
    return GalleryCounts(grid, images.image_id, images.subject_id, images.ok, is_entry,
                         own_column >= 0, k.sum(axis=1), own, beaten.sum(axis=1), int(size),
                         captures, people, names, np.array([c.size for c in columns]),
                         stratum, k, beaten)


def _strata(image_id: np.ndarray, manifest, column: str | None, own_column: np.ndarray,
            entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stratum code of each image's subject (its entry's label) and the sorted stratum names."""
    if column is None:
        return np.zeros(len(image_id), dtype=np.int64), np.array(["all"], dtype=object)
    label = image_labels(manifest, column, image_id)
    label = np.where(own_column >= 0, label[entries[np.maximum(own_column, 0)]], label)
    codes, names = pd.factorize(label, sort=True)
    return codes.astype(np.int64), np.asarray(names, dtype=object)


def exceedance_counts(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per row, how many scores are ``>= thresholds[j]``, for every ``j`` at once.

    One ``searchsorted`` of the scores at or above the lowest threshold (a
    score's bin is the number of thresholds it reaches), one ``bincount`` per
    (row, bin), then a reversed cumulative sum over bins. No loop over rows or
    thresholds.

    Examples
    --------
    >>> exceedance_counts(np.array([[0.1, 0.5, 0.9], [0.5, 0.5, -1.0]]), np.array([0.5, 0.8]))
    array([[2, 1],
           [2, 0]])
    """
    rows, n_t = scores.shape[0], thresholds.size
    r, c = np.nonzero(scores >= thresholds[0])
    bins = np.searchsorted(thresholds, scores[r, c].astype(np.float64), side="right")
    hist = np.bincount(r * (n_t + 1) + bins, minlength=rows * (n_t + 1)).reshape(rows, n_t + 1)
    return np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]


def own_entry_rank(scores: np.ndarray, own_column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's score against its own column and how many columns score strictly higher.

    ``own_column`` -1 gives (NaN, 0).

    Examples
    --------
    >>> own_entry_rank(np.array([[0.2, 0.9, 0.4], [0.3, 0.1, 0.3]]), np.array([2, 0]))
    (array([0.4, 0.3]), array([1, 0]))
    """
    has = own_column >= 0
    own = np.full(len(own_column), np.nan)
    own[has] = scores[np.flatnonzero(has), own_column[has]]
    with np.errstate(invalid="ignore"):
        beaten = np.count_nonzero(scores > own[:, None], axis=1)
    return own, np.where(has, beaten, 0).astype(np.int64)


def _draw_entries(subject_id: np.ndarray, ok: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One ``ok`` image per subject that has one, uniformly; positions in subject order.

    Images are sorted by subject (:func:`audit.matching._images.load_images`),
    so a subject's ``ok`` images are consecutive among the ``ok`` positions.
    """
    ok_position = np.flatnonzero(ok)
    if ok_position.size == 0:
        return ok_position
    counts = np.bincount(pd.factorize(subject_id[ok_position])[0])
    starts = np.cumsum(counts) - counts
    return ok_position[starts + rng.integers(0, counts)]

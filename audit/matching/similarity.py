"""Similarity scores from face embeddings: distances become similarities here, once.

Every later stage reads one convention: a higher score means more alike, and a
comparison is a match when ``score >= threshold``. Recognition models and
deepface speak in distances (lower = more alike), so this module is the only
place where a distance is turned around:

=================  ==============================================  ===========================
``distance``       similarity                                      range
=================  ==============================================  ===========================
``cosine``         cosine similarity = 1 - cosine distance         [-1, 1]
``euclidean``      negative Euclidean distance of the raw vectors  (-inf, 0]
``euclidean_l2``   negative Euclidean distance of unit vectors     [-2, 0]
``angular``        negative angular distance arccos(cos) / pi      [-1, 0]
=================  ==============================================  ===========================

The names and formulas are deepface's (``deepface.modules.verification``), so a
deepface threshold maps onto this scale exactly (:func:`deepface_threshold`).
``cosine``, ``euclidean_l2`` and ``angular`` are monotone functions of one
another and rank comparisons identically; raw ``euclidean`` also weighs the
vectors' lengths and can rank them differently, which is why a report always
names the distance.
"""

from __future__ import annotations

import numpy as np

from audit.choices import DISTANCES  # named as deepface names them

#: Closed range of the similarity each distance gives (the table above).
SIMILARITY_RANGES = {
    "cosine": (-1.0, 1.0),
    "euclidean": (-float("inf"), 0.0),
    "euclidean_l2": (-2.0, 0.0),
    "angular": (-1.0, 0.0),
}

#: Plain-language name of the similarity each distance gives, for reports.
SIMILARITY_NAMES = {
    "cosine": "cosine similarity (1 - cosine distance)",
    "euclidean": "negative Euclidean distance",
    "euclidean_l2": "negative Euclidean distance of L2-normalised embeddings",
    "angular": "negative angular distance (arccos of cosine similarity / pi)",
}

_UNKNOWN_DISTANCE = "unknown distance {!r}; choose one of " + ", ".join(DISTANCES)


def check_distance(distance: str) -> str:
    """Return ``distance`` if it is one of :data:`DISTANCES`, else raise ValueError."""
    if distance not in DISTANCES:
        raise ValueError(_UNKNOWN_DISTANCE.format(distance))
    return distance


def similarity_from_distance(values: np.ndarray | float, *, distance: str) -> np.ndarray:
    """Turn native distances into similarities (higher = more alike).

    Parameters
    ----------
    values : array-like of float
        Distances as deepface computes them for ``distance``.
    distance : {"cosine", "euclidean", "euclidean_l2", "angular"}
        The distance ``values`` are in.

    Returns
    -------
    ndarray of float64
        ``1 - values`` for ``cosine`` (cosine similarity), ``-values`` for the
        others: a decreasing map, so "distance <= d" becomes "similarity >= the
        mapped d" (up to float rounding of ``1 - values``).

    Examples
    --------
    >>> similarity_from_distance([0.07, 0.5], distance="cosine")
    array([0.93, 0.5 ])
    >>> similarity_from_distance([0.6], distance="euclidean")
    array([-0.6])
    """
    values = np.asarray(values, dtype=np.float64)
    if check_distance(distance) == "cosine":
        return 1.0 - values
    return -values


def deepface_threshold(model_name: str, *, distance: str) -> float:
    """deepface's pre-tuned decision threshold for a model, on our similarity scale.

    deepface calls a pair verified when ``distance <= threshold`` with thresholds
    from ``deepface/config/threshold.py`` (Dlib: cosine 0.07, euclidean 0.6,
    euclidean_l2 0.4, angular 0.12). Auditing "deepface as shipped" means using
    exactly those numbers, read here from the installed deepface so that the
    audit follows its version. The result is the similarity threshold t with
    ``score >= t`` equivalent to deepface's rule, e.g. cosine similarity
    1 - 0.07 = 0.93 for Dlib. deepface rounds distances to 6 decimals before
    comparing; scores within 5e-7 of the threshold may therefore be decided
    differently by deepface.

    Raises ValueError for a model or distance deepface has no threshold for.

    >>> deepface_threshold("Dlib", distance="euclidean_l2")
    -0.4
    """
    from deepface.config.threshold import thresholds  # no TensorFlow: a plain dict

    check_distance(distance)
    if model_name not in thresholds:
        raise ValueError(
            f"deepface has no threshold for model {model_name!r}; "
            f"known models: {', '.join(sorted(thresholds))}"
        )
    return float(similarity_from_distance(thresholds[model_name][distance], distance=distance))


def paired_similarity(a: np.ndarray, b: np.ndarray, *, distance: str) -> np.ndarray:
    """Similarity of row ``i`` of ``a`` with row ``i`` of ``b`` (1:1 comparisons).

    Parameters
    ----------
    a, b : ndarray of shape (n, d)
        Embeddings, compared row by row.
    distance : {"cosine", "euclidean", "euclidean_l2", "angular"}
        See the module docstring for the similarity each gives.

    Returns
    -------
    ndarray of float64, shape (n,)
        Computed in float64 with row-wise dot products (no loop over pairs).

    Examples
    --------
    >>> a = np.array([[1.0, 0.0], [1.0, 0.0]])
    >>> b = np.array([[1.0, 1.0], [0.0, 2.0]])
    >>> paired_similarity(a, b, distance="cosine").round(4)
    array([0.7071, 0.    ])
    >>> paired_similarity(a, b, distance="euclidean").round(4)
    array([-1.    , -2.2361])
    """
    check_distance(distance)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"need two (n, d) arrays of one shape, got {a.shape} and {b.shape}")
    if distance == "euclidean":
        return similarity_from_distance(np.linalg.norm(a - b, axis=1), distance=distance)
    cosine = np.einsum("ij,ij->i", _unit(a), _unit(b))
    return _from_cosine(cosine, distance=distance)


def similarity_matrix(probes: np.ndarray, references: np.ndarray, *, distance: str) -> np.ndarray:
    """Similarity of every probe with every reference (1:N search), in float32.

    One matrix product of shape (n_probes, n_references); callers bound memory
    by passing probes in chunks (4 bytes per cell, transforms done in place).
    Raw ``euclidean`` uses |p|^2 + |r|^2 - 2 p.r, clipped at 0, whose float32
    rounding is about 1e-7 of the squared norms: immaterial near a decision
    threshold, visible only for near-identical vectors.

    Parameters
    ----------
    probes : ndarray of shape (n, d)
    references : ndarray of shape (m, d)
    distance : {"cosine", "euclidean", "euclidean_l2", "angular"}

    Returns
    -------
    ndarray of float32, shape (n, m)

    Examples
    --------
    >>> similarity_matrix(np.array([[3.0, 4.0]]), np.array([[1.0, 0.0], [0.0, 1.0]]),
    ...                   distance="cosine")
    array([[0.6, 0.8]], dtype=float32)
    """
    check_distance(distance)
    probes = np.asarray(probes, dtype=np.float32)
    references = np.asarray(references, dtype=np.float32)
    if probes.ndim != 2 or references.ndim != 2 or probes.shape[1] != references.shape[1]:
        raise ValueError(
            f"need (n, d) probes and (m, d) references, got {probes.shape} and {references.shape}"
        )
    if distance != "euclidean":
        scores = _unit(probes) @ _unit(references).T
        return _from_cosine(scores, distance=distance, out=scores)
    scores = probes @ references.T
    scores *= -2.0
    scores += np.einsum("ij,ij->i", probes, probes)[:, None]
    scores += np.einsum("ij,ij->i", references, references)[None, :]
    np.maximum(scores, 0.0, out=scores)
    np.sqrt(scores, out=scores)
    return np.negative(scores, out=scores)


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; a zero row has no direction, so it is an error."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
    if not np.all(norms > 0):
        raise ValueError("an embedding has zero length: its cosine similarity is undefined")
    return x / norms


def _from_cosine(cosine: np.ndarray, *, distance: str, out: np.ndarray | None = None) -> np.ndarray:
    """Similarity for the distances that depend only on the cosine of the angle."""
    if distance == "cosine":
        return cosine
    if distance == "euclidean_l2":
        # |u - v|^2 = 2 - 2 cos for unit vectors u, v.
        squared = np.multiply(cosine, -2.0, out=out)
        squared += 2.0
        np.maximum(squared, 0.0, out=squared)
        return np.negative(np.sqrt(squared, out=squared), out=squared)
    angle = np.arccos(np.clip(cosine, -1.0, 1.0, out=out), out=out)
    angle /= -np.pi
    return angle

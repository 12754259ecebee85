r"""A person seen several times: the counts behind per-person FPIR and FNIR.

A camera sees a passer-by in several frames. With k captures (k distinct
images of one person, where the data has them):

- a **passer-by** is falsely alerted when any capture alerts, that is when
  the watchlist holds any of the other entries that at least one capture
  reaches: per person and stratum, how many entries the best of the k
  captures reaches at each threshold (``passer_at_least``);
- a **wanted person** is found when any capture finds them: capture c finds
  them when their own entry scores :math:`\ge t` and none of the entries
  :math:`B_c` that score strictly higher than it is listed. The captures
  share one watchlist, so by inclusion-exclusion over the non-empty subsets
  :math:`S` of the captures,

  .. math::
     P(\text{found}) = \sum_{S} (-1)^{|S|+1}\,
        [\min_{c \in S} s_c \ge t]\; P\Big(\text{no entry of } \textstyle\bigcup_{c\in S} B_c
        \text{ listed}\Big),

  so per person and subset this module keeps the lowest own score
  (``wanted_own``) and the size of the union per stratum (``wanted_union``).

Passers-by are people with k usable images (their first k, in image order);
wanted people are people with a gallery entry and k *further* usable images
(their first k that are not the entry).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.matching.similarity import similarity_matrix


@dataclass(frozen=True)
class CaptureSetting:
    """What the capture counts share with the single-image counts of one gallery search."""

    columns: list[np.ndarray]  # gallery columns of each stratum
    stratum: np.ndarray  # (n,) stratum code of each image's subject
    grid: np.ndarray  # (T,) thresholds, ascending
    captures: int
    step: int  # images per matrix product
    distance: str


@dataclass(frozen=True)
class CaptureCounts:
    """Per-person counts for k captures (see module docstring); S strata, U = 2^k - 1 subsets."""

    captures: int
    passer_subject: np.ndarray  # (P,)
    passer_stratum: np.ndarray  # (P,) int64
    passer_at_least: np.ndarray  # (P, S, T) int64
    wanted_subject: np.ndarray  # (Q,)
    wanted_stratum: np.ndarray  # (Q,) int64
    subset_sign: np.ndarray  # (U,) +1 for odd subsets, -1 for even ones
    wanted_own: np.ndarray  # (Q, U) float64: lowest own score over the subset's captures
    wanted_union: np.ndarray  # (Q, U, S) int64: entries beating at least one of them


def subsets(captures: int) -> list[tuple[int, ...]]:
    """The non-empty subsets of ``range(captures)``, smallest first.

    >>> subsets(2)
    [(0,), (1,), (0, 1)]
    """
    return [c for r in range(1, captures + 1) for c in itertools.combinations(range(captures), r)]


def capture_counts(images, gallery: np.ndarray, own_column: np.ndarray, is_entry: np.ndarray,
                   setting: CaptureSetting) -> CaptureCounts:
    """Passer-by and wanted-person counts of everyone with ``setting.captures`` images."""
    k = setting.captures
    passers = _first_images(images, np.ones(len(own_column), dtype=bool), k)
    wanted = _first_images(images, ~is_entry & (own_column >= 0), k)
    groups = subsets(k)
    reached = np.zeros((passers.size // k, len(setting.columns), setting.grid.size), np.int64)
    own_min = np.zeros((wanted.size // k, len(groups)))
    union = np.zeros((wanted.size // k, len(groups), len(setting.columns)), np.int64)
    for begin, own, scores in _blocks(images, gallery, passers, own_column, setting):
        best = scores.reshape(-1, k, scores.shape[1]).max(axis=1)
        reached[begin: begin + len(best)] = _per_stratum(best, setting)
    for begin, own, scores in _blocks(images, gallery, wanted, own_column, setting):
        above = (scores > own[:, None]).reshape(-1, k, scores.shape[1])
        own = own.reshape(-1, k)
        end = begin + len(own)
        for u, members in enumerate(groups):
            own_min[begin:end, u] = own[:, members].min(axis=1)
            beats = above[:, members, :].any(axis=1)
            union[begin:end, u] = np.stack([beats[:, c].sum(axis=1) for c in setting.columns],
                                           axis=1)
    sign = np.array([1 if len(g) % 2 else -1 for g in groups], dtype=np.int64)
    return CaptureCounts(k, images.subject_id[passers[::k]], setting.stratum[passers[::k]],
                         reached, images.subject_id[wanted[::k]], setting.stratum[wanted[::k]],
                         sign, own_min, union)


def _first_images(images, eligible: np.ndarray, k: int) -> np.ndarray:
    """Positions of the first ``k`` usable, eligible images of every person who has ``k``,
    person after person (images are in subject, image order)."""
    position = np.flatnonzero(images.ok & images.subject_face & eligible)  # own faces only
    code = pd.factorize(images.subject_id[position])[0]
    seen = np.arange(code.size) - np.searchsorted(code, code)  # 0, 1, ... within a person
    enough = np.bincount(code, minlength=1) >= k
    return position[(seen < k) & enough[code]] if code.size else position


def _blocks(images, gallery, rows: np.ndarray, own_column: np.ndarray, setting: CaptureSetting):
    """Per block of whole people: the first person, each image's score against its own
    entry (every usable image's subject has one), and the scores with that entry at -inf."""
    k = setting.captures
    per_block = max(1, setting.step // k)
    for begin in range(0, rows.size // k, per_block):
        block = rows[begin * k: (begin + per_block) * k]
        scores = similarity_matrix(images.embedding[block], gallery, distance=setting.distance)
        own_at = (np.arange(block.size), own_column[block])
        own = scores[own_at].astype(np.float64)
        scores[own_at] = -np.inf
        yield begin, own, scores


def _per_stratum(scores: np.ndarray, setting: CaptureSetting) -> np.ndarray:
    """(rows, S, T): per stratum, how many of a row's scores reach each threshold."""
    from audit.matching.gallery import exceedance_counts  # gallery imports this module

    whole = len(setting.columns) == 1
    return np.stack([exceedance_counts(scores if whole else scores[:, c], setting.grid)
                     for c in setting.columns], axis=1)

"""1:1 verification trials: which pairs of images are compared, and their scores.

Three sources of pairs, all giving a DataFrame with columns ``fold`` (nullable
Int32), ``image_id_a``, ``image_id_b`` and ``mated``:

- :func:`mated_pairs`: every pair of images of one subject (ISO/IEC 19795-1
  mated comparisons), capped per subject so that the few people with hundreds
  of images do not dominate FNMR;
- :func:`non_mated_pairs`: a seeded sample of pairs of different subjects in
  every cell of a demographic grouping, within one group and across two
  groups, so that NIST-style cross-group FMR matrices can be read;
- a fixed protocol such as LFW View 2, read by a dataset adapter.

:func:`score_pairs` turns any of them into rows of the scores table. Pairs
only depend on the manifest; acquisition failures matter only when scoring,
where they are kept as trials with a null score (failure to acquire, FTA) so
that FNMR can be reported with and without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.matching._images import Images, load_images
from audit.matching._scores import scores_table
from audit.matching.similarity import check_distance, paired_similarity
from audit.schema import MANIFEST, coerce_table

#: Columns of a pairs DataFrame; ``fold`` and ``mated`` are optional in input.
PAIR_COLUMNS = ("fold", "image_id_a", "image_id_b", "mated")

# Oversampling of candidate pairs before rejecting mated ones, and the
# floor on a draw, so that one draw nearly always yields enough.
_OVERSAMPLE = 1.1
_MIN_DRAW = 64


def mated_pairs(
    manifest: pa.Table | pd.DataFrame,
    *,
    max_pairs_per_subject: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """All pairs of images of the same subject, at most ``max_pairs_per_subject`` each.

    A subject with n images gives n (n - 1) / 2 mated pairs: quadratic, so a
    handful of heavily photographed people (George W Bush has 530 images in
    LFW, 140,185 pairs) would otherwise make FNMR mostly theirs. Over the cap,
    a subject's pairs are a uniform random subset without replacement, drawn
    with ``seed``. Each unordered pair appears once, ``image_id_a`` before
    ``image_id_b`` in image-id order; rows are sorted by subject, so the result
    does not depend on the order of the manifest rows.

    Parameters
    ----------
    manifest : Arrow table or DataFrame with :data:`audit.schema.MANIFEST` columns
    max_pairs_per_subject : int, optional
        Cap on the pairs of one subject; ``None`` keeps all.
    seed : int
        Seed of the numpy Generator choosing pairs of capped subjects.

    Returns
    -------
    DataFrame with columns ``fold`` (null), ``image_id_a``, ``image_id_b``,
    ``mated`` (True).
    """
    if max_pairs_per_subject is not None and max_pairs_per_subject < 1:
        raise ValueError(f"max_pairs_per_subject must be at least 1, got {max_pairs_per_subject}")
    frame = _manifest_frame(manifest, ())
    rng = np.random.default_rng(seed)
    sizes = np.bincount(pd.factorize(frame["subject_id"])[0])
    n_pairs = sizes * (sizes - 1) // 2
    keep = n_pairs if max_pairs_per_subject is None else np.minimum(n_pairs, max_pairs_per_subject)
    start = np.cumsum(n_pairs) - n_pairs
    first_kept = np.cumsum(keep) - keep
    # Number of each kept pair among its subject's pairs: all of them where
    # uncapped (vectorised), a random subset for the few capped subjects.
    local = np.arange(keep.sum()) - np.repeat(first_kept, keep)
    for s in np.flatnonzero(keep < n_pairs):
        chosen = rng.choice(n_pairs[s], size=keep[s], replace=False)
        local[first_kept[s] : first_kept[s] + keep[s]] = np.sort(chosen)
    a, b = _unrank_within(np.repeat(start, keep) + local, sizes)
    image_id = frame["image_id"].to_numpy()
    return _pairs_frame(image_id[a], image_id[b], mated=True)


def non_mated_pairs(
    manifest: pa.Table | pd.DataFrame,
    *,
    pairs_per_cell: int,
    grouping: Sequence[str] = (),
    seed: int = 0,
) -> pd.DataFrame:
    """A seeded sample of pairs of different subjects, per cell of a grouping.

    Groups are the combinations of values of the ``grouping`` columns (e.g.
    ``("gender", "ethnicity")``; ``unknown`` is a group like any other; no
    columns means one group of everybody). A cell is an unordered pair of
    groups {A, B}, A = B included. In a cross-group cell each pair's probe
    (``image_id_a``) is drawn from A or B by a fair (seeded) coin, so FMR by
    the probe's group counts cross-group comparisons for both groups alike,
    whatever their labels; the score is symmetric, so the cross-group FMR
    matrix counts each pair in both (A, B) and (B, A).

    Each cell gets ``pairs_per_cell`` distinct unordered pairs of images of
    different subjects, uniform among all such pairs of the cell (sampling
    without replacement over pair indices, mated candidates rejected), or all
    of them when the cell has fewer. The same seed gives the same pairs.

    Parameters
    ----------
    manifest : Arrow table or DataFrame with :data:`audit.schema.MANIFEST` columns
    pairs_per_cell : int
        Non-mated pairs wanted in every cell.
    grouping : sequence of str
        Manifest columns whose value combinations define the groups.
    seed : int
        Seed of the numpy Generator; cells are drawn in sorted order.

    Returns
    -------
    DataFrame with columns ``fold`` (null), ``image_id_a``, ``image_id_b``,
    ``mated`` (False), ordered by cell, then by image position.
    """
    if pairs_per_cell < 1:
        raise ValueError(f"pairs_per_cell must be at least 1, got {pairs_per_cell}")
    frame = _manifest_frame(manifest, grouping)
    rng = np.random.default_rng(seed)
    group = (
        frame.groupby(list(grouping), sort=True, dropna=False).ngroup().to_numpy()
        if grouping
        else np.zeros(len(frame), dtype=np.int64)
    )
    subject = pd.factorize(frame["subject_id"])[0]
    members = [np.flatnonzero(group == g) for g in range(group.max(initial=-1) + 1)]
    positions_a, positions_b = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for g_a in range(len(members)):
        for g_b in range(g_a, len(members)):
            a, b = _sample_cell(
                members[g_a], members[g_b], subject, pairs_per_cell, rng, within=g_a == g_b
            )
            if g_a != g_b:  # which side is the probe: a fair coin, not the label's sort order
                flip = rng.random(len(a)) < 0.5
                a, b = np.where(flip, b, a), np.where(flip, a, b)
            positions_a.append(a)
            positions_b.append(b)
    image_id = frame["image_id"].to_numpy()
    return _pairs_frame(
        image_id[np.concatenate(positions_a)], image_id[np.concatenate(positions_b)], mated=False
    )


def score_pairs(
    pairs: pd.DataFrame,
    faces: pa.Table | pd.DataFrame,
    manifest: pa.Table | pd.DataFrame,
    *,
    distance: str = "cosine",
    chunk_size: int = 16384,
) -> pa.Table:
    """Score 1:1 comparisons: one scores-table row per pair.

    Parameters
    ----------
    pairs : DataFrame
        ``image_id_a`` (probe) and ``image_id_b`` (reference); optional
        ``fold`` (protocol fold, e.g. one of LFW View 2's ten) and ``mated``, which
        must agree with the manifest's subjects.
    faces : Arrow table or DataFrame with :data:`audit.schema.FACES` columns
        One pipeline configuration.
    manifest : Arrow table or DataFrame with :data:`audit.schema.MANIFEST` columns
    distance : {"cosine", "euclidean", "euclidean_l2", "angular"}
        Score = the similarity of :mod:`audit.matching.similarity` for this
        distance (cosine similarity by default); recorded in the table's
        schema metadata.
    chunk_size : int
        Pairs scored at once: memory is about 2 x 8 x d x ``chunk_size`` bytes
        (float64 embeddings of both sides), 33 MB for d = 128.

    Returns
    -------
    pyarrow.Table with :data:`audit.schema.SCORES` columns
        ``trial_kind`` "verification"; ``score`` null where either image failed
        to acquire (FTA), so those trials stay countable; ``rank`` and
        ``best_is_true_entry`` null.
    """
    check_distance(distance)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    missing = {"image_id_a", "image_id_b"} - set(pairs.columns)
    if missing:
        raise ValueError(f"pairs lack columns {sorted(missing)}")
    images = load_images(faces, manifest)
    a = images.positions(pairs["image_id_a"])
    b = images.positions(pairs["image_id_b"])
    _check_pairs(pairs, images, a, b)
    acquired, score = _similarities(images, a, b, distance=distance, chunk_size=chunk_size)
    fold = pairs["fold"] if "fold" in pairs else pd.Series(pd.NA, index=pairs.index)
    fold = fold.astype("Int32")
    none = np.zeros(len(a), dtype=bool)
    return scores_table(
        trial_kind="verification",
        distance=distance,
        probe_id=images.image_id[a],
        probe_subject=images.subject_id[a],
        reference_id=images.image_id[b],
        reference_subject=images.subject_id[b],
        score=score,
        acquired=acquired,
        mated=images.subject_id[a] == images.subject_id[b],
        fold=fold.fillna(0).to_numpy(dtype=np.int32),
        fold_known=fold.notna().to_numpy(dtype=bool),
        rank=np.zeros(len(a), dtype=np.int32),
        best_is_true_entry=none,
        outcome_known=none,
    )


def _similarities(images, a: np.ndarray, b: np.ndarray, *, distance: str,
                  chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Which pairs have both faces, and their similarity (0 where not), scored in chunks
    so that memory stays bounded however many pairs there are."""
    acquired = images.ok[a] & images.ok[b]
    score = np.zeros(len(a), dtype=np.float64)
    rows = np.flatnonzero(acquired)
    for begin in range(0, len(rows), chunk_size):
        chunk = rows[begin : begin + chunk_size]
        score[chunk] = paired_similarity(
            images.embedding[a[chunk]], images.embedding[b[chunk]], distance=distance
        )
    return acquired, score


def _check_pairs(pairs: pd.DataFrame, images: Images, a: np.ndarray, b: np.ndarray) -> None:
    """Reject self-comparisons and ``mated`` labels that contradict the manifest."""
    same = np.flatnonzero(a == b)
    if len(same):
        raise ValueError(
            f"{len(same)} pairs compare an image with itself, e.g. {images.image_id[a[same[0]]]!r}"
        )
    if "mated" in pairs:
        truth = images.subject_id[a] == images.subject_id[b]
        wrong = np.flatnonzero(pairs["mated"].to_numpy(dtype=bool) != truth)
        if len(wrong):
            row = pairs.iloc[wrong[0]]
            raise ValueError(
                f"{len(wrong)} pairs have a 'mated' label that contradicts the manifest's "
                f"subject ids, e.g. {row['image_id_a']!r} / {row['image_id_b']!r}"
            )


def _manifest_frame(manifest: pa.Table | pd.DataFrame, grouping: Sequence[str]) -> pd.DataFrame:
    """Manifest ids, subjects and grouping columns, sorted by (subject_id, image_id)."""
    table = coerce_table(manifest, MANIFEST, "manifest")
    absent = [c for c in grouping if c not in table.column_names]
    if absent:
        raise ValueError(f"manifest has no grouping columns {absent}")
    frame = table.select(["image_id", "subject_id", *grouping]).to_pandas()
    if frame["image_id"].duplicated().any():
        raise ValueError("manifest repeats image ids")
    return frame.sort_values(["subject_id", "image_id"], ignore_index=True)


def _unrank_within(index: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (a, b), a < b, of pairs numbered within consecutive blocks.

    Positions 0.. are split into blocks of ``sizes``; the pairs inside each
    block are numbered block by block, row-major ((0, 1), (0, 2), ..., (1, 2),
    ...). Integer arithmetic only: a row's first pair number is found by
    ``searchsorted``, so there is no floating-point square root to round.
    """
    block_end = np.repeat(np.cumsum(sizes), sizes)
    row_len = block_end - np.arange(len(block_end)) - 1
    row_start = np.cumsum(row_len) - row_len
    a = np.searchsorted(row_start, index, side="right") - 1
    return a, a + 1 + (index - row_start[a])


def _sample_cell(
    in_a: np.ndarray,
    in_b: np.ndarray,
    subject: np.ndarray,
    n: int,
    rng: np.random.Generator,
    *,
    within: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n`` distinct non-mated pairs (positions) between two groups, or within one."""
    if within:
        total = len(in_a) * (len(in_a) - 1) // 2
        _, per_subject = np.unique(subject[in_a], return_counts=True)
        mated = int(np.sum(per_subject * (per_subject - 1) // 2))
    else:
        total = len(in_a) * len(in_b)
        s_a, n_a = np.unique(subject[in_a], return_counts=True)
        s_b, n_b = np.unique(subject[in_b], return_counts=True)
        _, i_a, i_b = np.intersect1d(s_a, s_b, assume_unique=True, return_indices=True)
        mated = int(np.sum(n_a[i_a] * n_b[i_b]))
    possible = total - mated
    if possible <= n:
        a, b = _cell_positions(np.arange(total), in_a, in_b, within)
        non_mated = subject[a] != subject[b]
        return a[non_mated], b[non_mated]
    # A random order of distinct pair numbers, mated ones dropped: its first n
    # are a uniform sample without replacement. Redraw larger in the rare case
    # of too few; a draw of every pair number always has enough.
    draw_size = min(total, ceil(n * total / possible * _OVERSAMPLE) + _MIN_DRAW)
    while True:
        draw = rng.choice(total, size=draw_size, replace=False)
        a, b = _cell_positions(draw, in_a, in_b, within)
        non_mated = np.flatnonzero(subject[a] != subject[b])
        if len(non_mated) >= n:
            break
        draw_size = min(total, 2 * draw_size)
    return _cell_positions(np.sort(draw[non_mated[:n]]), in_a, in_b, within)


def _cell_positions(
    draw: np.ndarray, in_a: np.ndarray, in_b: np.ndarray, within: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Image positions of pair numbers in a cell (triangle within, rectangle across)."""
    if within:
        a, b = _unrank_within(draw, np.array([len(in_a)]))
        return in_a[a], in_a[b]
    return in_a[draw // len(in_b)], in_b[draw % len(in_b)]


def _pairs_frame(image_id_a: np.ndarray, image_id_b: np.ndarray, *, mated: bool) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "fold": pd.array([pd.NA] * len(image_id_a), dtype="Int32"),
            "image_id_a": pd.array(image_id_a, dtype=object),
            "image_id_b": pd.array(image_id_b, dtype=object),
            "mated": np.full(len(image_id_a), mated),
        }
    )

"""1:N watchlist trials: a simulated live facial recognition deployment.

Live facial recognition compares every passer-by with every watchlist entry
and alerts on the best match at or above a threshold. A labelled dataset is
turned into that setting by drawing a watchlist:

- W subjects are drawn without replacement, uniformly among the subjects with
  at least one ``ok`` image (an entry must have an enrolment template), and
  one of their ``ok`` images, uniformly, becomes their entry;
- every other image is a probe (a passer-by): **mated** when its subject is on
  the watchlist, **non-mated** otherwise (a face that may not be the labelled
  subject, :mod:`audit.matching.face_probes`, is never enrolled, and is a
  probe only in draws without its subject);
- each probe is searched against the whole watchlist, giving one scores row
  with the best score, the entry it came from, and for mated probes the rank
  of the true entry and whether the best candidate is that entry;
- the draw is repeated ``n_draws`` times with one seed; ``fold`` is the draw.

Probes that failed to acquire (FTA) stay as rows with a null score, null
candidate and null rank: no alert, which FNIR counts as a miss (ISO/IEC
19795-1 and DESIGN.md). A dataset without identities (each image its own
subject, e.g. UTKFace) needs no special case: watchlist entries have no other
image, so all probes are non-mated and only FPIR can be read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.matching._images import Images, load_images
from audit.matching._scores import scores_table
from audit.matching.makeup import TOO_FEW, Composition, image_labels
from audit.matching.similarity import check_distance, similarity_matrix

#: Default bound on one chunk's float32 score block (bytes), see :func:`search_watchlist`.
DEFAULT_BLOCK_BYTES = 32 * 2**20


@dataclass(frozen=True)
class SearchResult:
    """Outcome of searching each probe against a watchlist (arrays over probes)."""

    best_score: np.ndarray  # float32: highest similarity over the watchlist
    best_entry: np.ndarray  # int64: watchlist position of the top candidate
    rank: np.ndarray  # int64: rank of the true entry (1 = top); 0 for non-mated probes


def search_watchlist(
    probes: np.ndarray,
    watchlist: np.ndarray,
    *,
    true_entry: np.ndarray,
    distance: str = "cosine",
    chunk_size: int | None = None,
    client: Any = None,
) -> SearchResult:
    """Search every probe embedding against every watchlist embedding.

    Probes are taken ``chunk_size`` at a time; each chunk is one float32 matrix
    product with the watchlist (:func:`audit.matching.similarity.similarity_matrix`),
    then the top candidate by ``argmax`` and the true entry's rank by counting
    the entries that beat it. No loop runs over comparisons.

    Ties are broken by watchlist position, the same way for both outputs: the
    top candidate is the first entry with the best score, and the true entry's
    rank is 1 + the number of entries scoring strictly higher + the number of
    entries scoring the same and listed before it. So ``rank == 1`` exactly
    when ``best_entry == true_entry``.

    Memory bound: beyond the inputs and the outputs (n x 20 bytes), at most
    about 10 x ``chunk_size`` x W bytes (W = watchlist entries) for the float32
    score block (4 bytes a cell), a float32 copy of its mated rows for ranking
    (4 bytes) and two boolean masks (1 byte each), plus a normalised copy of
    the watchlist (4 x W x d bytes). The default ``chunk_size`` keeps the score
    block within :data:`DEFAULT_BLOCK_BYTES` (32 MiB), so about 80 MiB plus the
    watchlist copy, whatever the number of probes (measured: 71 MiB for
    W = 10,000, d = 128; ``benchmarks/results_identification.md``).

    With a Dask ``client``, each chunk of ``chunk_size`` probes is one task and
    the watchlist is sent to each worker once. The results are the same bit
    for bit when workers have the client's kind of CPU and numpy build: a
    float32 product's last bit depends on the matrix shape and on the BLAS
    thread count, so the tasks take the same chunks as without a client and
    run them with the client's BLAS thread count. Memory per task is the bound above
    plus the task's probes and mates (4 x ``chunk_size`` x d + 8 x
    ``chunk_size`` bytes); each worker also holds one copy of the watchlist
    (4 x W x d bytes). The client keeps the probes, a second copy of them while
    they are sent (scattered) to the workers, and the outputs.

    Parameters
    ----------
    probes : ndarray of shape (n, d)
    watchlist : ndarray of shape (W, d)
    true_entry : ndarray of int, shape (n,)
        Watchlist position of each probe's mate, -1 for non-mated probes.
    distance : {"cosine", "euclidean", "euclidean_l2", "angular"}
    chunk_size : int, optional
        Probes per matrix product; ``None`` for the 32 MiB default.
    client : distributed.Client, optional
        Run the chunks as tasks on this Dask cluster.

    Returns
    -------
    SearchResult
        ``best_score`` is the similarity named by ``distance``.

    Examples
    --------
    >>> r = search_watchlist(np.array([[1.0, 0.1], [0.0, 1.0]]),
    ...                      np.array([[1.0, 0.0], [0.6, 0.8]]),
    ...                      true_entry=np.array([1, -1]))
    >>> r.best_entry, r.rank
    (array([0, 1]), array([2, 0]))
    """
    check_distance(distance)
    probes = np.asarray(probes, dtype=np.float32)
    watchlist = np.asarray(watchlist, dtype=np.float32)
    true_entry = np.asarray(true_entry, dtype=np.int64)
    n, size = len(probes), len(watchlist)
    if size == 0:
        raise ValueError("the watchlist is empty")
    if true_entry.shape != (n,) or np.any((true_entry < -1) | (true_entry >= size)):
        raise ValueError("true_entry needs one watchlist position (or -1) per probe")
    if chunk_size is None:
        chunk_size = max(1, DEFAULT_BLOCK_BYTES // (4 * size))
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if client is not None:
        return _search_on_dask(client, probes, watchlist, true_entry, distance, chunk_size)

    best_score = np.empty(n, dtype=np.float32)
    best_entry = np.empty(n, dtype=np.int64)
    rank = np.zeros(n, dtype=np.int64)
    for begin in range(0, n, chunk_size):
        end = min(begin + chunk_size, n)
        scores = similarity_matrix(probes[begin:end], watchlist, distance=distance)
        best_entry[begin:end] = np.argmax(scores, axis=1)
        best_score[begin:end] = scores[np.arange(end - begin), best_entry[begin:end]]
        mated = np.flatnonzero(true_entry[begin:end] >= 0)
        rank[begin + mated] = _rank_of_true(scores[mated], true_entry[begin + mated])
    return SearchResult(best_score, best_entry, rank)


def _search_on_dask(client: Any, probes: np.ndarray, watchlist: np.ndarray,
                    true_entry: np.ndarray, distance: str, chunk_size: int) -> SearchResult:
    """:func:`search_watchlist` with one Dask task per probe chunk, results in probe order."""
    if len(probes) == 0:
        return search_watchlist(probes, watchlist, true_entry=true_entry, distance=distance)
    from threadpoolctl import threadpool_info

    blas_threads = max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"),
                       default=1)
    [shared] = client.scatter([watchlist], broadcast=True, hash=False)
    starts = range(0, len(probes), chunk_size)
    chunks = client.scatter([probes[b: b + chunk_size] for b in starts], hash=False)
    mates = client.scatter([true_entry[b: b + chunk_size] for b in starts], hash=False)
    futures = [
        client.submit(_search_chunk, chunk, shared, mate, distance, chunk_size, blas_threads,
                      pure=False)
        for chunk, mate in zip(chunks, mates, strict=True)
    ]
    parts = client.gather(futures)
    del futures, chunks, mates, shared  # release the cluster's copies
    return SearchResult(*(np.concatenate([getattr(p, name) for p in parts])
                          for name in ("best_score", "best_entry", "rank")))


#: BLAS thread limits are process-wide: one chunk at a time per worker process
#: (shared with the streamed curve, :mod:`audit.matching.streaming`).
BLAS_LOCK = threading.Lock()


def _search_chunk(probes: np.ndarray, watchlist: np.ndarray, true_entry: np.ndarray,
                  distance: str, chunk_size: int, blas_threads: int) -> SearchResult:
    """One Dask task: a probe chunk, with the client's BLAS thread count (Dask workers
    default to 1, which changes the last bit of some float32 scores)."""
    from threadpoolctl import threadpool_limits

    with BLAS_LOCK, threadpool_limits(limits=blas_threads, user_api="blas"):
        return search_watchlist(probes, watchlist, true_entry=true_entry, distance=distance,
                                chunk_size=chunk_size)


def identification_scores(
    faces: pa.Table | pd.DataFrame,
    manifest: pa.Table | pd.DataFrame,
    *,
    watchlist_size: int,
    n_draws: int = 1,
    distance: str = "cosine",
    seed: int = 0,
    chunk_size: int | None = None,
    client: Any = None,
    composition: Composition | None = None,
    enrol_with_probe: bool = False,
) -> pa.Table:
    """Simulated watchlist searches: one scores-table row per probe and draw.

    See the module docstring for how the watchlist and probes are drawn.

    Parameters
    ----------
    faces : Arrow table or DataFrame with :data:`audit.schema.FACES` columns
        One pipeline configuration.
    manifest : Arrow table or DataFrame with :data:`audit.schema.MANIFEST` columns
    watchlist_size : int
        W, the number of watchlist entries (one subject, one image each).
    n_draws : int
        Independent watchlist draws; ``fold`` numbers them from 0.
    distance : {"cosine", "euclidean", "euclidean_l2", "angular"}
        Score = the similarity for this distance, recorded in the schema metadata.
    seed : int
        Seed of the numpy Generator drawing watchlists and enrolment images.
    chunk_size : int, optional
        Probes per matrix product; memory bound in :func:`search_watchlist`.
    client : distributed.Client, optional
        Search probe chunks as tasks on this Dask cluster, each draw's
        watchlist sent to every worker once; the table is the same as without.
    composition : audit.matching.makeup.Composition, optional
        The watchlist's make-up; stratified make-ups draw each group's quota
        of subjects without replacement within the group (a subject's group
        is the label of its first usable image). Uniform by default.
    enrol_with_probe : bool
        Enrol only subjects with a further usable image, so every entry has
        a mated probe.

    Returns
    -------
    pyarrow.Table with :data:`audit.schema.SCORES` columns
        ``trial_kind`` "identification"; ``score`` the best watchlist score;
        ``reference_id``/``reference_subject`` the top candidate's enrolment
        image and subject; ``mated`` whether the probe's subject is on the
        watchlist; ``rank`` of the true entry (mated probes); and
        ``best_is_true_entry`` (False for every non-mated probe). An alert to
        a wrong entry is a miss for FNIR even when its score is high. FTA
        probes have null score, reference, rank and ``best_is_true_entry``.

    Raises
    ------
    ValueError
        When fewer than ``watchlist_size`` subjects have an ``ok`` image.
    """
    check_distance(distance)
    if watchlist_size < 1 or n_draws < 1:
        raise ValueError(
            f"need watchlist_size >= 1 and n_draws >= 1, got {watchlist_size} and {n_draws}"
        )
    images = load_images(faces, manifest)
    rng = np.random.default_rng(seed)
    labels = (None if composition is None or composition.uniform
              else image_labels(manifest, composition.grouping, images.image_id))
    design = _DrawDesign(composition, labels, enrol_with_probe)
    draws = [
        _one_draw(
            images, rng, fold=r, watchlist_size=watchlist_size, distance=distance,
            chunk_size=chunk_size, client=client, design=design,
        )
        for r in range(n_draws)
    ]
    return pa.concat_tables(draws)


def _one_draw(
    images: Images,
    rng: np.random.Generator,
    *,
    fold: int,
    watchlist_size: int,
    distance: str,
    chunk_size: int | None,
    client: Any = None,
    design: _DrawDesign | None = None,
) -> pa.Table:
    enrolled = _draw_watchlist(images, rng, watchlist_size, design)
    subject_code, subjects = pd.factorize(images.subject_id)
    entry_of_subject = np.full(len(subjects), -1, dtype=np.int64)
    entry_of_subject[subject_code[enrolled]] = np.arange(watchlist_size)

    is_probe = np.ones(len(images.image_id), dtype=bool)
    is_probe[enrolled] = False
    # a face that may not be its labelled subject is no probe while that subject is listed
    is_probe &= images.subject_face | (entry_of_subject[subject_code] < 0)
    probe = np.flatnonzero(is_probe)
    true_entry = entry_of_subject[subject_code[probe]]
    acquired = images.ok[probe]
    searched = probe[acquired]
    result = search_watchlist(
        images.embedding[searched],
        images.embedding[enrolled],
        true_entry=true_entry[acquired],
        distance=distance,
        chunk_size=chunk_size,
        client=client,
    )

    n = len(probe)
    best_score = np.zeros(n)
    best_score[acquired] = result.best_score
    top = np.full(n, -1, dtype=np.int64)
    top[acquired] = result.best_entry
    rank = np.zeros(n, dtype=np.int64)
    rank[acquired] = result.rank
    candidate_id = np.where(acquired, images.image_id[enrolled][top], None)
    candidate_subject = np.where(acquired, images.subject_id[enrolled][top], None)
    mated = true_entry >= 0
    return scores_table(
        trial_kind="identification",
        distance=distance,
        probe_id=images.image_id[probe],
        probe_subject=images.subject_id[probe],
        reference_id=candidate_id,
        reference_subject=candidate_subject,
        score=best_score,
        acquired=acquired,
        mated=mated,
        fold=np.full(n, fold, dtype=np.int32),
        fold_known=np.ones(n, dtype=bool),
        rank=rank,
        best_is_true_entry=mated & (top == true_entry),
        outcome_known=acquired,
    )


@dataclass(frozen=True)
class _DrawDesign:
    """How watchlists are drawn: make-up, image labels of its grouping, who may be enrolled."""

    composition: Composition | None = None
    labels: np.ndarray | None = None  # per image, in Images order; None when uniform
    with_probe: bool = False


def _draw_watchlist(images: Images, rng: np.random.Generator, size: int,
                    design: _DrawDesign | None = None) -> np.ndarray:
    """Image positions of ``size`` enrolment images, one per drawn subject, in draw order.

    Subjects are drawn without replacement among those with an ``ok`` image
    (with ``with_probe``, two), uniformly or within each group by its quota
    (:meth:`audit.matching.makeup.Composition.quotas`), then one ``ok`` image
    uniformly among theirs. Images are sorted by subject, so a subject's
    ``ok`` images are consecutive in ``ok_position``.
    """
    design = design or _DrawDesign()
    ok_position = np.flatnonzero(images.ok & images.subject_face)
    counts = np.bincount(pd.factorize(images.subject_id[ok_position])[0])
    starts = np.cumsum(counts) - counts
    eligible = counts >= (2 if design.with_probe else 1)
    what = "usable face image" + (" and a further one to search with" if design.with_probe else "")
    if design.labels is None:
        if eligible.sum() < size:
            raise ValueError(f"watchlist of {size} needs {size} subjects with a {what}; "
                             f"only {int(eligible.sum())} have one")
        pool = np.flatnonzero(eligible)
        chosen = pool[rng.choice(pool.size, size=size, replace=False)]
    else:
        group = design.labels[ok_position[starts]]
        strata = np.unique(group)
        chosen = []
        for stratum, quota in zip(strata, design.composition.quotas(strata, [size])[:, 0]):
            pool = np.flatnonzero(eligible & (group == stratum))
            if pool.size < quota:
                raise ValueError(TOO_FEW.format(size=size, need=quota, group=stratum,
                                                have=pool.size) + f" with a {what}")
            chosen.append(pool[rng.choice(pool.size, size=quota, replace=False)])
        chosen = np.concatenate(chosen)
    return ok_position[starts[chosen] + rng.integers(0, counts[chosen])]


def _rank_of_true(scores: np.ndarray, true_entry: np.ndarray) -> np.ndarray:
    """Rank of each row's true entry: 1 + entries above it (+ equal ones listed before it)."""
    rows = np.arange(len(true_entry))
    true_score = scores[rows, true_entry][:, None]
    rank = 1 + np.count_nonzero(scores > true_score, axis=1)
    equal = np.count_nonzero(scores == true_score, axis=1) > 1
    if np.any(equal):
        before = np.arange(scores.shape[1])[None, :] < true_entry[equal][:, None]
        rank[equal] += np.count_nonzero((scores[equal] == true_score[equal]) & before, axis=1)
    return rank

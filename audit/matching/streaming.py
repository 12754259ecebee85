"""The watchlist-size curve of a large search, streamed: probes by ``k`` at every threshold.

A point estimate of FPIR(W) needs only how many probes have exactly ``k``
other gallery entries at or above each threshold
(:func:`audit.metrics.watchlist_curve.fpir_from_histogram`), so a search of
any number of probes keeps one chunk's score block plus that histogram.

Per chunk (a float32 matrix product, :func:`audit.matching.similarity.similarity_matrix`):

1. the scores at or above the lowest threshold are picked out (a mask and
   ``flatnonzero``, float32 throughout);
2. each is binned by how many thresholds it reaches. Thresholds are a sorted
   float32 vector; a lookup table over a uniform grid of
   :data:`CELLS_PER_THRESHOLD` x T cells gives the bin of every score whose
   cell holds no threshold (one multiply, one gather), and ``searchsorted``
   settles the rest (about 1 in ``CELLS_PER_THRESHOLD`` for evenly spread
   thresholds). No sort, exact for any thresholds;
3. a probe's count ``k(t)`` is a staircase in t: a bin holding ``c`` of its
   scores with ``g`` scores in higher bins moves it from ``g + c`` to ``g``
   as t crosses that bin, which adds +1 at (bin, g) and -1 at (bin, g + c)
   of a difference array over (bins, k). Its width is the largest ``k`` seen
   so far, not the gallery size, and updates are added (one ``bincount``)
   once they are an eighth as many as its cells.

A cumulative sum over bins at the end gives the histogram. With a Dask
client each chunk is one task returning its updates; the client adds them in
chunk order, so the histogram is the same, integer for integer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audit.matching.similarity import check_distance, similarity_matrix

#: Bound on one chunk's float32 score block (bytes): memory does not grow with the probes.
BLOCK_BYTES = 32 * 2**20
BAD_THRESHOLDS = "thresholds must be a non-empty 1-D array of finite numbers"
#: Lookup cells per threshold: the share of scores left to ``searchsorted`` is about its inverse.
CELLS_PER_THRESHOLD = 16


def float32_ceiling(thresholds: np.ndarray) -> np.ndarray:
    """The smallest float32 at or above each threshold: for float32 scores,
    ``score >= t`` exactly when ``score >= ceiling``, so comparisons stay in float32.

    >>> float(float32_ceiling(np.array([0.1]))[0]) >= 0.1
    True
    """
    rounded = thresholds.astype(np.float32)
    return np.where(rounded < thresholds, np.nextafter(rounded, np.float32(np.inf)), rounded)


@dataclass(frozen=True)
class ThresholdBins:
    """Bins float32 scores by how many of the sorted float32 ``ceiling`` values they reach."""

    ceiling: np.ndarray  # (T,) float32, ascending
    low: np.float32
    scale: np.float32
    settled: np.ndarray  # per cell: the bin of every score in it; -1 where a threshold splits it

    @classmethod
    def of(cls, ceiling: np.ndarray) -> ThresholdBins:
        """The lookup table: cells of equal width from ``ceiling[0]`` to one cell above
        ``ceiling[-1]``, then one cell for every higher score. Each cell's bounds are
        widened by a few float32 steps, so a score's computed cell always brackets it."""
        cells = CELLS_PER_THRESHOLD * ceiling.size
        low, high = float(ceiling[0]), float(ceiling[-1])
        width = (high - low) / cells if high > low else max(abs(low), 1.0) / cells
        edges = low + np.arange(cells + 2, dtype=np.float64) * width
        slack = 4 * float(np.spacing(np.float32(max(abs(low), abs(edges[-1]), 1.0))))
        lower = np.searchsorted(ceiling, (edges[:-1] - slack).astype(np.float32), side="right")
        upper = np.searchsorted(ceiling, (edges[1:] + slack).astype(np.float32), side="right")
        upper[-1] = ceiling.size  # the last cell runs to +inf
        settled = np.where(lower == upper, lower, -1)
        return cls(ceiling, np.float32(low), np.float32(1 / width), settled)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """How many thresholds each score reaches (scores at or above the lowest one).

        >>> b = ThresholdBins.of(np.array([0.1, 0.5, 0.9], dtype=np.float32))
        >>> b(np.array([0.1, 0.49, 0.5, 0.95, 7.0], dtype=np.float32)).tolist()
        [1, 1, 2, 3, 3]
        """
        cell = ((scores - self.low) * self.scale).astype(np.int32)  # >= 0: scores >= low
        np.minimum(cell, self.settled.size - 1, out=cell)
        bins = self.settled[cell]
        open_ = np.flatnonzero(bins < 0)
        bins[open_] = np.searchsorted(self.ceiling, scores[open_], side="right")
        return bins



def chunk_updates(scores: np.ndarray, bins: ThresholdBins) -> tuple[np.ndarray, np.ndarray]:
    """One chunk's difference-array updates: ``(plus, minus)``, each shape (2, m) holding
    (bin, k) pairs; +1 at each plus, -1 at each minus (see module docstring).

    The scores above the lowest threshold are keyed by (row, bin) and sorted
    (a sort of those few, not of the block), so each occupied (row, bin) cell
    is a run of equal keys: its count ``c`` and, from the row's total, the
    ``g`` scores in higher bins.
    """
    rows, size = scores.shape
    n_bins = bins.ceiling.size + 1
    flat = np.flatnonzero(scores >= bins.ceiling[0])
    keys = np.sort(flat // size * n_bins + bins(scores.reshape(-1)[flat]), kind="stable")
    total = np.bincount(keys // n_bins, minlength=rows)
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    count = np.diff(np.r_[first, keys.size])
    row, b = np.divmod(keys[first], n_bins)
    # Scores in higher bins of the same row: the row's total minus those up to this cell.
    before_row = np.cumsum(total) - total
    higher = total[row] - (np.cumsum(count) - before_row[row])
    plus = np.stack([np.concatenate([b, np.zeros(rows, np.int64)]),
                     np.concatenate([higher, total])])  # every probe starts at k = total
    return plus, np.stack([b, higher + count])


@dataclass
class Difference:
    """The (bins x width) difference array, its width growing with the largest k added.

    Updates are buffered until they number an eighth of the array's cells (or
    :meth:`histogram` is called), so adding them, a pass over the array, costs
    at most about eight times their number.
    """

    n_bins: int
    diff: np.ndarray | None = None
    buffer: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    buffered: int = 0

    def add(self, plus: np.ndarray, minus: np.ndarray) -> None:
        self.buffer.append((plus, minus))
        self.buffered += plus.shape[1] + minus.shape[1]
        if self.diff is None or 8 * self.buffered >= self.diff.size:
            self._flush()

    def _flush(self) -> None:
        if not self.buffer:
            return
        plus = np.concatenate([p for p, _ in self.buffer], axis=1)
        minus = np.concatenate([m for _, m in self.buffer], axis=1)
        self.buffer, self.buffered = [], 0
        width = int(max(plus[1].max(initial=0), minus[1].max(initial=0))) + 1
        if self.diff is None or width > self.diff.shape[1]:
            grown = np.zeros((self.n_bins, width), np.int64)
            if self.diff is not None:
                grown[:, : self.diff.shape[1]] = self.diff
            self.diff = grown
        width = self.diff.shape[1]
        cells = self.n_bins * width
        self.diff += (np.bincount(plus[0] * width + plus[1], minlength=cells)
                      - np.bincount(minus[0] * width + minus[1], minlength=cells)
                      ).reshape(self.n_bins, width)

    def histogram(self, gallery_size: int) -> np.ndarray:
        """Probes by k at each threshold, (bins - 1) x (gallery_size + 1)."""
        self._flush()
        out = np.zeros((self.n_bins, gallery_size + 1), np.int64)
        if self.diff is not None:
            out[:, : self.diff.shape[1]] = self.diff
        return np.cumsum(out, axis=0)[:-1]


def exceedance_histogram(
    probes: np.ndarray,
    gallery: np.ndarray,
    thresholds: object,
    *,
    own_column: np.ndarray | None = None,
    distance: str = "cosine",
    chunk_size: int | None = None,
    client: Any = None,
) -> np.ndarray:
    """How many probes have exactly ``k`` other gallery entries ``>= t``, per threshold.

    The streaming form of :func:`audit.matching.gallery.gallery_counts` (see
    the module docstring). ``own_column`` (one gallery column per probe, or
    None when no probe has an entry) is left out of each probe's count. With
    a Dask ``client``, chunks of ``chunk_size`` probes run as tasks (the
    gallery sent to each worker once) and the result is the same.

    Memory: the chunk's float32 score block (default :data:`BLOCK_BYTES`), its
    mask, and about 40 bytes per score above the lowest threshold (its
    position, bin and sort key); the (T + 1) x (largest k + 1) int64
    difference array, the buffered updates (16 bytes each, at most an eighth
    as many as its cells plus one chunk's: a quarter of its size) and, while
    they are added, two arrays of its size. It does not grow with the number
    of probes.

    Returns
    -------
    ndarray of int64, shape (len(thresholds), G + 1)
        Row ``j`` counts the probes by ``k`` at the ``j``-th sorted threshold.

    Examples
    --------
    Scores (1.0, 0.0) and (0.6, 0.8): at 0.5 one probe reaches 1 entry and one 2;
    at 0.7 both reach 1.

    >>> exceedance_histogram(np.array([[1.0, 0.0], [0.6, 0.8]]), np.eye(2), [0.5, 0.7])
    array([[0, 1, 1],
           [0, 2, 0]])
    """
    check_distance(distance)
    grid = np.unique(np.asarray(thresholds, dtype=np.float64))
    if grid.size == 0 or not np.all(np.isfinite(grid)):
        raise ValueError(BAD_THRESHOLDS)
    gallery = np.asarray(gallery, dtype=np.float32)
    probes = np.asarray(probes, dtype=np.float32)
    step = chunk_size or max(1, BLOCK_BYTES // (4 * max(len(gallery), 1)))
    bins = ThresholdBins.of(float32_ceiling(grid))
    starts = range(0, len(probes), step)
    owns = [None if own_column is None else np.asarray(own_column[b: b + step]) for b in starts]
    total = Difference(grid.size + 1)
    if client is None:
        for b, own in zip(starts, owns, strict=True):
            total.add(*_chunk(probes[b: b + step], gallery, own, bins, distance))
    else:
        from threadpoolctl import threadpool_info

        blas = max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"),
                   default=1)
        [shared] = client.scatter([gallery], broadcast=True, hash=False)
        futures = [client.submit(_chunk_task, probes[b: b + step], shared, own, bins, distance,
                                 blas, pure=False) for b, own in zip(starts, owns, strict=True)]
        for future in futures:  # in chunk order, each released once added
            total.add(*future.result())
            future.release()
    return total.histogram(len(gallery))


def _chunk(probes: np.ndarray, gallery: np.ndarray, own: np.ndarray | None,
           bins: ThresholdBins, distance: str) -> tuple[np.ndarray, np.ndarray]:
    """One chunk: its scores (own entries left out) and their difference-array updates."""
    scores = similarity_matrix(probes, gallery, distance=distance)
    if own is not None:
        scores[np.arange(len(scores)), own] = -np.inf
    return chunk_updates(scores, bins)


def _chunk_task(probes, gallery, own, bins: ThresholdBins, distance: str, blas_threads: int):
    """:func:`_chunk` as a Dask task, with the client's BLAS thread count: a float32
    product's last bit depends on it (as in :func:`audit.matching.identification.search_watchlist`)."""
    from threadpoolctl import threadpool_limits

    from audit.matching.identification import BLAS_LOCK

    with BLAS_LOCK, threadpool_limits(limits=blas_threads, user_api="blas"):
        return _chunk(probes, gallery, own, bins, distance)

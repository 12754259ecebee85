"""The streamed watchlist-size histogram: exact binning, a brute-force count, and Dask."""

from __future__ import annotations

import numpy as np
import pytest

from audit.matching.streaming import ThresholdBins, exceedance_histogram, float32_ceiling


def brute_histogram(probes, gallery, thresholds, own=None):
    """Probes by k at each threshold, counted one probe and one threshold at a time."""
    from audit.matching.similarity import similarity_matrix

    scores = similarity_matrix(probes, gallery, distance="cosine").astype(np.float64)
    if own is not None:
        scores[np.arange(len(scores)), own] = -np.inf
    grid = np.unique(thresholds)
    out = np.zeros((grid.size, len(gallery) + 1), dtype=np.int64)
    for j, t in enumerate(grid):
        for row in scores:
            out[j, int(np.sum(row >= t))] += 1
    return out


@pytest.mark.parametrize("thresholds", [
    np.linspace(0.1, 0.6, 200),                       # evenly spread
    np.array([0.3]),                                  # one threshold
    np.r_[np.linspace(-0.2, 0.0, 5), 0.5, 0.5000001],  # uneven, two nearly equal
])
def test_lookup_bins_equal_searchsorted_on_every_float32_near_the_thresholds(thresholds):
    ceiling = float32_ceiling(np.unique(thresholds))
    bins = ThresholdBins.of(ceiling)
    rng = np.random.default_rng(1)
    near = np.concatenate([ceiling, np.nextafter(ceiling, np.float32(np.inf)),
                           np.nextafter(ceiling, np.float32(-np.inf))])
    scores = np.concatenate([near, rng.uniform(ceiling[0], 1.0, 20_000).astype(np.float32),
                             np.float32([1.0, 3.5])])
    scores = scores[scores >= ceiling[0]]
    np.testing.assert_array_equal(bins(scores), np.searchsorted(ceiling, scores, side="right"))


def test_streamed_histogram_equals_a_brute_force_count():
    rng = np.random.default_rng(5)
    probes = rng.normal(size=(40, 6)).astype(np.float32)
    gallery = rng.normal(size=(25, 6)).astype(np.float32)
    own = rng.integers(0, 25, size=40)
    thresholds = np.r_[np.linspace(0.0, 0.9, 30), 0.95]
    for chunk in (1, 9, None):
        got = exceedance_histogram(probes, gallery, thresholds, own_column=own, chunk_size=chunk)
        np.testing.assert_array_equal(got, brute_histogram(probes, gallery, thresholds, own))


def test_streamed_histogram_on_dask_is_the_same():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(8)
    probes = rng.normal(size=(60, 8)).astype(np.float32)
    gallery = rng.normal(size=(30, 8)).astype(np.float32)
    own = rng.integers(0, 30, size=60)
    thresholds = np.linspace(0.0, 0.8, 50)
    local = exceedance_histogram(probes, gallery, thresholds, own_column=own, chunk_size=7)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = exceedance_histogram(probes, gallery, thresholds, own_column=own,
                                      chunk_size=7, client=client)
    np.testing.assert_array_equal(remote, local)
    assert remote.sum() == 60 * 50

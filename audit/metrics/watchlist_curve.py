r"""FPIR and FNIR as functions of watchlist size W: an exact average over every watchlist.

A passer-by's chance of a false alert grows with the number of watchlist
entries. Drawing R watchlists of one size measures one point with draw noise;
here every watchlist of size W drawn uniformly from the G gallery subjects is
averaged over exactly, from the per-probe counts of
:func:`audit.matching.gallery.gallery_counts`.

**Non-mated probe** (a passer-by, its subject off the list): the W entries
are a uniform W-subset of the :math:`G' = G - 1` other subjects. If
:math:`k` of them score :math:`\ge t` with the probe, the chance that the
list holds none of them is hypergeometric:

.. math::
   P(\text{no alert}) = \binom{G'-k}{W} \Big/ \binom{G'}{W}, \qquad
   \mathrm{FPIR}(W, t) = \frac{1}{n} \sum_{\text{probes}} \Big(1 - P(\text{no alert})\Big)

**Mated probe** (its subject on the list, the probe not the entry itself):
the other :math:`W - 1` entries are a uniform subset of the :math:`G'`
others. It is a hit when its own entry scores :math:`\ge t` and none of the
:math:`m` others scoring strictly higher is on the list (rank 1; ties go to
the own entry):

.. math::
   P(\text{hit}) = [s_{\text{own}} \ge t]\; \binom{G'-m}{W-1} \Big/ \binom{G'}{W-1},
   \qquad \mathrm{FNIR}(W, t) = 1 - \text{mean } P(\text{hit})

Binomials are taken in log space (``scipy.special.gammaln``); the
probability is looked up once per distinct count and gathered, so the work is
arrays over (probes, thresholds, sizes), with no loop over probes or
thresholds. Probes that failed to acquire count as trials without an alert
(a miss when mated), as in :mod:`audit.metrics.rates`.

**Repeated captures.** A passer-by seen k times (k distinct images of one
person, where the data has them) alerts when any capture does, that is when
the watchlist holds any of the people that at least one capture reaches; with
:math:`u` such people the same formula gives the per-person rate
``fpir_per_person`` (people with k usable images only; one trial each).

**Intervals.** A rate is a mean of per-probe expected errors; probes of one
person are correlated, so the variance is the one-way cluster-robust
(sandwich) variance by probe subject of :mod:`audit.metrics.variance`, with
expected errors in place of counts, and the interval is the Wilson interval
at the effective sample size (:func:`audit.metrics.score_limits.set_intervals`).
The gallery side (a person on the list who resembles many passers-by) is
not resampled: the intervals treat the gallery as fixed. ``n_errors`` holds
the expected number of errors rounded to a whole number; ``value`` is exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import gammaln

from audit.metrics import table, trials
from audit.metrics.score_limits import from_design_effects, set_intervals
from audit.metrics.variance import ClusterCounts, design_effects, rate_variance

#: ``statistic`` of the rows of the watchlist-size curve.
CURVE = "watchlist_curve"
#: Metric of a passer-by seen ``captures`` times: alerted if any capture alerts.
FPIR_PER_PERSON = "fpir_per_person"
#: Column of the watchlist size W (null on rows not tied to one).
SIZE = table.WATCHLIST_SIZE
#: ``ci_method`` suffix is the interval's; the estimator is named here for the report.
ESTIMATOR = "exact hypergeometric average over all watchlists of size W"
BAD_SIZES = "watchlist sizes must be integers from 1 to {largest} (the gallery holds {g}), got {bad}"


def size_grid(gallery_size: int, *, points: int = 25, include: tuple[int, ...] = ()) -> np.ndarray:
    """Watchlist sizes from 1 to ``G - 1``, evenly on a log scale, plus ``include`` in range.

    >>> size_grid(1000, points=4).tolist()
    [1, 10, 100, 999]
    """
    largest = max(gallery_size - 1, 1)
    grid = np.unique(np.round(np.logspace(0, np.log10(largest), points)).astype(np.int64))
    extra = [int(w) for w in include if 1 <= w <= largest]
    return np.unique(np.concatenate([grid, np.asarray(extra, dtype=np.int64)]))


def no_alert_probability(k: np.ndarray, others: int, sizes: np.ndarray) -> np.ndarray:
    r"""``C(others - k, W) / C(others, W)`` for every ``k`` (any shape) and every W in ``sizes``.

    Shape ``k.shape + (len(sizes),)``; 0 where ``k > others - W``. Computed
    once per distinct ``k`` in log space, then gathered.

    >>> no_alert_probability(np.array([0, 1, 2]), 3, np.array([1, 2])).round(4).tolist()
    [[1.0, 1.0], [0.6667, 0.3333], [0.3333, 0.0]]
    """
    distinct, inverse = np.unique(np.asarray(k, dtype=np.int64), return_inverse=True)
    free = others - distinct[:, None].astype(np.float64)
    w = np.asarray(sizes, dtype=np.float64)[None, :]
    with np.errstate(invalid="ignore"):
        log_p = (gammaln(free + 1) - gammaln(free - w + 1)
                 - gammaln(others + 1.0) + gammaln(others - w + 1))
    table_ = np.where(free >= w, np.exp(log_p), 0.0)
    return table_[inverse.reshape(np.shape(k))]


def fpir_from_histogram(histogram: np.ndarray, others: int, sizes: np.ndarray) -> np.ndarray:
    """FPIR at every (threshold, W) from the count of probes by ``k`` at each threshold.

    ``histogram[j, k]`` probes have ``k`` of the ``others`` candidate entries
    at or above threshold ``j`` (:func:`audit.matching.gallery.exceedance_histogram`);
    the mean of ``1 - P(no alert)`` is then one matrix product, shape
    ``(T, len(sizes))``. A point estimate: intervals need the per-subject sums
    of :func:`curve_rows`.

    >>> fpir_from_histogram(np.array([[1, 1, 0, 0]]), 3, np.array([1, 3])).round(4).tolist()
    [[0.1667, 0.5]]
    """
    p = no_alert_probability(np.arange(others + 1), others, np.asarray(sizes))
    n = histogram.sum(axis=1, keepdims=True).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - (histogram[:, : others + 1] @ p) / n


def expected_errors(counts, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                         np.ndarray]:
    """Per-probe expected false alerts and misses at every (threshold, size).

    Returns ``(nonmated, fpir_errors, mated, fnir_errors)``: the probe masks
    and arrays of shape (probes in the mask, T, len(sizes)).
    """
    others = counts.gallery_size - 1
    sizes = np.asarray(sizes, dtype=np.int64)
    nonmated = np.ones(len(counts.probe_id), dtype=bool)
    alert = 1.0 - no_alert_probability(counts.others_at_least, others, sizes)
    alert[~counts.acquired] = 0.0
    mated = counts.has_entry & ~counts.entry
    own = counts.own_score[mated]
    with np.errstate(invalid="ignore"):
        reaches = (own[:, None] >= counts.thresholds[None, :]) & counts.acquired[mated][:, None]
    rank_one = no_alert_probability(counts.beaten_by[mated], others, sizes - 1)
    miss = 1.0 - reaches[:, :, None] * rank_one[:, None, :]
    return nonmated, alert, mated, miss


def curve_rows(counts, points: pd.DataFrame, *, sizes: np.ndarray, images: pd.DataFrame,
               groupings: tuple[str, ...], confidence: float, interval: str,
               min_subjects: int, min_trials: int) -> pd.DataFrame:
    """METRICS rows of FPIR and FNIR at every (operating point, size), overall and by group.

    ``points`` has one row per operating point: ``threshold``, ``operating_point``,
    ``point_kind``, ``target``; every threshold must be in ``counts.thresholds``.
    ``images`` maps ``image_id`` to the grouping columns (one column each).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    if sizes.size == 0 or sizes.min() < 1 or sizes.max() > counts.gallery_size - 1:
        raise ValueError(BAD_SIZES.format(largest=counts.gallery_size - 1,
                                          g=counts.gallery_size, bad=sizes.tolist()))
    where = np.searchsorted(counts.thresholds, points["threshold"].to_numpy(np.float64))
    nonmated, alert, mated, miss = expected_errors(counts, sizes)
    labels = images.set_index("image_id").reindex(counts.probe_id)
    parts = [("fpir", counts.probe_subject[nonmated], labels[nonmated], alert),
             ("fnir", counts.probe_subject[mated], labels[mated], miss)]
    if counts.person_at_least is not None:  # passers-by seen ``captures`` times
        person_labels = labels.set_axis(counts.probe_subject).groupby(level=0).first()
        parts.append((FPIR_PER_PERSON, counts.person_subject,
                      person_labels.reindex(counts.person_subject),
                      1.0 - no_alert_probability(counts.person_at_least,
                                                 counts.gallery_size - 1, sizes)))
    frames = []
    for metric, subjects, labelled, errors in parts:
        errors = errors[:, where, :]
        for grouping in ("overall", *groupings):
            group = (np.full(len(subjects), "all", dtype=object) if grouping == "overall"
                     else labelled[grouping].to_numpy(object))
            for value in sorted(pd.unique(group), key=trials.natural_order):
                chosen = group == value
                frames.append(_group_rows(metric, grouping, str(value), errors[chosen],
                                          subjects[chosen], points, sizes))
    rows = pd.concat(frames, ignore_index=True)
    return _finish(rows, confidence=confidence, interval=interval,
                   min_subjects=min_subjects, min_trials=min_trials)


def _group_rows(metric: str, grouping: str, group: str, errors: np.ndarray,
                subjects: np.ndarray, points: pd.DataFrame, sizes: np.ndarray) -> pd.DataFrame:
    """One group's rows over (point, size), with the per-subject sums for its variance."""
    n_points, n_sizes = errors.shape[1], errors.shape[2]
    code, distinct = pd.factorize(subjects)
    owner = sparse.csr_matrix((np.ones(code.size), (code, np.arange(code.size))),
                              shape=(distinct.size, code.size))
    per_subject = owner @ errors.reshape(code.size, -1)  # subjects x (points * sizes)
    probes = np.asarray(owner.sum(axis=1)).ravel()
    trials_matrix = np.repeat(probes[:, None], n_points * n_sizes, axis=1)
    rates, variances = rate_variance(ClusterCounts(sparse.csr_matrix(per_subject),
                                                   sparse.csr_matrix(trials_matrix)))
    point_rows = points.reset_index(drop=True).iloc[np.repeat(np.arange(n_points), n_sizes)]
    return point_rows.assign(
        metric=metric, grouping=grouping, group=group,
        **{SIZE: np.tile(sizes, n_points)},
        value=rates, n_trials=code.size, n_subjects=distinct.size,
        _errors=per_subject.sum(axis=0), _variance=variances,
    ).reset_index(drop=True)


def _finish(rows: pd.DataFrame, *, confidence: float, interval: str, min_subjects: int,
            min_trials: int) -> pd.DataFrame:
    """Intervals, sufficiency and the structure columns of the METRICS table."""
    n = rows["n_trials"].to_numpy(np.float64)
    deff = design_effects(rows["value"].to_numpy(), rows["_variance"].to_numpy(), n)
    # Expected errors are not whole numbers: the interval uses them as they are.
    rows["n_errors"] = rows["_errors"].to_numpy()
    variance = from_design_effects(rows["value"].to_numpy(), n, deff)
    rows = set_intervals(rows, variance, interval=interval, confidence=confidence)
    rows["n_errors"] = np.round(rows["_errors"]).astype(np.int64)
    rows["sufficient"] = ((rows["n_subjects"] >= min_subjects) & (rows["n_trials"] >= min_trials)
                          & ~trials.has_unknown_label(rows["group"]))
    rows[table.STATISTIC] = CURVE
    rows[table.GROUP_B] = None
    return rows.drop(columns=["_errors", "_variance"])

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

from audit.matching.makeup import UNIFORM, Composition, largest_size
from audit.metrics import table, trials
from audit.metrics.expected_errors import expected_parts, none_listed
from audit.metrics.score_limits import from_design_effects, set_intervals
from audit.metrics.variance import ClusterCounts, design_effects, rate_variance

#: ``statistic`` of the rows of the watchlist-size curve.
CURVE = "watchlist_curve"
#: ``statistic`` and ``metric`` of the rows stating the watchlist's make-up.
COMPOSITION, COMPOSITION_SHARE = "watchlist_composition", "watchlist_share"
#: Column of the watchlist size W (null on rows not tied to one).
SIZE = table.WATCHLIST_SIZE
#: ``ci_method`` suffix is the interval's; the estimator is named here for the report.
ESTIMATOR = "exact hypergeometric average over all watchlists of size W"
BAD_SIZES = "watchlist sizes must be integers from 1 to {largest} (the gallery holds {g}), got {bad}"


def size_grid(gallery_size: int, *, points: int = 25, include: tuple[int, ...] = ()) -> np.ndarray:
    """Watchlist sizes from 1 to ``G - 1``, evenly on a log scale, plus the powers of ten
    (the sizes reports quote) and ``include``, in range.

    >>> size_grid(2000, points=3).tolist()
    [1, 10, 45, 100, 1000, 1999]
    """
    largest = max(gallery_size - 1, 1)
    grid = np.unique(np.round(np.logspace(0, np.log10(largest), points)).astype(np.int64))
    tens = 10 ** np.arange(1, int(np.log10(largest)) + 1)
    extra = [int(w) for w in (*tens, *include) if 1 <= w <= largest]
    return np.unique(np.concatenate([grid, np.asarray(extra, dtype=np.int64)]))


def no_alert_probability(k: np.ndarray, others: int, sizes: np.ndarray) -> np.ndarray:
    r"""``C(others - k, W) / C(others, W)`` for every ``k`` (any shape) and every W in ``sizes``.

    Shape ``k.shape + (len(sizes),)``; 0 where ``k > others - W``. Computed
    once per distinct ``k`` (:func:`audit.metrics.expected_errors.none_listed`),
    then gathered.

    >>> no_alert_probability(np.array([0, 1, 2]), 3, np.array([1, 2])).round(4).tolist()
    [[1.0, 1.0], [0.6667, 0.3333], [0.3333, 0.0]]
    """
    distinct, inverse = np.unique(np.asarray(k, dtype=np.int64), return_inverse=True)
    table_ = none_listed(distinct[:, None], others, np.asarray(sizes)[None, :])
    return table_[inverse.reshape(np.shape(k))]


def fpir_from_histogram(histogram: np.ndarray, others: int, sizes: np.ndarray) -> np.ndarray:
    """FPIR at every (threshold, W) from the count of probes by ``k`` at each threshold.

    ``histogram[j, k]`` probes have ``k`` of the ``others`` candidate entries
    at or above threshold ``j`` (:func:`audit.matching.streaming.exceedance_histogram`);
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


def curve_rows(counts, points: pd.DataFrame, *, sizes: np.ndarray, images: pd.DataFrame,
               groupings: tuple[str, ...], confidence: float, interval: str,
               min_subjects: int, min_trials: int,
               composition: Composition | None = None) -> pd.DataFrame:
    """METRICS rows of FPIR and FNIR at every (operating point, size), overall and by group.

    ``points`` has one row per operating point: ``threshold``, ``operating_point``,
    ``point_kind``, ``target``; every threshold must be in ``counts.thresholds``.
    ``images`` maps ``image_id`` to the grouping columns (one column each).
    ``composition`` is the watchlist's make-up (uniform by default); a stated
    one also writes ``fpir_uniform`` rows, FPIR under a uniform make-up.
    """
    comp = composition or Composition(UNIFORM)
    sizes = np.asarray(sizes, dtype=np.int64)
    largest = largest_measurable(counts, comp)
    if sizes.size == 0 or sizes.min() < 1 or sizes.max() > largest:
        raise ValueError(BAD_SIZES.format(largest=largest, g=counts.gallery_size,
                                          bad=sizes.tolist()))
    where = np.searchsorted(counts.thresholds, points["threshold"].to_numpy(np.float64))
    labels = images.set_index("image_id").reindex(counts.probe_id)
    person_labels = labels.set_axis(counts.probe_subject).groupby(level=0).first()
    frames = []
    for part in expected_parts(counts, sizes, comp):
        labelled = (labels.iloc[part.rows] if part.rows is not None
                    else person_labels.reindex(part.subjects))
        errors = part.errors[:, where, :]
        weights = part.weights if part.weights is not None else np.ones((len(errors), sizes.size))
        for grouping in ("overall", *groupings):
            group = (np.full(len(part.subjects), "all", dtype=object) if grouping == "overall"
                     else labelled[grouping].to_numpy(object))
            for value in sorted(pd.unique(group), key=trials.natural_order):
                chosen = group == value
                frames.append(_group_rows(part.metric, grouping, str(value), errors[chosen],
                                          weights[chosen], part.subjects[chosen], points, sizes))
    rows = pd.concat(frames, ignore_index=True)
    return _finish(rows, confidence=confidence, interval=interval,
                   min_subjects=min_subjects, min_trials=min_trials)


def largest_measurable(counts, comp: Composition) -> int:
    """The largest W the gallery allows under ``comp`` (``G - 1`` when uniform)."""
    if comp.uniform:
        return counts.gallery_size - 1
    return largest_size(comp, counts.strata, counts.stratum_people)


def _group_rows(metric: str, grouping: str, group: str, errors: np.ndarray, weights: np.ndarray,
                subjects: np.ndarray, points: pd.DataFrame, sizes: np.ndarray) -> pd.DataFrame:
    """One group's rows over (point, size), with the per-subject sums for its variance.

    ``weights`` (probes x sizes) weight each probe's errors and trial (ones
    but for miss rates under a stratified make-up, :mod:`audit.metrics.expected_errors`).
    """
    n_points, n_sizes = errors.shape[1], errors.shape[2]
    code, distinct = pd.factorize(subjects)
    owner = sparse.csr_matrix((np.ones(code.size), (code, np.arange(code.size))),
                              shape=(distinct.size, code.size))
    weighted = errors * weights[:, None, :]
    per_subject = owner @ weighted.reshape(code.size, -1)  # subjects x (points * sizes)
    trials_matrix = owner @ np.broadcast_to(weights[:, None, :], errors.shape).reshape(
        code.size, -1)
    rates, variances = rate_variance(ClusterCounts(sparse.csr_matrix(per_subject),
                                                   sparse.csr_matrix(trials_matrix)))
    point_rows = points.reset_index(drop=True).iloc[np.repeat(np.arange(n_points), n_sizes)]
    return point_rows.assign(
        metric=metric, grouping=grouping, group=group,
        **{SIZE: np.tile(sizes, n_points)},
        value=rates, n_trials=code.size, n_subjects=distinct.size,
        _errors=np.nan_to_num(rates * code.size), _variance=variances,
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
                          & ~trials.has_unknown_label(rows["group"]) & rows["value"].notna())
    rows[table.STATISTIC] = CURVE
    rows[table.GROUP_B] = None
    return rows.drop(columns=["_errors", "_variance"])


def composition_rows(counts, comp: Composition, *, size: int, grouping: str) -> pd.DataFrame:
    """The watchlist's make-up at W = ``size``, one row per group of ``grouping``.

    ``value`` is the group's share of the list (for a uniform make-up, its
    expected share: its share of the gallery), ``target`` the stated share
    (null when uniform), ``n_trials`` the entries drawn from it (expected,
    rounded, when uniform) and ``n_subjects`` the gallery people it holds.
    ``counts`` must be split by ``grouping`` (``gallery_counts(strata=...)``).
    """
    people = np.asarray(counts.stratum_people, dtype=np.float64)
    if comp.uniform:
        share, stated = people / people.sum(), np.full(people.size, np.nan)
        drawn = np.round(share * size).astype(np.int64)
    else:
        drawn = comp.quotas(counts.strata, np.array([size]))[:, 0]
        share = drawn / size
        stated = np.array([comp.shares.get(str(s), 0.0) for s in counts.strata])
    return pd.DataFrame({
        "metric": COMPOSITION_SHARE, "grouping": grouping, "group": counts.strata.astype(str),
        "threshold": np.nan, "value": share, "ci_low": np.nan, "ci_high": np.nan,
        "ci_method": None, "n_trials": drawn, "n_subjects": people.astype(np.int64),
        "n_errors": 0, "sufficient": True, table.OPERATING_POINT: None,
        table.STATISTIC: COMPOSITION, table.GROUP_B: None, table.POINT_KIND: None,
        table.TARGET: stated, SIZE: size})

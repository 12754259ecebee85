"""Error rates at one threshold, in ISO/IEC 19795-1 vocabulary.

Each function takes 1-D arrays of similarity scores (higher = more alike) and
one threshold ``t`` and returns one rate. The conventions are shared:

* **Ties:** a score equal to ``t`` is a match (1:1) or an alert (1:N).
* **Failure to acquire (FTA):** a NaN score means that no usable face was found
  on one side of the comparison. Each docstring says whether such trials are in
  the denominator; 1:N rates keep them (a wanted person who is not detected is
  not alerted), 1:1 rates drop them unless asked (ISO/IEC 2382-37:2022 counts
  FMR and FNMR over *completed* comparisons).
* **Undefined rates:** an empty denominator gives ``nan`` and an
  :class:`UndefinedRateWarning`, never 0.

These are FMR/FNMR and FPIR/FNIR, not FAR/FRR: in ISO/IEC 19795-1 the latter
fold failures to acquire into system-level decisions.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

#: Warning text for a rate whose denominator is empty.
EMPTY_DENOMINATOR = "{rate}: no {trials}; the rate is undefined (NaN), not 0"
#: Error texts of the input checks, kept as constants so tests can match them.
NOT_ONE_DIMENSIONAL = "{name} must be a 1-D array of scores, got shape {shape}"
INFINITE_SCORE = "{name} holds an infinite score; scores must be finite or NaN (FTA)"
NAN_THRESHOLD = "the threshold must be a number, not NaN"
LENGTH_MISMATCH = "{a} and {b} must have the same length, got {n_a} and {n_b}"


class UndefinedRateWarning(UserWarning):
    """A rate was asked of an empty set of trials, so its value is NaN."""


def check_scores(scores: object, *, name: str) -> np.ndarray:
    """Return ``scores`` as a 1-D float64 array; NaN (FTA) allowed, +/-inf not."""
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(NOT_ONE_DIMENSIONAL.format(name=name, shape=array.shape))
    if np.isinf(array).any():
        raise ValueError(INFINITE_SCORE.format(name=name))
    return array


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` as a float; +/-inf are allowed, NaN is not."""
    value = float(threshold)
    if math.isnan(value):
        raise ValueError(NAN_THRESHOLD)
    return value


def ratio(errors: int, trials: int, *, rate: str, what: str) -> float:
    """``errors / trials``, or NaN plus :class:`UndefinedRateWarning` if ``trials == 0``."""
    if trials == 0:
        warnings.warn(
            EMPTY_DENOMINATOR.format(rate=rate, trials=what), UndefinedRateWarning, stacklevel=3
        )
        return float("nan")
    return errors / trials


def warn_empty_groups(rate: str, grouping: str, groups: list[str]) -> None:
    """Warn once that ``groups`` of ``grouping`` have no trials for ``rate`` (values NaN)."""
    if groups:
        what = f"trials in group(s) {', '.join(groups[:5])}{' ...' if len(groups) > 5 else ''}"
        warnings.warn(
            EMPTY_DENOMINATOR.format(rate=f"{rate} by {grouping}", trials=what),
            UndefinedRateWarning,
            stacklevel=3,
        )


def false_match_rate(nonmated: object, threshold: float) -> float:
    r"""False match rate (FMR) of non-mated comparisons at one threshold.

    .. math:: \mathrm{FMR}(t) = \frac{\#\{s_i \ge t\}}{\#\{s_i \text{ not NaN}\}}

    over the non-mated (different-subject) comparison scores :math:`s_i`.

    Parameters
    ----------
    nonmated : array-like of shape (n,)
        Similarity scores of non-mated comparisons; NaN marks a comparison that
        could not be made because a face was not acquired.
    threshold : float
        Decision threshold; a score equal to it is a match (a false match here).

    Returns
    -------
    float
        The share of completed non-mated comparisons scoring at or above
        ``threshold``. FTA (NaN) comparisons are **not** in the denominator: a
        comparison that was never made cannot be a false match. NaN with an
        :class:`UndefinedRateWarning` when no comparison was completed.

    References
    ----------
    ISO/IEC 19795-1:2021 and ISO/IEC 2382-37:2022, "false match rate":
    proportion of completed non-mated comparison trials that result in a false
    match.

    Examples
    --------
    >>> false_match_rate([0.1, 0.4, 0.5, float("nan"), 0.9], 0.5)
    0.5
    """
    scores = check_scores(nonmated, name="nonmated")
    t = check_threshold(threshold)
    done = scores[~np.isnan(scores)]
    errors = int(np.count_nonzero(done >= t))
    return ratio(errors, done.size, rate="FMR", what="completed non-mated comparisons")


def false_non_match_rate(mated: object, threshold: float, *, include_fta: bool = False) -> float:
    r"""False non-match rate (FNMR) of mated comparisons at one threshold.

    .. math:: \mathrm{FNMR}(t) = \frac{\#\{s_i < t\}}{\#\{s_i \text{ not NaN}\}}
       \quad\text{or, with FTA,}\quad \frac{\#\{s_i < t\} + \#\{s_i = \mathrm{NaN}\}}{n}

    Parameters
    ----------
    mated : array-like of shape (n,)
        Similarity scores of mated (same-subject) comparisons; NaN marks FTA.
    threshold : float
        Decision threshold; a score equal to it is a match (not an error).
    include_fta : bool, default=False
        False (ISO/IEC 19795-1 FNMR): FTA comparisons are dropped from numerator
        and denominator. True: each FTA comparison counts as a non-match and
        stays in the denominator, the figure a person experiences.

    Returns
    -------
    float
        The share of mated comparisons below ``threshold``. NaN with an
        :class:`UndefinedRateWarning` when the denominator is empty.

    References
    ----------
    ISO/IEC 19795-1:2021 and ISO/IEC 2382-37:2022, "false non-match rate".

    Examples
    --------
    >>> false_non_match_rate([0.3, 0.5, 0.8, float("nan")], 0.5)
    0.3333333333333333
    >>> false_non_match_rate([0.3, 0.5, 0.8, float("nan")], 0.5, include_fta=True)
    0.5
    """
    scores = check_scores(mated, name="mated")
    t = check_threshold(threshold)
    missing = np.isnan(scores)
    below = int(np.count_nonzero(scores[~missing] < t))
    if include_fta:
        n_missing = int(np.count_nonzero(missing))
        return ratio(below + n_missing, scores.size, rate="FNMR", what="mated comparisons")
    completed = int(np.count_nonzero(~missing))
    return ratio(below, completed, rate="FNMR", what="completed mated comparisons")


def false_positive_identification_rate(nonmated_best: object, threshold: float) -> float:
    r"""False positive identification rate (FPIR, false alert rate) of 1:N searches.

    .. math:: \mathrm{FPIR}(t) = \frac{\#\{b_i \ge t\}}{n}

    over the best watchlist scores :math:`b_i` of the *n* non-mated searches
    (passers-by who are not on the watchlist).

    Parameters
    ----------
    nonmated_best : array-like of shape (n,)
        Best watchlist score of each non-mated search; NaN marks a probe whose
        face was not acquired.
    threshold : float
        Alert threshold; a best score equal to it raises an alert.

    Returns
    -------
    float
        The share of non-mated searches that alert. A probe that failed to
        acquire **stays in the denominator** and never alerts (no face, no
        false alert): the rate is per passer-by, as the public experiences it.
        NaN with an :class:`UndefinedRateWarning` when there are no searches.

    References
    ----------
    ISO/IEC 19795-1:2021, "false-positive identification rate"; NIST IR 8271
    (FRVT Part 2: Identification), FPIR(N, T).

    Examples
    --------
    >>> false_positive_identification_rate([0.2, 0.6, float("nan"), 0.7], 0.6)
    0.5
    """
    scores = check_scores(nonmated_best, name="nonmated_best")
    t = check_threshold(threshold)
    alerts = int(np.count_nonzero(scores[~np.isnan(scores)] >= t))
    return ratio(alerts, scores.size, rate="FPIR", what="non-mated searches")


def _true_alerts(
    mated_best: object, best_is_true_entry: object, threshold: float
) -> tuple[int, int]:
    scores = check_scores(mated_best, name="mated_best")
    t = check_threshold(threshold)
    correct = np.asarray(best_is_true_entry, dtype=bool)
    if correct.shape != scores.shape:
        raise ValueError(
            LENGTH_MISMATCH.format(
                a="mated_best", b="best_is_true_entry", n_a=scores.size, n_b=correct.size
            )
        )
    hits = correct & ~np.isnan(scores)
    hits[hits] = scores[hits] >= t
    return int(np.count_nonzero(hits)), scores.size


def false_negative_identification_rate(
    mated_best: object, best_is_true_entry: object, threshold: float
) -> float:
    r"""False negative identification rate (FNIR, miss rate) of 1:N searches.

    .. math:: \mathrm{FNIR}(t) = 1 - \frac{\#\{c_i \wedge b_i \ge t\}}{n}

    over the *n* mated searches (people on the watchlist), where :math:`b_i` is
    the best watchlist score and :math:`c_i` says the best candidate is the
    person's own entry (rank 1, as NIST's FNIR(N, R=1, T)).

    Parameters
    ----------
    mated_best : array-like of shape (n,)
        Best watchlist score of each mated search; NaN marks FTA.
    best_is_true_entry : array-like of bool, shape (n,)
        Whether the top candidate is the searched person's own entry.
    threshold : float
        Alert threshold; a best score equal to it raises an alert.

    Returns
    -------
    float
        The share of mated searches *not* alerted on their own entry. A miss
        is a best score below ``threshold``, an alert on the wrong entry, or a
        failure to acquire: FTA **is in the denominator** and counts as a miss.
        NaN with an :class:`UndefinedRateWarning` when there are no searches.

    References
    ----------
    ISO/IEC 19795-1:2021, 3.22 "false-negative identification rate"; NIST IR
    8271 (FRVT Part 2: Identification), FNIR(N, R, T).

    Examples
    --------
    >>> false_negative_identification_rate(
    ...     [0.9, 0.6, 0.8, float("nan")], [True, True, False, False], 0.6)
    0.5
    """
    hits, n = _true_alerts(mated_best, best_is_true_entry, threshold)
    return ratio(n - hits, n, rate="FNIR", what="mated searches")


def true_positive_identification_rate(
    mated_best: object, best_is_true_entry: object, threshold: float
) -> float:
    r"""True positive identification rate (TPIR, hit rate): ``1 - FNIR``.

    .. math:: \mathrm{TPIR}(t) = \frac{\#\{c_i \wedge b_i \ge t\}}{n}

    Same inputs, tie rule and FTA handling (in the denominator, never a hit) as
    :func:`false_negative_identification_rate`.

    References
    ----------
    NIST IR 8271 (FRVT Part 2: Identification), TPIR = 1 - FNIR.

    Examples
    --------
    >>> true_positive_identification_rate(
    ...     [0.9, 0.6, 0.8, float("nan")], [True, True, False, False], 0.6)
    0.5
    """
    hits, n = _true_alerts(mated_best, best_is_true_entry, threshold)
    return ratio(hits, n, rate="TPIR", what="mated searches")


def failure_to_acquire_rate(fta: object) -> float:
    r"""Failure-to-acquire rate (FTA): share of images with no usable face.

    .. math:: \mathrm{FTA} = \frac{\#\{\text{images without a usable face}\}}{\#\{\text{images}\}}

    Parameters
    ----------
    fta : array-like of bool, shape (n,)
        One flag per image (or capture attempt): True when acquisition failed.

    Returns
    -------
    float
        The share of True flags; no threshold is involved. NaN with an
        :class:`UndefinedRateWarning` when there are no images.

    References
    ----------
    ISO/IEC 19795-1:2021, "failure-to-acquire rate".

    Examples
    --------
    >>> failure_to_acquire_rate([False, True, False, False])
    0.25
    """
    flags = np.asarray(fta, dtype=bool).ravel()
    return ratio(int(np.count_nonzero(flags)), flags.size, rate="FTA", what="images")

"""LFW View 2 verification accuracy, 10-fold, as the LFW benchmark defines it.

Labeled Faces in the Wild (Huang et al., 2007, UMass TR 07-49) reports
accuracy on View 2: 6,000 pairs in 10 folds of 300 mated + 300 non-mated
pairs. For each fold k a decision threshold is chosen on the other 9 folds and
applied unchanged to fold k; the result is the mean accuracy over the 10
folds with its spread (LFW asks for the standard error, sample standard
deviation / sqrt(10)). This is the figure model cards quote (dlib: 99.38%),
so an audit reproduces it before breaking it down.

Two things the benchmark leaves open are made explicit here:

- failures to acquire (FTA): pairs where either image had no usable face.
  Accuracy is given with those pairs excluded, and with them counted as
  "different" decisions (score = -inf, which no threshold accepts), so a
  mated FTA pair is an error and a non-mated one is correct;
- demographic breakdown: one threshold per fold, chosen on all training
  pairs, is read per group of the test fold. A pair's group (e.g. gender) is
  its subject's for a mated pair; for a non-mated pair, the shared value if
  both people have it, else ``mixed``; ``unknown`` whenever either label is
  unknown (or a mated pair's two labels disagree).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.metrics.separation import auc_and_eer
from audit.schema import MANIFEST, SCORES, SIMILARITY_KEY, UNKNOWN, coerce_table

#: How pairs with a failure to acquire are treated, in output order.
FTA_HANDLINGS = ("excluded", "as_different")
#: Group label of a non-mated pair whose two people differ in the grouping column.
MIXED = "mixed"
#: Group label of the all-pairs rows.
OVERALL = "overall"

# Schema metadata key under which audit.matching names the score's similarity.


@dataclass(frozen=True)
class LfwAccuracy:
    """Result of :func:`lfw_accuracy`.

    Attributes
    ----------
    folds : DataFrame
        One row per (``fta_handling``, ``group``, ``fold``): ``threshold``
        (chosen on the other folds), ``n_pairs`` (test pairs used),
        ``n_fta_pairs`` (test pairs with an FTA, excluded or counted as
        different), ``n_correct`` and ``accuracy`` (NaN with no pairs).
    summary : DataFrame
        One row per (``fta_handling``, ``group``): ``mean_accuracy`` over the
        folds with pairs, ``std_accuracy`` (sample standard deviation, ddof=1),
        ``standard_error`` (std / sqrt(n_folds), LFW's "S_E"), ``n_folds``,
        ``n_pairs``, ``n_fta_pairs``, and the threshold-free ``auc`` and
        ``eer`` of all the group's pairs pooled over folds
        (:func:`audit.metrics.separation.auc_and_eer`).
    similarity : str
        The score's similarity, from the scores table's metadata; empty when the
        table does not record it (a score log's).
    group_column : str
        The manifest column that defines the groups.
    """

    folds: pd.DataFrame
    summary: pd.DataFrame
    similarity: str
    group_column: str


def best_threshold(scores: np.ndarray, mated: np.ndarray) -> float:
    """The threshold that maximises accuracy on training pairs.

    A pair is decided "same" when ``score >= threshold``. Candidates are the
    distinct finite training scores (so -inf, an FTA counted as "different",
    is never accepted). Ties: among candidates of equal, highest accuracy the
    highest threshold is chosen, the strictest, with the fewest false matches.
    One sort and a ``searchsorted`` per class, no loop over candidates.

    Returns NaN when there is no finite score.

    Examples
    --------
    Mated 0.9, 0.5 and non-mated 0.6, 0.2: thresholds 0.9 and 0.5 both make
    3 of 4 decisions right, so the higher, 0.9, is chosen.

    >>> best_threshold(np.array([0.9, 0.5, 0.6, 0.2]), np.array([True, True, False, False]))
    0.9
    """
    scores = np.asarray(scores, dtype=np.float64)
    mated = np.asarray(mated, dtype=bool)
    candidates = np.unique(scores[np.isfinite(scores)])
    if len(candidates) == 0:
        return float("nan")
    genuine = np.sort(scores[mated])
    impostor = np.sort(scores[~mated])
    accepted_mated = len(genuine) - np.searchsorted(genuine, candidates, side="left")
    rejected_non_mated = np.searchsorted(impostor, candidates, side="left")
    correct = accepted_mated + rejected_non_mated
    return float(candidates[np.flatnonzero(correct == correct.max())[-1]])


def lfw_accuracy(
    scores: pa.Table | pd.DataFrame,
    manifest: pa.Table | pd.DataFrame,
    *,
    group_column: str = "gender",
) -> LfwAccuracy:
    """10-fold accuracy of verification scores on a fixed protocol such as LFW View 2.

    Parameters
    ----------
    scores : Arrow table or DataFrame with :data:`audit.schema.SCORES` columns
        Verification rows, each with its protocol ``fold`` (at least two folds);
        null ``score`` marks a failure to acquire.
    manifest : Arrow table or DataFrame with :data:`audit.schema.MANIFEST` columns
        Must hold ``group_column`` for every image of the pairs.
    group_column : str
        Demographic column for the breakdown (default ``gender``).

    Returns
    -------
    LfwAccuracy
        Per-fold rows and the mean/std summary, overall and per group, for both
        FTA handlings (:data:`FTA_HANDLINGS`). Thresholds are chosen on all
        training pairs (:func:`best_threshold`), never per group.
    """
    table = _scores_table(scores)
    frame = _protocol_pairs(table)
    group = _pair_groups(frame, manifest, group_column)
    fold = frame["fold"].to_numpy(dtype=np.int64)
    mated = frame["mated"].to_numpy(dtype=bool)
    score = frame["score"].to_numpy(dtype=np.float64, na_value=np.nan)
    fta = np.isnan(score)

    rows, separation = [], []
    for handling in FTA_HANDLINGS:
        used = ~fta if handling == "excluded" else np.ones(len(score), dtype=bool)
        scored = np.where(fta, -np.inf, score)
        for name, member in _groups(group):
            auc, eer = auc_and_eer(scored[used & member], mated[used & member])
            separation.append({"fta_handling": handling, "group": name, "auc": auc, "eer": eer})
        rows.extend(_fold_rows(handling, scored, mated, fta, used, fold, group))
    folds = pd.DataFrame(rows)
    folds["accuracy"] = folds["n_correct"] / folds["n_pairs"].where(folds["n_pairs"] > 0)
    summary = _summarise(folds).merge(pd.DataFrame(separation), on=["fta_handling", "group"])
    return LfwAccuracy(
        folds=folds,
        summary=summary,
        similarity=_similarity_name(table),
        group_column=group_column,
    )


def _protocol_pairs(table: pa.Table) -> pd.DataFrame:
    """The pairs with their protocol folds, refused unless every pair has a reference
    and a fold and there are at least two folds (k-fold needs a held-out fold)."""
    frame = table.select(["probe_id", "reference_id", "score", "mated", "fold"]).to_pandas()
    if frame["reference_id"].isna().any():
        raise ValueError("verification rows need a reference_id")
    if frame["fold"].isna().any():
        raise ValueError("every pair needs its protocol fold (null fold found)")
    if frame["fold"].nunique() < 2:
        raise ValueError("10-fold accuracy needs at least two folds")
    return frame


def _fold_rows(handling: str, scored: np.ndarray, mated: np.ndarray, fta: np.ndarray,
               used: np.ndarray, fold: np.ndarray, group: np.ndarray) -> list[dict]:
    """Counts of each held-out fold per group, at the threshold learned on the other
    folds' pairs of all groups (as the LFW protocol prescribes)."""
    rows = []
    for k in np.unique(fold):
        train = used & (fold != k)
        threshold = best_threshold(scored[train], mated[train])
        correct = (scored >= threshold) == mated
        test = fold == k
        for name, member in _groups(group):
            rows.append(
                {
                    "fta_handling": handling,
                    "group": name,
                    "fold": int(k),
                    "threshold": threshold,
                    "n_pairs": int(np.sum(test & member & used)),
                    "n_fta_pairs": int(np.sum(test & member & fta)),
                    "n_correct": int(np.sum(test & member & used & correct)),
                }
            )
    return rows


def format_lfw_accuracy(result: LfwAccuracy, *, protocol: str = "") -> str:
    """A plain-text table: accuracy mean +/- std per group, both FTA handlings.

    ``protocol`` names the folds' protocol in the title (``"LFW"`` for LFW's own
    View 2 folds); a score log's folds are its own, so it is left out there. The
    score line names the similarity only when the scores record it (a score log's
    do not). It reads like this (the full-LFW Dlib figures; run ``lfr-audit lfw-view2``)::

        LFW 10-fold accuracy by gender (mean +/- std over folds)
        score: cosine similarity (1 - cosine distance); each fold's threshold chosen on the other folds
        group    pairs  FTA pairs  FTA excluded      FTA as different  AUC, EER (FTA ...
        overall  6000   12         99.13% +/- 0.31%  98.95% +/- 0.35%  0.9991, 0.93%  ...
    """
    summary = result.summary.set_index(["group", "fta_handling"])
    header = ("group", "pairs", "FTA pairs", "FTA excluded", "FTA as different",
              "AUC, EER (FTA excluded)", "AUC, EER (FTA as different)")
    lines = []
    for name in summary.index.get_level_values("group").unique():
        excluded = summary.loc[(name, "excluded")]
        as_different = summary.loc[(name, "as_different")]
        lines.append(
            (
                str(name),
                str(int(as_different["n_pairs"])),
                str(int(as_different["n_fta_pairs"])),
                _mean_std(excluded),
                _mean_std(as_different),
                _auc_eer(excluded),
                _auc_eer(as_different),
            )
        )
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    folds = result.folds["fold"].nunique()
    score = f"score: {result.similarity}; " if result.similarity else ""
    title = [
        f"{protocol + ' ' if protocol else ''}{folds}-fold accuracy by {result.group_column} "
        "(mean +/- std over folds)",
        f"{score}each fold's threshold chosen on the other folds; AUC and EER of all pairs pooled",
    ]
    body = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
        for row in [header, *lines]
    ]
    return "\n".join([*title, *body])


def _scores_table(scores: pa.Table | pd.DataFrame) -> pa.Table:
    table = coerce_table(scores, SCORES, "scores")
    kinds = set(table.column("trial_kind").to_pylist())
    if kinds != {"verification"}:
        raise ValueError(f"10-fold accuracy reads verification trials only, got {sorted(kinds)}")
    return table


def _pair_groups(frame: pd.DataFrame, manifest: pa.Table | pd.DataFrame, column: str) -> np.ndarray:
    """Group of each pair from the manifest's ``column`` (see the module docstring)."""
    manifest = coerce_table(manifest, MANIFEST, "manifest").to_pandas()
    if column not in manifest.columns:
        raise ValueError(f"manifest has no column {column!r} to group pairs by")
    labels = manifest.set_index("image_id")[column].fillna(UNKNOWN).astype(str)
    if not labels.index.is_unique:
        raise ValueError("manifest repeats image ids")
    ids = pd.concat([frame["probe_id"], frame["reference_id"]])
    absent = ids[~ids.isin(labels.index)]
    if len(absent):
        raise ValueError(
            f"{absent.nunique()} pair images are not in the manifest, e.g. {absent.iloc[0]!r}"
        )
    label_a = labels.reindex(frame["probe_id"]).to_numpy(dtype=object)
    label_b = labels.reindex(frame["reference_id"]).to_numpy(dtype=object)
    mated = frame["mated"].to_numpy(dtype=bool)
    group = np.where(label_a == label_b, label_a, np.where(mated, UNKNOWN, MIXED))
    group[(label_a == UNKNOWN) | (label_b == UNKNOWN)] = UNKNOWN
    return group


def _groups(group: np.ndarray):
    """(name, mask) for all pairs, then for each group in sorted order."""
    yield OVERALL, np.ones(len(group), dtype=bool)
    for name in sorted(set(group)):
        yield name, group == name


def _summarise(folds: pd.DataFrame) -> pd.DataFrame:
    grouped = folds.groupby(["fta_handling", "group"], sort=False)
    summary = grouped.agg(
        n_folds=("accuracy", "count"),
        mean_accuracy=("accuracy", "mean"),
        std_accuracy=("accuracy", "std"),
        n_pairs=("n_pairs", "sum"),
        n_fta_pairs=("n_fta_pairs", "sum"),
    ).reset_index()
    summary["standard_error"] = summary["std_accuracy"] / np.sqrt(summary["n_folds"])
    columns = ["fta_handling", "group", "mean_accuracy", "std_accuracy", "standard_error"]
    return summary[[*columns, "n_folds", "n_pairs", "n_fta_pairs"]]


def _similarity_name(table: pa.Table) -> str:
    metadata = table.schema.metadata or {}
    return metadata.get(SIMILARITY_KEY, b"").decode()


def _auc_eer(row: pd.Series) -> str:
    if np.isnan(row["auc"]):
        return "n/a"
    return f"{row['auc']:.4f}, {100 * row['eer']:.2f}%"


def _mean_std(row: pd.Series) -> str:
    if np.isnan(row["mean_accuracy"]):
        return "n/a"
    std = "n/a" if np.isnan(row["std_accuracy"]) else f"{100 * row['std_accuracy']:.2f}%"
    return f"{100 * row['mean_accuracy']:.2f}% +/- {std}"

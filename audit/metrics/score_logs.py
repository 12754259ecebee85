"""Read a vendor system's exported scores or alert logs into the metrics stage.

An evaluator often has no images, only a system's score export. Two kinds of
file, CSV (``.csv``) or Parquet (``.parquet``, ``.pq``), feed
:func:`audit.metrics.engine.compute_metrics` directly.

**Trials file** (one or several), one row per trial:

=====================  ===============================  =========================================
column                 required                         meaning
=====================  ===============================  =========================================
``trial_kind``         always                           ``verification`` (1:1 comparison) or
                                                        ``identification`` (one 1:N search)
``probe_id``           always                           id of the probe image or capture
``probe_subject``      always                           subject of the probe
``reference_id``       verification                     id of the compared image (1:N: optional,
                                                        the top candidate's id)
``reference_subject``  verification                     subject of the reference
``score``              column always; empty = FTA       similarity, higher = more alike; 1:N: the
                                                        best watchlist score
``mated``              always                           1:1: same subject (must agree with the
                                                        subject columns); 1:N: the probe's
                                                        subject is on the watchlist
``best_is_true_entry``  1:N mated rows with a score      the top candidate is the probe's own entry
``rank``               optional                         1:N rank of the true entry
``fold``               optional                         protocol fold or watchlist draw
=====================  ===============================  =========================================

Booleans are ``true``/``false``, ``1``/``0``, ``yes``/``no`` (any case);
an empty cell is missing. Scores must be finite numbers.

**Attribute file**, one row per image (with an ``image_id`` column; an
optional ``subject_id`` must agree with the trials) or one row per subject
(``subject_id`` and no ``image_id``). Every other column is a group label:
demographics (``gender``, ``ethnicity``, ``age_band``...) or capture
conditions (``lighting``...). Labels are read as strings; empty cells, and
images or subjects the file does not list, get ``"unknown"``.

**Errors** are collected (up to :data:`MAX_REPORTED`) and raised together as a
:class:`ScoreLogError` naming file and row: "row 1" is the first data row
after the header (for CSV, file line 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.metrics.trials import IDENTIFICATION, VERIFICATION
from audit.schema import SCORES, UNKNOWN

MAX_REPORTED = 20
TRUE_WORDS = frozenset({"true", "1", "yes", "t", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "f", "n"})
REQUIRED_TRIAL_COLUMNS = ("trial_kind", "probe_id", "probe_subject", "score", "mated")
ROW = "{file} row {row}: {problem}"
MISSING_COLUMN = "{file}: missing required column {column!r}"
UNKNOWN_FORMAT = "{file}: unknown file type; use .csv, .parquet or .pq"
NOT_FOUND = "{file}: no such file"
NO_KEY = "{file}: an attribute file needs an 'image_id' or a 'subject_id' column"
MORE = "... and {count} more problem(s)"


class ScoreLogError(ValueError):
    """A score log or attribute file is malformed; the message lists file and rows."""


@dataclass(frozen=True)
class ScoreLogs:
    """What the metrics stage needs: the scores table and the images table."""

    scores: pa.Table
    images: pd.DataFrame


def read_score_logs(
    trial_files: Path | str | list[Path | str], attribute_file: Path | str
) -> ScoreLogs:
    """Read trials and attributes into a SCORES table and an images table.

    Parameters
    ----------
    trial_files : path or list of paths
        Trials files (CSV or Parquet), concatenated in order.
    attribute_file : path
        Per-image or per-subject attribute table.

    Returns
    -------
    ScoreLogs
        ``scores`` with :data:`audit.schema.SCORES` columns and types;
        ``images`` with ``image_id``, ``subject_id`` and the label columns,
        one row per image id the trials mention.

    Raises
    ------
    ScoreLogError
        Listing every problem found (up to :data:`MAX_REPORTED`) by file and row.
    """
    paths = [trial_files] if isinstance(trial_files, (str, Path)) else list(trial_files)
    problems: list[str] = []
    parts = [_read_trials(Path(p), problems) for p in paths]
    attributes = _read_table(Path(attribute_file))
    if problems:
        _raise(problems)
    scores = pd.concat(parts, ignore_index=True)
    images = _images(scores, attributes, Path(attribute_file).name, problems)
    if problems:
        _raise(problems)
    return ScoreLogs(scores=_to_arrow(scores), images=images)


def _raise(problems: list[str]) -> None:
    shown = problems[:MAX_REPORTED]
    if len(problems) > MAX_REPORTED:
        shown.append(MORE.format(count=len(problems) - MAX_REPORTED))
    raise ScoreLogError("\n".join(shown))


def _read_table(path: Path) -> pd.DataFrame:
    """Every cell as a stripped string, empty for missing."""
    if not path.is_file():
        raise ScoreLogError(NOT_FOUND.format(file=path))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
        frame = frame.astype(object).where(frame.notna(), "")
    else:
        raise ScoreLogError(UNKNOWN_FORMAT.format(file=path))
    return frame.astype(str).apply(lambda column: column.str.strip())


def _read_trials(path: Path, problems: list[str]) -> pd.DataFrame:
    raw = _read_table(path)
    name = path.name
    missing = [c for c in REQUIRED_TRIAL_COLUMNS if c not in raw.columns]
    if missing:
        problems.extend(MISSING_COLUMN.format(file=name, column=c) for c in missing)
        return pd.DataFrame()
    n = len(raw)

    def column(key: str) -> pd.Series:
        return raw[key] if key in raw.columns else pd.Series([""] * n, index=raw.index)

    def report(mask: np.ndarray, problem: str) -> None:
        rows = np.flatnonzero(mask)[:MAX_REPORTED] + 1
        problems.extend(ROW.format(file=name, row=r, problem=problem) for r in rows)

    kind = column("trial_kind").str.lower()
    known = kind.isin([VERIFICATION, IDENTIFICATION]).to_numpy()
    report(~known, "trial_kind must be 'verification' or 'identification'")
    verification = (kind == VERIFICATION).to_numpy()
    identification = (kind == IDENTIFICATION).to_numpy()
    for key in ("probe_id", "probe_subject"):
        report((column(key) == "").to_numpy(), f"{key} is empty")
    for key in ("reference_id", "reference_subject"):
        empty = (column(key) == "").to_numpy()
        report(verification & empty, f"{key} is empty in a verification row")
    score_text = column("score")
    score = pd.to_numeric(score_text, errors="coerce").to_numpy(np.float64)
    report(((score_text != "") & np.isnan(score)).to_numpy(), "score is not a number")
    report(np.isinf(score), "score is infinite")
    mated, bad = _booleans(column("mated"))
    report(bad | (column("mated") == "").to_numpy(), "mated must be true or false")
    best, bad_best = _booleans(column("best_is_true_entry"))
    report(bad_best, "best_is_true_entry must be true, false or empty")
    needs_flag = identification & (mated == 1) & ~np.isnan(score) & (best < 0)
    report(needs_flag, "best_is_true_entry is empty in a mated identification row with a score")
    same = (column("probe_subject") == column("reference_subject")).to_numpy()
    disagree = verification & (mated >= 0) & (same != (mated == 1))
    report(disagree, "mated disagrees with probe_subject/reference_subject")
    rank, bad_rank = _integers(column("rank"))
    report(bad_rank, "rank must be an integer or empty")
    fold, bad_fold = _integers(column("fold"))
    report(bad_fold, "fold must be an integer or empty")
    return pd.DataFrame(
        {
            "trial_kind": kind,
            "probe_id": column("probe_id"),
            "reference_id": column("reference_id").replace("", None),
            "probe_subject": column("probe_subject"),
            "reference_subject": column("reference_subject").replace("", None),
            "score": score,
            "mated": mated == 1,
            "fold": fold,
            "rank": rank,
            "best_is_true_entry": pd.array(np.where(best < 0, None, best == 1), dtype="boolean"),
        }
    )


def _booleans(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(1 true / 0 false / -1 empty, bad) from boolean words."""
    lowered = text.str.lower()
    value = np.where(lowered.isin(TRUE_WORDS), 1, np.where(lowered.isin(FALSE_WORDS), 0, -1))
    return value, (value < 0) & (lowered != "").to_numpy()


def _integers(text: pd.Series) -> tuple[pd.array, np.ndarray]:
    number = pd.to_numeric(text, errors="coerce")
    bad = ((text != "") & (number.isna() | (number % 1 != 0))).to_numpy()
    return pd.array(number.where(~bad).round(), dtype="Int32"), bad


def _images(
    scores: pd.DataFrame, attributes: pd.DataFrame, name: str, problems: list[str]
) -> pd.DataFrame:
    """One row per image id in the trials, with its subject and labels."""
    mentioned = pd.concat(
        [
            scores[["probe_id", "probe_subject"]].set_axis(["image_id", "subject_id"], axis=1),
            scores.loc[
                scores["trial_kind"] == VERIFICATION, ["reference_id", "reference_subject"]
            ].set_axis(["image_id", "subject_id"], axis=1),
        ]
    ).drop_duplicates()
    conflicting = mentioned["image_id"][mentioned["image_id"].duplicated()].unique()
    problems.extend(
        f"trials: image id {image!r} appears with more than one subject"
        for image in conflicting[:MAX_REPORTED]
    )
    images = mentioned.drop_duplicates("image_id").reset_index(drop=True)
    if "image_id" in attributes.columns:
        return _join(images, attributes, "image_id", name, problems)
    if "subject_id" in attributes.columns:
        return _join(images, attributes, "subject_id", name, problems)
    problems.append(NO_KEY.format(file=name))
    return images


def _join(
    images: pd.DataFrame, attributes: pd.DataFrame, key: str, name: str, problems: list[str]
) -> pd.DataFrame:
    labels = [c for c in attributes.columns if c not in ("image_id", "subject_id")]
    duplicated = attributes[key].duplicated(keep="first").to_numpy()
    problems.extend(
        ROW.format(
            file=name, row=r, problem=f"{key} {attributes[key].iloc[r - 1]!r} is listed again"
        )
        for r in (np.flatnonzero(duplicated) + 1)[:MAX_REPORTED]
    )
    merged = images.merge(
        attributes.drop_duplicates(key), on=key, how="left", suffixes=("", "_file")
    )
    if key == "image_id" and "subject_id_file" in merged.columns:
        listed = merged["subject_id_file"].notna() & (merged["subject_id_file"] != "")
        disagree = listed & (merged["subject_id_file"] != merged["subject_id"])
        problems.extend(
            f"{name}: image {image!r} has a subject_id that disagrees with the trials"
            for image in merged.loc[disagree, "image_id"][:MAX_REPORTED]
        )
        merged = merged.drop(columns="subject_id_file")
    for label in labels:
        merged[label] = merged[label].fillna("").replace("", UNKNOWN)
    return merged.loc[:, ["image_id", "subject_id", *labels]]


def _to_arrow(scores: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(scores.loc[:, SCORES.names], schema=SCORES, preserve_index=False)
    return table.replace_schema_metadata(None)

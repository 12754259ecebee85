"""The scores table's checks and subject index against a loop over the rows, on every column
form the stage takes: a DataFrame, plain Arrow text, dictionary codes in several chunks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from audit.metrics import checked
from audit.metrics.trials import ImageTable
from audit.schema import SCORES

KINDS = ["verification", "identification", "1:1"]
REQUIRED = [f.name for f in SCORES if not f.nullable]


def random_scores(rng: np.random.Generator, n: int) -> pd.DataFrame:
    kind = rng.choice(KINDS, n, p=[0.6, 0.38, 0.02])
    mated = rng.random(n) < 0.5
    score = np.where(rng.random(n) < 0.1, np.nan, np.round(rng.random(n), 2))
    score[rng.random(n) < 0.02] = np.inf
    best = np.where(rng.random(n) < 0.9, rng.random(n) < 0.5, None)
    frame = pd.DataFrame({
        "trial_kind": kind, "probe_id": [f"i{k}" for k in rng.integers(0, 9, n)],
        "reference_id": [f"i{k}" for k in rng.integers(0, 9, n)],
        "probe_subject": [f"S{k}" for k in rng.integers(0, 5, n)],
        "reference_subject": [f"S{k}" for k in rng.integers(0, 5, n)],
        "score": score, "mated": mated, "fold": 0, "rank": None,
        "best_is_true_entry": pd.array(best, dtype="boolean")})
    if rng.random() < 0.2:  # a null in a required column
        column = str(rng.choice(["trial_kind", "probe_id", "probe_subject", "mated"]))
        frame[column] = frame[column].astype(object)
        frame.loc[int(rng.integers(0, n)), column] = None
    return frame


def first_problem(frame: pd.DataFrame) -> str | None:
    """The message of the first failed check, found row by row in the checks' order."""
    for column in REQUIRED:
        for row, value in enumerate(frame[column]):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                return checked.NULL_VALUE.format(row=row, column=column)
    for row, kind in enumerate(frame["trial_kind"]):
        if kind not in ("verification", "identification"):
            return checked.BAD_KIND.format(row=row, kind=kind)
    for row, score in enumerate(frame["score"]):
        if np.isinf(score):
            return checked.INFINITE.format(row=row)
    for row, (kind, mated, score, best) in enumerate(zip(
            frame["trial_kind"], frame["mated"], frame["score"], frame["best_is_true_entry"],
            strict=True)):
        if kind == "identification" and mated and not np.isnan(score) and pd.isna(best):
            return checked.NO_TRUE_ENTRY_FLAG.format(row=row)
    return None


def as_form(frame: pd.DataFrame, form: str) -> pd.DataFrame | pa.Table:
    """The frame as given by a caller: pandas, plain Arrow, or dictionary codes in chunks."""
    if form == "pandas":
        return frame
    nullable = pa.schema([field.with_nullable(True) for field in SCORES])  # to hold the nulls
    plain = pa.Table.from_pandas(frame, schema=nullable, preserve_index=False)
    if form == "arrow":
        return plain
    half = plain.num_rows // 2
    return pa.concat_tables([_encoded(plain.slice(0, half)), _encoded(plain.slice(half))])


def _encoded(part: pa.Table) -> pa.Table:
    for name in ("trial_kind", "probe_id", "probe_subject"):
        part = part.set_column(part.schema.get_field_index(name), name,
                               part[name].dictionary_encode())
    return part


@pytest.mark.parametrize("form", ["pandas", "arrow", "chunked dictionary"])
@pytest.mark.parametrize("seed", range(40))
def test_first_problem_is_the_first_a_row_loop_finds(seed, form):
    rng = np.random.default_rng(seed)
    frame = random_scores(rng, int(rng.integers(1, 60)))
    expected = first_problem(frame)
    if expected is None:
        checked.check_scores_table(as_form(frame, form))
        return
    with pytest.raises(ValueError) as caught:
        checked.check_scores_table(as_form(frame, form))
    assert str(caught.value) == expected


@pytest.mark.parametrize("seed", range(20))
def test_subject_index_is_numpys_sorted_unique_names(seed):
    rng = np.random.default_rng(seed)
    names = np.array(["b", "B", "a", "ä", "Z", "zz", "z", "日本", "a b", ""])
    probe = pa.array(rng.choice(names, int(rng.integers(1, 30))))
    scores = pa.table({"probe_subject": probe.dictionary_encode() if seed % 2 else probe})
    subject_ids = rng.choice(names, int(rng.integers(0, 10))).astype(object)
    images = ImageTable(ids=pd.Index([]), subject_ids=subject_ids, labels=pd.DataFrame())
    expected = pd.Index(np.unique(np.concatenate([probe.to_numpy(zero_copy_only=False),
                                                  subject_ids]).astype(str)))
    index = checked.subject_index(scores, images)
    assert index.equals(expected) and index.dtype == expected.dtype

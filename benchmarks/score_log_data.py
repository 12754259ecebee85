"""Synthetic vendor score logs for the score-log benchmark, written in bounded memory.

A verification log (``n_trials`` 1:1 comparisons, ``n_subjects`` of them mated,
0.5% FTA; at most ``n_subjects`` squared trials),
an identification log (``n_searches`` 1:N searches, half mated) and a
per-image attribute file (``gender`` and a 10-level ``group``), as
``lfr-audit metrics`` reads them (``docs/score-logs.md``). Rows are written
in chunks of one million, so memory stays near one chunk whatever the size.

    .venv/bin/python benchmarks/score_log_data.py --out /tmp/logs --trials 10000000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv

CHUNK = 1_000_000
IMAGES_PER_SUBJECT = 3
#: Probe captures per subject for the 1:N log (ids ``s<subject>_q<k>``): one search each.
CAPTURES_PER_SUBJECT = 10


def image_names(subject: np.ndarray, image: np.ndarray) -> pa.Array:
    """``s<subject>_<k>`` ids built in Arrow, no Python string per row."""
    return pc.binary_join_element_wise(subject_names(subject), pa.array(image.astype(str)), "_")


def subject_names(subject: np.ndarray) -> pa.Array:
    return pa.array(np.char.add("s", subject.astype(str)))


def write_attributes(path: Path, n_subjects: int, n_groups: int, seed: int) -> None:
    """One row per image: image_id, subject_id, gender, group (subject-level labels)."""
    rng = np.random.default_rng(seed)
    gender = np.where(rng.random(n_subjects) < 0.5, "female", "male")
    group = np.char.add("g", (np.arange(n_subjects) % n_groups).astype(str))
    subject = np.repeat(np.arange(n_subjects), IMAGES_PER_SUBJECT + CAPTURES_PER_SUBJECT)
    image = np.tile(np.concatenate([np.arange(IMAGES_PER_SUBJECT).astype(str),
                                    np.char.add("q", np.arange(CAPTURES_PER_SUBJECT).astype(str))]),
                    n_subjects)
    table = pa.table({
        "image_id": image_names(subject, image),
        "subject_id": subject_names(subject),
        "gender": pa.array(gender[subject]),
        "group": pa.array(group[subject]),
    })
    csv.write_csv(table, path)


def verification_chunk(rng: np.random.Generator, n: int, n_subjects: int,
                       n_groups: int, start: int) -> pa.Table:
    """Trial ``i`` compares subject ``i % S`` with subject ``i % S + i // S`` (mod S):
    the first ``S`` trials are mated (images 0 and 1 of one person), every other
    pair of people occurs once, so no trial repeats."""
    trial = np.arange(start, start + n)
    probe = trial % n_subjects
    offset = trial // n_subjects
    mated = offset == 0
    reference = (probe + offset) % n_subjects
    probe_image = np.where(mated, 0, rng.integers(0, IMAGES_PER_SUBJECT, n))
    reference_image = np.where(mated, 1, rng.integers(0, IMAGES_PER_SUBJECT, n))
    effect = 0.02 * (probe % n_groups)
    score = rng.normal(np.where(mated, 0.75, 0.3) + effect, 0.1)
    score[rng.random(n) < 0.005] = np.nan
    return pa.table({
        "trial_kind": pa.array(np.full(n, "verification")),
        "probe_id": image_names(probe, probe_image),
        "probe_subject": subject_names(probe),
        "reference_id": image_names(reference, reference_image),
        "reference_subject": subject_names(reference),
        "score": pa.array(score, mask=np.isnan(score)),
        "mated": pa.array(mated),
    })


def identification_chunk(rng: np.random.Generator, n: int, n_subjects: int,
                         n_groups: int, start: int) -> pa.Table:
    """Half mated searches; search ``i`` is capture ``i // n_subjects`` of subject
    ``i % n_subjects``, so every search has its own probe id."""
    mated = rng.random(n) < 0.5
    search = np.arange(start, start + n)
    probe = search % n_subjects
    effect = 0.02 * (probe % n_groups)
    score = rng.normal(np.where(mated, 0.8, 0.5) + effect, 0.08)
    score[rng.random(n) < 0.01] = np.nan
    best = np.where(mated & ~np.isnan(score), rng.random(n) < 0.97, False)
    flag = pa.array(best, mask=~mated | np.isnan(score))
    return pa.table({
        "trial_kind": pa.array(np.full(n, "identification")),
        "probe_id": image_names(probe, np.char.add("q", (search // n_subjects).astype(str))),
        "probe_subject": subject_names(probe),
        "score": pa.array(score, mask=np.isnan(score)),
        "mated": pa.array(mated),
        "best_is_true_entry": flag,
    })


def write_log(path: Path, rows: int, make_chunk) -> None:
    writer = None
    for start in range(0, rows, CHUNK):
        chunk = make_chunk(min(CHUNK, rows - start), start)
        if writer is None:
            writer = csv.CSVWriter(path, chunk.schema)
        writer.write_table(chunk)
    if writer is not None:
        writer.close()


def generate(out: Path, *, trials: int, searches: int, subjects: int, groups: int,
             seed: int) -> dict[str, Path]:
    """Write the three files under ``out``; return their paths by role."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"attributes": out / "attributes.csv", "verification": out / "verification.csv",
             "identification": out / "identification.csv"}
    write_attributes(paths["attributes"], subjects, groups, seed)
    rng = np.random.default_rng(seed + 1)
    write_log(paths["verification"], trials,
              lambda n, start: verification_chunk(rng, n, subjects, groups, start))
    write_log(paths["identification"], searches,
              lambda n, start: identification_chunk(rng, n, subjects, groups, start))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--trials", type=int, default=10_000_000)
    parser.add_argument("--searches", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for role, path in generate(args.out, trials=args.trials, searches=args.searches,
                               subjects=args.subjects, groups=args.groups,
                               seed=args.seed).items():
        print(f"{role}: {path} ({path.stat().st_size / 2**20:,.0f} MiB)")


if __name__ == "__main__":
    main()

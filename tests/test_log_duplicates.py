"""Whether a score log repeats a trial: the sparse-coordinate check against a set of tuples."""

from __future__ import annotations

import numpy as np
import pytest

from audit.metrics.log_duplicates import all_distinct, repeated_trials

FOLDS = np.array([np.nan, -1.0, 0.0, -0.0, 1.0, 2.0, 7.0, 1e9])


def brute_force_distinct(verification, probe, reference, fold) -> bool:
    """A trial as a tuple (an empty fold is -1 and -0 is 0, as the reader has always keyed
    them; a search's reference does not count), every tuple once."""
    keys = set()
    for i in range(len(probe)):
        f = None if fold is None else (-1.0 if np.isnan(fold[i]) else fold[i] + 0.0)
        keys.add((f, bool(verification[i]), int(probe[i]),
                  int(reference[i]) if verification[i] else None))
    return len(keys) == len(probe)


@pytest.mark.parametrize("seed", range(300))
def test_all_distinct_agrees_with_a_set_of_trials(seed):
    rng = np.random.default_rng(seed)
    n, n_codes = int(rng.integers(0, 40)), int(rng.integers(1, 12))
    verification = rng.random(n) < rng.choice([0.0, 0.6, 1.0])
    probe = rng.integers(0, n_codes, n).astype(np.int32)
    reference = rng.integers(0, n_codes, n).astype(np.int32)
    fold = None if rng.random() < 0.4 else rng.choice(FOLDS[:int(rng.integers(1, 9))], n)
    expected = brute_force_distinct(verification, probe, reference, fold)
    assert all_distinct(verification, probe, reference, fold, n_codes) == expected
    rows, _ = repeated_trials(verification, probe, reference, fold, n_codes, 10**6)
    assert (rows.size == 0) == expected


def test_many_folds_and_a_repeat_found_either_way():
    """Folds as many as the trials (more row pointers than trials: keys sorted instead)."""
    n = 50
    probe, reference = np.zeros(n, np.int32), np.ones(n, np.int32)
    verification = np.ones(n, dtype=bool)
    fold = np.arange(n, dtype=float)
    assert all_distinct(verification, probe, reference, fold, 2)
    fold[7] = fold[3]
    assert not all_distinct(verification, probe, reference, fold, 2)

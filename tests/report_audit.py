"""A simulated audit, run through the real metrics stage, for the report tests.

:func:`simulate` writes manifest, faces and scores tables for a population
labelled by gender and ethnicity in which women's non-mated scores run higher
(more false alerts and false matches) and one ethnicity group ("other") is
too small to report. Subjects carry their own score offsets, so trials of one
person are correlated, as in real data. :func:`audit_metrics` passes the
tables through :func:`audit.runs.measure.measure`, exactly as ``lfr-audit run``
does: rates at the deployment threshold, at deepface's default and at
calibrated thresholds, pair contrasts, descriptive summaries, the 200-point
sweep, the 41-point contrast sweep and the deployment projection.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.schema import FACES, SCORES

DEPLOYMENT = 0.60
DEEPFACE = 0.55
ETHNICITIES = ("asian", "black", "white", "other")
N_OTHER = 8  # people labelled "other": below the minimum size


def _labels(n_subjects: int) -> tuple[np.ndarray, np.ndarray]:
    subject = np.arange(n_subjects)
    gender = np.where(subject % 2 == 0, "female", "male").astype(object)
    ethnicity = np.array([ETHNICITIES[(s // 2) % 3] for s in subject], dtype=object)
    ethnicity[-N_OTHER:] = "other"
    return gender, ethnicity


def simulate(
    seed: int = 3, n_subjects: int = 400, nonmated_pairs: int = 30_000, draws: int = 4,
    watchlist: int = 120, shift: float = 0.045,
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Manifest, faces and scores of a simulated audit (three images per person).

    Women's non-mated scores are ``shift`` higher; image 2 of about one
    person in 16 has no face found (FTA), so it never alerts and is a miss when
    the person is on the watchlist.
    """
    rng = np.random.default_rng(seed)
    gender, ethnicity = _labels(n_subjects)
    female = gender == "female"
    ids = [f"s{s:04d}" for s in range(n_subjects)]
    image_ids = [f"{i}_{k}" for i in ids for k in range(3)]
    manifest = pa.table({
        "image_id": image_ids,
        "path": [f"{i}.jpg" for i in image_ids],
        "subject_id": np.repeat(ids, 3).tolist(),
        "dataset": ["simulated"] * len(image_ids),
        "gender": np.repeat(gender, 3).tolist(),
        "ethnicity": np.repeat(ethnicity, 3).tolist(),
    })
    failed = np.zeros((n_subjects, 3), dtype=bool)
    failed[:, 2] = rng.random(n_subjects) < 0.06
    height = rng.choice([48, 90, 160], size=(n_subjects, 3), p=[0.2, 0.4, 0.4])
    faces = _faces(image_ids, failed.ravel(), height.ravel())
    offset = rng.normal(0, 0.03, n_subjects)  # each person's own tendency
    v, i = "verification", "identification"
    rows = [(v, f"{ids[s]}_0", f"{ids[s]}_1", ids[s], ids[s],
             rng.normal(0.78 + offset[s], 0.08), True, 0, None, None) for s in range(n_subjects)]
    a = rng.integers(0, n_subjects, nonmated_pairs)
    b = (a + rng.integers(1, n_subjects, a.size)) % n_subjects
    score = rng.normal(0.30, 0.08, a.size) + shift * (female[a].astype(int) + female[b].astype(int)) + offset[a] + offset[b]
    rows += [(v, f"{ids[x]}_0", f"{ids[y]}_1", ids[x], ids[y], float(sc), False, 0, None, None)
             for x, y, sc in zip(a, b, score, strict=True)]
    for draw in range(draws):
        listed = np.zeros(n_subjects, dtype=bool)
        listed[rng.choice(n_subjects, watchlist, replace=False)] = True
        for s in range(n_subjects):
            if failed[s, 2]:
                best = None
            elif listed[s]:
                best = rng.normal(0.80 + offset[s], 0.08)
            else:
                best = rng.normal(0.47 + offset[s], 0.05) + shift * female[s]
            correct = None if best is None or not listed[s] else bool(rng.random() > 0.02)
            rank = None if best is None or not listed[s] else (1 if correct else 2)
            rows.append((i, f"{ids[s]}_2", None, ids[s], None, best, bool(listed[s]), draw,
                         rank, correct))
    frame = pd.DataFrame(rows, columns=SCORES.names)
    return manifest, faces, pa.Table.from_pandas(frame, schema=SCORES, preserve_index=False)


def _faces(image_ids: list[str], failed: np.ndarray, height: np.ndarray) -> pa.Table:
    n = len(image_ids)
    columns = {f.name: pa.nulls(n, f.type) for f in FACES}
    columns["image_id"] = pa.array(image_ids)
    columns["config_key"] = pa.array(["simulated"] * n)
    columns["status"] = pa.array(np.where(failed, "no_face", "ok").tolist())
    columns["face_height_px"] = pa.array([None if f else int(h) for f, h in zip(failed, height,
                                                                                 strict=True)],
                                         pa.int32())
    return pa.table(columns, schema=FACES)


def audit_spec(**changes):
    """The audit spec of the simulated audit (a validated AuditSpec)."""
    from audit.config import AuditSpec

    fields = {
        "name": "simulated",
        "dataset": {"name": "simulated"},
        "watchlist": {"size": 120, "draws": 4},
        "thresholds": {"deployment": [DEPLOYMENT], "target_fmr": [1e-3], "target_fpir": [1e-2]},
        "groupings": {"sensitive": ["gender", "ethnicity", "gender x ethnicity"],
                      "conditions": ["face_height_band"]},
        "statistics": {"min_subjects": 20, "min_trials": 50},
        "projection": {"crowd": 100_000, "watchlist": 120, "share_on_watchlist": 1e-3},
    }
    fields.update(changes)
    return AuditSpec(**fields)


def thresholds() -> dict:
    """Fixed thresholds as ``audit.runs.workflow.thresholds`` gives them (deepface's stands in)."""
    from audit.runs.provenance import ThresholdOrigin

    return {
        DEPLOYMENT: ThresholdOrigin("spec", "given in the audit spec"),
        DEEPFACE: ThresholdOrigin("deepface-default", "deepface's default (simulated)"),
    }


SENSITIVE = ("gender", "ethnicity", "gender x ethnicity")


@functools.cache
def audit_metrics(seed: int = 3, sensitive: tuple[str, ...] = SENSITIVE) -> pa.Table:
    """The metrics table ``lfr-audit run`` would write for the simulated audit."""
    from audit.runs.measure import measure

    manifest, faces, scores = simulate(seed)
    spec = audit_spec(groupings={"sensitive": list(sensitive), "conditions": ["face_height_band"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty cells and intersections warn by design
        return measure(spec, manifest, faces, scores, thresholds())

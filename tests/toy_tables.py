"""Toy manifest and faces tables for matching tests (no images, no deepface)."""

from __future__ import annotations

import pyarrow as pa

from audit.schema import FACES


def make_tables(subjects, embeddings, *, status=None, **labels):
    """Manifest and faces tables of toy images ``img0000``, ``img0001``, ...

    ``status`` defaults to ``ok`` everywhere; images that are not ``ok`` get no
    embedding. ``labels`` become manifest label columns.
    """
    n = len(subjects)
    ids = [f"img{i:04d}" for i in range(n)]
    status = list(status) if status is not None else ["ok"] * n
    manifest = pa.table(
        {
            "image_id": ids,
            "path": [f"{i}.jpg" for i in ids],
            "subject_id": list(subjects),
            "dataset": ["toy"] * n,
            **{k: list(v) for k, v in labels.items()},
        }
    )
    columns = {f.name: pa.nulls(n, f.type) for f in FACES}
    columns["image_id"] = pa.array(ids)
    columns["config_key"] = pa.array(["cfg"] * n)
    columns["status"] = pa.array(status)
    columns["embedding"] = pa.array(
        [list(map(float, e)) if s == "ok" else None for e, s in zip(embeddings, status)],
        pa.list_(pa.float32()),
    )
    return manifest, pa.table(columns, schema=FACES)


def dyadic_audit(seed, *, effect_sd, shift, people=60, pairs=3000):
    """Non-mated FMR trials between random people of two groups, ``g0`` (first half) and ``g1``.

    Scores ``N(e_a + e_b + shift * [probe in g0], 1)`` with person effects
    ``e ~ N(0, effect_sd)`` on both sides. Returns the scores and images
    frames, the probes' person indices and the scores.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    a = rng.integers(0, people, pairs)
    b = (a + rng.integers(1, people, pairs)) % people
    effect = rng.normal(0, effect_sd, people)
    score = rng.normal(effect[a] + effect[b] + np.where(a < people // 2, shift, 0.0), 1.0)
    scores = pd.DataFrame({
        "trial_kind": "verification", "probe_id": [f"p{i}/0" for i in a],
        "reference_id": [f"p{j}/0" for j in b], "probe_subject": [f"p{i}" for i in a],
        "reference_subject": [f"p{j}" for j in b], "score": score,
        "mated": False, "fold": None, "rank": None, "best_is_true_entry": None})
    images = pd.DataFrame({"image_id": [f"p{i}/0" for i in range(people)],
                           "subject_id": [f"p{i}" for i in range(people)],
                           "group": ["g0"] * (people // 2) + ["g1"] * (people // 2)})
    return scores, images, a, score

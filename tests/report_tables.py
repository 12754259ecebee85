"""A small hand-made audit through the real metrics stage, for the report's unit tests.

Five groups of the grouping ``group``, each person with their own images:

* ``a``: 10 people, 10 searches each as a passer-by; false alerts 3 per person
  (scores 0.55, 0.65, 0.8), so FPIR 30% at 0.5 and 10% at 0.75.
* ``b``: 10 people; false alerts 1 per person for half of them (score 0.6).
* ``c``: 10 people; no false alert at any threshold above 0.2.
* ``d``: 10 people as passers-by but only 2 on the watchlist: enough data for
  the false alert rate, too little for the miss rate.
* ``e``: 3 people: too few for any rate.

Watchlisted people (4 searches each) are missed now and then (score 0.3);
1:1 comparisons give group ``a`` more false matches. The table holds the
deployment threshold 0.5, deepface's default 0.75, thresholds calibrated to an
overall FPIR of 5% and FMR of 1%, a 7-point sweep with its pair contrasts, and
the projection rows, as :func:`audit.runs.measure.measure` writes them.
"""

from __future__ import annotations

import functools
import warnings

import pandas as pd
import pyarrow as pa

from audit.metrics import compute_metrics, project_deployment
from audit.report.inputs import (
    DatasetInfo,
    ProjectionInputs,
    RunInfo,
    StatisticsInfo,
    SystemUnderTest,
    ThresholdInfo,
    WatchlistDesign,
)
from audit.schema import SCORES

DEPLOYMENT, DEEPFACE = 0.5, 0.75
SWEEP = (0.25, 0.45, 0.5, 0.58, 0.62, 0.7, 0.75, 0.85)
MIN_SUBJECTS, MIN_TRIALS = 5, 10
#: group -> (people, people on the watchlist)
GROUPS = {"a": (10, 10), "b": (10, 10), "c": (10, 10), "d": (10, 2), "e": (3, 3)}
CROWD, SHARE, WATCHLIST = 1000, 0.01, 20


def _false_alert_scores(group: str, person: int) -> list[float]:
    """Best watchlist scores of one person's 10 searches as a passer-by."""
    alerts = {"a": [0.55, 0.65, 0.8], "b": [0.6] if person % 2 == 0 else [],
              "d": [0.55] if person < 3 else [], "e": [0.9]}.get(group, [])
    return alerts + [0.2] * (10 - len(alerts))


def _miss_scores(group: str, person: int) -> list[float]:
    """Best scores of one watchlisted person's 4 searches of their own entry."""
    missed = {"a": person < 2, "b": person < 3, "c": person < 2, "d": person < 1}.get(group, False)
    return [0.3] + [0.9] * 3 if missed else [0.9] * 4


def hand_made_scores() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and images of the hand-made audit (see module notes)."""
    rows, images = [], []
    people = [(g, k) for g, (n, _) in GROUPS.items() for k in range(n)]

    def image(subject: str, group: str, name: str) -> str:
        images.append({"image_id": f"{subject}/{name}", "subject_id": subject, "group": group})
        return f"{subject}/{name}"

    for group, k in people:
        subject = f"{group}{k}"
        for i, score in enumerate(_false_alert_scores(group, k)):
            rows.append(("identification", image(subject, group, f"n{i}"), None, subject, None,
                         score, False, 0, None, None))
        if k < GROUPS[group][1]:
            for i, score in enumerate(_miss_scores(group, k)):
                rows.append(("identification", image(subject, group, f"m{i}"), None, subject,
                             None, score, True, 0, 1, True))
        first, second = image(subject, group, "v0"), image(subject, group, "v1")
        rows.append(("verification", first, second, subject, subject,
                     0.3 if k == 0 else 0.9, True, 0, None, None))
    for i, (group, k) in enumerate(people):
        for step in (1, 2, 3, 5):
            other_group, other = people[(i + step) % len(people)]
            score = 0.8 if group == "a" and step in (1, 2) else 0.2 + 0.01 * step
            rows.append(("verification", f"{group}{k}/v0", f"{other_group}{other}/v1",
                         f"{group}{k}", f"{other_group}{other}", score, False, 0, None, None))
    return pd.DataFrame(rows, columns=SCORES.names), pd.DataFrame(images)


@functools.cache
def hand_made() -> pa.Table:
    """The metrics table of the hand-made audit, with its projection rows."""
    scores, images = hand_made_scores()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small groups and zero rates warn by design
        table = compute_metrics(
            scores, images, thresholds=(DEPLOYMENT,),
            labelled_thresholds=(("deepface-default", DEEPFACE),), target_fpir=(0.05,),
            target_fmr=(0.01,), sweep=SWEEP, groupings=("group",),
            min_subjects=MIN_SUBJECTS, min_trials=MIN_TRIALS,
        )
        projected = project_deployment(table, crowd_size=CROWD, watchlist_share=SHARE,
                                       watchlist_size=WATCHLIST, audit_watchlist_size=WATCHLIST)
    return pa.concat_tables([table, projected.cast(table.schema)])


def run_info(**changes) -> RunInfo:
    """A RunInfo as ``lfr-audit run`` would fill it for the hand-made audit."""
    fields = dict(
        run_id="hand-made-1",
        date="2024-05-01",
        title="Hand-made audit",
        spec={"name": "hand-made", "seed": 7, "thresholds": {"deployment": [DEPLOYMENT]}},
        provenance={"versions": {"lfr-audit": "0.1.0"}, "seed": 7},
        system=SystemUnderTest(
            model="Dlib", detector="dlib", distance="cosine",
            thresholds=(ThresholdInfo(DEPLOYMENT, "deployment", "spec", "the operator's setting"),
                        ThresholdInfo(DEEPFACE, "deepface-default", "deepface-default")),
        ),
        watchlist=WatchlistDesign(size=WATCHLIST, draws=1),
        datasets=(DatasetInfo(name="hand-made", label_source="perceived", subjects=43),),
        projection=ProjectionInputs(crowd=CROWD, watchlist=10_000, share_on_watchlist=SHARE),
        statistics=StatisticsInfo(confidence=0.95, interval="wilson-clustered",
                                  min_subjects=MIN_SUBJECTS, min_trials=MIN_TRIALS),
    )
    fields.update(changes)
    return RunInfo(**fields)

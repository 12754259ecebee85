"""The metrics stage's inputs and options, checked before any counting.

:func:`audit.metrics.engine.compute_metrics` calls :func:`check_options` and
:func:`check_inputs` first, so that a bad option or a missing label column is a
one-line ``ValueError`` before any trial is counted; what they return is the
typed, validated form the counting steps read.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from audit.metrics import checked, score_limits, trials

BAD_OPTION = "{name} must be {what}, got {value!r}"


@dataclass(frozen=True)
class CheckedInputs:
    """The scores, images and FTA tables checked, with the groupings they are read by."""

    parsed: tuple[trials.Grouping, ...]
    crossed: tuple[trials.Grouping, ...]
    #: Label columns of the (non-cross) groupings, in first-use order.
    columns: tuple[str, ...]
    scores: pa.Table
    images: trials.ImageTable
    fta: pd.DataFrame | None
    subjects: pd.Index


def check_inputs(
    scores: pd.DataFrame | pa.Table,
    images: pd.DataFrame | pa.Table,
    fta: pd.DataFrame | pa.Table | None,
    groupings: tuple[str, ...],
    cross_groupings: tuple[str, ...] | None,
) -> CheckedInputs:
    """Groupings parsed (``overall`` first), their columns present, tables checked."""
    parsed = parse_groupings(groupings)
    crossed = parse_cross_groupings(parsed, cross_groupings)
    checked.check_grouping_columns(parsed + crossed, images)
    columns = tuple(dict.fromkeys(c for g in parsed for c in g.sensitive + g.control))
    scores_table = checked.check_scores_table(scores)
    labels = tuple(dict.fromkeys(columns + tuple(c for g in crossed for c in g.sensitive)))
    image_table = checked.check_images(images, labels)
    fta_frame = None if fta is None else checked.check_fta(fta)
    subjects = checked.subject_index(scores_table, image_table)
    return CheckedInputs(parsed, crossed, columns, scores_table, image_table, fta_frame, subjects)


def check_options(**options: object) -> None:
    checks = {
        "min_subjects": (_non_negative_integer, "a non-negative integer"),
        "min_trials": (_non_negative_integer, "a non-negative integer"),
        "confidence": (lambda v: 0 < v < 1, "in (0, 1)"),
        "interval": (lambda v: v in score_limits.INTERVALS,
                     " or ".join(map(repr, score_limits.INTERVALS))),
        "fairness_alpha": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    }
    for name, value in options.items():
        ok, what = checks[name]
        if not ok(value):
            raise ValueError(BAD_OPTION.format(name=name, what=what, value=value))


def _non_negative_integer(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0


def parse_groupings(groupings: tuple[str, ...]) -> tuple[trials.Grouping, ...]:
    parsed = [trials.Grouping.parse(trials.OVERALL)] + [trials.Grouping.parse(g) for g in groupings]
    return tuple(dict.fromkeys(parsed))


def parse_cross_groupings(
    parsed: tuple[trials.Grouping, ...], cross_groupings: tuple[str, ...] | None
) -> tuple[trials.Grouping, ...]:
    if cross_groupings is None:
        return tuple(g for g in parsed if len(g.sensitive) == 1 and not g.control)
    crossed = tuple(trials.Grouping.parse(g) for g in cross_groupings)
    for grouping in crossed:
        if grouping.control or not grouping.sensitive:
            raise ValueError(
                BAD_OPTION.format(
                    name="cross_groupings", what="groupings without controls", value=grouping.name
                )
            )
    return crossed

"""Long group labels: shortened everywhere in a report, written in full once.

A group label is data: an evaluator's manifest may hold a 10,000-character
value, and a report prints each group's label in many tables, sentences and
figures (hundreds of times with several groupings and operating points). So
before a report is built every label longer than :data:`MAX_LABEL_CHARS` is
replaced by its first characters and a reference, ``"…[k]"``, unique by
construction, and the full value is written once, in the data section
(:func:`with_short_labels`, applied to a run's report and to the report of a
bare metrics table alike).
Every other label the report prints is then at most ``MAX_LABEL_CHARS``
characters long, reference included, so the report's size grows with the
number of groups, not with the length of their labels
(``benchmarks/results_long_labels.md``).
"""

from __future__ import annotations

from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc

from audit.metrics.table import GROUP_B
from audit.report.inputs import RunInfo

#: Longest label printed; longer ones become their first characters + "…[k]", this long.
MAX_LABEL_CHARS = 36
#: Columns of the metrics table that hold group labels.
LABEL_COLUMNS = ("group", GROUP_B)


def long_labels(labels: list[str]) -> dict[str, str]:
    """Full label -> shortened label (:data:`MAX_LABEL_CHARS` long, ending in its
    reference), for each distinct label over the bound, in sorted order.

    >>> list(long_labels(["female", "y" * 30 + "z" * 20, "x" * 37]).values())
    ['xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…[1]', 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyzz…[2]']
    """
    long = sorted({label for label in labels if label and len(label) > MAX_LABEL_CHARS})
    shortened = {}
    for k, label in enumerate(long, 1):
        reference = f"…[{k}]"
        shortened[label] = label[:MAX_LABEL_CHARS - len(reference)] + reference
    return shortened


def shorten_metrics(metrics: pa.Table, mapping: dict[str, str]) -> pa.Table:
    """``metrics`` with every long label in its label columns replaced."""
    if not mapping:
        return metrics
    full = pa.array(list(mapping), pa.string())
    short = pa.array(list(mapping.values()), pa.string())
    for name in LABEL_COLUMNS:
        if name not in metrics.column_names:
            continue
        column = metrics.column(name)
        position = pc.index_in(column, value_set=full)
        replaced = pc.if_else(pc.is_valid(position), pc.take(short, position), column)
        metrics = metrics.set_column(metrics.column_names.index(name), name, replaced)
    return metrics


def labels_in(metrics: pa.Table) -> list[str]:
    """Every distinct label of the metrics table's label columns."""
    found: set[str] = set()
    for name in LABEL_COLUMNS:
        if name in metrics.column_names:
            found.update(v for v in pc.unique(metrics.column(name)).to_pylist() if v)
    return sorted(found)


def with_short_labels(metrics: pa.Table, run: RunInfo) -> tuple[pa.Table, RunInfo]:
    """The metrics table and run description with every long group label shortened,
    in the metrics and in the datasets' composition, and each kept in full once,
    in ``run.full_labels`` (the data section prints them, with or without datasets)."""
    composed = [c.group for d in run.datasets for c in d.composition]
    mapping = long_labels(labels_in(metrics) + composed)
    if not mapping:
        return metrics, run
    datasets = tuple(
        replace(d, composition=tuple(replace(c, group=mapping.get(c.group, c.group))
                                     for c in d.composition))
        for d in run.datasets)
    return shorten_metrics(metrics, mapping), replace(run, datasets=datasets,
                                                      full_labels=tuple(mapping))

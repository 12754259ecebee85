"""The report's reference material: composition, key/value listings, the family of tests.

* :func:`compositions`: people and images by group, from the run's datasets
  or, for a bare metrics table, from its FTA rows.
* :func:`flatten`: nested spec and provenance mappings as dotted keys.
* :func:`family`: every fixed-pair test at the audited operating points, the
  family the Benjamini-Hochberg correction runs over, as the appendix lists it.
"""

from __future__ import annotations

import re

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit.report.inputs import GroupCount, RunInfo
from audit.report.reading import Comparison, MetricsIndex, OperatingPoint

#: Order of rates in the appendix's list of tests.
FAMILY_RATES = ("fpir", "fnir", "fmr", "fnmr", "fnmr_incl_fta", "fta")


@dataclass(frozen=True)
class Composition:
    """Subjects and images by group of one grouping, per dataset or overall."""

    dataset: str | None  # None: from the metrics table (FTA rows), all datasets
    grouping: str
    rows: tuple[GroupCount, ...]


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str


def compositions(run: RunInfo, index: MetricsIndex,
                 groupings: tuple[str, ...]) -> tuple[Composition, ...]:
    out = []
    for dataset in run.datasets:
        by_grouping: dict[str, list[GroupCount]] = {}
        for count in dataset.composition:
            by_grouping.setdefault(count.grouping, []).append(count)
        out.extend(Composition(dataset.name, g, tuple(rows)) for g, rows in by_grouping.items())
    if out:
        return tuple(out)
    for grouping in groupings:
        # A group with no FTA rows (e.g. a score log's images missing from its attribute
        # file, so without a status) was not counted here: it is left out, not shown as 0.
        rows = [r for r in index.rates("fta", grouping, None) if r.n_trials]
        if rows:
            counts = tuple(GroupCount(grouping, r.group, r.n_subjects, r.n_trials) for r in rows)
            out.append(Composition(None, grouping, counts))
    return tuple(out)


#: An absolute path (POSIX or Windows) standing alone or after a space; group 1 is its last part.
_ABSOLUTE = re.compile(r"(?:(?<=\s)|^)(?:[A-Za-z]:[\\/]|/)(?:[^\s\\/,;]+[\\/])*([^\s\\/,;]+)[\\/]?")


def public(text: str) -> str:
    """Text fit for a public report: every absolute path cut to its last part, so
    no machine's folder names (which often hold a user name) are published.

    >>> public("/home/alice/data/lfw"), public("C:/Users/bob/m.csv; https://x.org/a")
    ('lfw', 'm.csv; https://x.org/a')
    """
    return _ABSOLUTE.sub(r"\1", text)


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> tuple[KeyValue, ...]:
    """Nested mappings as dotted keys with string values (lists joined by ", "),
    absolute paths cut to their last part (:func:`public`).

    >>> flatten({"a": {"b": 1, "c": [1, 2]}, "d": None, "root": "/home/alice/lfw"})[-2:]
    (KeyValue(key='d', value=''), KeyValue(key='root', value='lfw'))
    """
    out: list[KeyValue] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.extend(flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            if value and all(isinstance(v, Mapping) for v in value):
                for i, item in enumerate(value):
                    out.extend(flatten(item, f"{name}[{i}]."))
            else:
                out.append(KeyValue(name, public(", ".join(str(v) for v in value))))
        else:
            out.append(KeyValue(name, "" if value is None else public(str(value))))
    return tuple(out)


@dataclass(frozen=True)
class FamilyBlock:
    """The pair tests of one rate at one point (``point`` None: FTA), all groupings."""

    metric: str
    point: OperatingPoint | None
    comparisons: tuple[Comparison, ...]


def family(index: MetricsIndex, groupings: tuple[str, ...]) -> tuple[FamilyBlock, ...]:
    """Every pair test at the audited points, by rate and point, groupings in order.

    ``groupings`` orders the groupings (demographic first, then conditions);
    together the blocks hold one entry per ``p_adjusted`` row of the table.
    """
    rates = [m for m in FAMILY_RATES if m in index.metrics]
    rates += [m for m in index.metrics if m not in rates]
    out = []
    for metric in rates:
        for point in (*index.points, None):
            found = tuple(c for g in groupings for c in index.comparisons(metric, g, point))
            if found:
                out.append(FamilyBlock(metric, point, found))
    return tuple(out)

"""Groups of two or more label columns, in words: each column named with its value.

The metrics table labels a group of ``"sex x ethn"`` as ``"female x A"``
(:meth:`audit.metrics.trials.Grouping.label`), exact but clunky in a report:
"people with sex x ethn “female x A”". The report says "women with ethn “A”"
in sentences and "sex female, ethn A" in tables and figures instead, which
needs each label's column values. A label is never split to get them (a value
may itself contain ``" x "``): every label a grouping could have is built with
``Grouping.label`` from its columns' values as the report knows them (as read
from the data, ``RunInfo.label_values``; the one-column groupings of the same
table; the data's composition), and a
label is named by its columns only when exactly one combination builds it.
Any other label (a column with no one-column grouping, a label shortened by
:mod:`audit.report.labels`) is printed as the table holds it, with its grouping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import product
from types import MappingProxyType

import jinja2
import pandas as pd
import pyarrow as pa

from audit.metrics.table import GROUP_B, PROJECTION, RATE, STATISTIC
from audit.metrics.trials import OVERALL, Grouping
from audit.report.formatting import group as group_words
from audit.report.inputs import RunInfo
from audit.schema import UNKNOWN

#: Most labels built for one grouping; past it (columns of thousands of values) its
#: labels are printed as the table holds them.
MAX_BUILT = 100_000

#: (column, value) of each column of one group, in the grouping's column order.
Parts = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class GroupNames:
    """The column values of each group label of two or more columns, by (grouping, label).

    Templates reach it as the ``group_names`` global (:func:`audit.report.render.environment`):
    ``parts`` for sentences, worded in ``macros/words.html.j2``; ``text`` for tables and
    figures (the ``group`` filter).
    """

    known: Mapping[tuple[str, str], Parts] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "known", MappingProxyType(dict(self.known)))

    def parts(self, grouping: str, label: str) -> Parts:
        """The (column, value) pairs of ``label`` in ``grouping``; empty when not known."""
        return self.known.get((str(grouping), str(label)), ())

    def text(self, grouping: str, label: str) -> str:
        """``"sex female, ethn A"``: each column with its value (bands in words); a label
        whose parts are not known as :func:`audit.report.formatting.group` words it.

        >>> GroupNames({("sex x ethn", "female x A"): (("sex", "female"), ("ethn", "A"))}
        ...            ).text("sex x ethn", "female x A")
        'sex female, ethn A'
        """
        parts = self.parts(grouping, label)
        if not parts:
            return group_words(label)
        return ", ".join(f"{column.replace('_', ' ')} {group_words(value)}"
                         for column, value in parts)

    def texts(self, grouping: str) -> dict[str, str]:
        """Label -> :meth:`text` for every known label of ``grouping`` (for figures)."""
        return {label: self.text(grouping, label) for (g, label) in self.known if g == grouping}


def _labels(frame: pd.DataFrame) -> dict[str, set[str]]:
    """Grouping -> every label its rows name (``group``, and ``group_b`` of pairs and
    cross-group cells); a summary's ``group`` is a stratum, not a label, and is left out."""
    rows = frame[frame[STATISTIC].isin([RATE, PROJECTION]) | frame[GROUP_B].notna()]
    found: dict[str, set[str]] = {}
    for column in ("group", GROUP_B):
        named = rows[["grouping", column]].dropna().drop_duplicates()
        for grouping, label in named.itertuples(index=False):
            found.setdefault(str(grouping), set()).add(str(label))
    return found


def _values(labels: Mapping[str, set[str]], run: RunInfo) -> dict[str, set[str]]:
    """Column -> its values: as read from the data (``run.label_values``), the labels of
    its one-column grouping in the table and in the data's composition, and ``unknown``
    (a missing label)."""
    values = {g: set(v) for g, v in labels.items() if len(Grouping.parse(g).columns) == 1}
    for column, read in run.label_values.items():
        values.setdefault(column, set()).update(read)
    for dataset in run.datasets:
        for count in dataset.composition:
            if len(Grouping.parse(count.grouping).columns) == 1:
                values.setdefault(count.grouping, set()).add(count.group)
    return {column: found | {UNKNOWN} for column, found in values.items()}


def _built(grouping: Grouping, values: Mapping[str, set[str]]) -> dict[str, Parts | None]:
    """Every label ``grouping`` builds from ``values``, with its parts (None: built by
    two combinations, so not known)."""
    columns = grouping.sensitive + grouping.control
    pools = [sorted(values[c]) for c in columns]
    size = 1
    for pool in pools:
        size *= len(pool)
    if size > MAX_BUILT:
        return {}
    built: dict[str, Parts | None] = {}
    for combination in product(*pools):
        label = grouping.label(combination)
        built[label] = None if label in built else tuple(zip(columns, combination, strict=True))
    return built


def group_names(metrics: pa.Table | pd.DataFrame, run: RunInfo) -> GroupNames:
    """The parts of every label of the metrics table's groupings of two or more columns
    (composition labels included) that exactly one combination of known values builds."""
    needed = ["grouping", "group", GROUP_B, STATISTIC]
    frame = (metrics.select(needed).to_pandas() if isinstance(metrics, pa.Table)
             else metrics.loc[:, needed])
    labels = _labels(frame)
    for dataset in run.datasets:
        for count in dataset.composition:
            labels.setdefault(count.grouping, set()).add(count.group)
    values = _values(labels, run)
    known: dict[tuple[str, str], Parts] = {}
    for name, named in labels.items():
        if name == OVERALL:
            continue
        grouping = Grouping.parse(name)
        columns = grouping.sensitive + grouping.control
        if len(columns) < 2 or not all(c in values for c in columns):
            continue
        built = _built(grouping, values)
        known.update(((name, label), built[label]) for label in named if built.get(label))
    return GroupNames(known)


@jinja2.pass_environment
def group_filter(env: jinja2.Environment, label: object, grouping: str | None = None) -> str:
    """The templates' ``group`` filter: ``label|group(grouping)`` names each column of a
    known label with its value (:meth:`GroupNames.text`, from the ``group_names`` global);
    without a grouping, or for any other label, :func:`audit.report.formatting.group`."""
    names = env.globals.get("group_names")
    if grouping is None or not isinstance(names, GroupNames):
        return group_words(label)
    return names.text(grouping, str(label))

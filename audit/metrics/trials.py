"""Which trials each rate counts, and to whose group each trial belongs.

This module is the edge of the metrics stage: it checks the scores table
(:data:`audit.schema.SCORES`), the images table and the per-image FTA table
once, then turns them into :class:`TrialSet` objects. A trial set holds, for
one rate, the *decision scores* (a trial decides "match"/"alert" at threshold
``t`` when its score is ``>= t``; NaN never decides), the subject of each
trial (the cluster for intervals) and its *cell*: the combination of group
labels of the image it is attributed to.

Attribution (DESIGN.md): FMR by the probe's group, and by the (probe group,
reference group) pair for cross-group matrices; FPIR by the passer-by's
(probe's) group; FNMR/FNIR by the subject's group, read from the probe image
(probe and reference share the subject). The subject cluster of every trial is
``probe_subject``; a non-mated 1:1 pair (``fmr``, ``fmr_cross``) also carries
its reference's subject, as both people's effects act on its score.

Rates (``RATES``), in ISO/IEC 19795-1 names:

======================  ==============  ======  ==========================================
name                    trial kind      mated   FTA (NaN score)
======================  ==============  ======  ==========================================
``fmr``                 verification    no      dropped (no completed comparison)
``fnmr``                verification    yes     dropped (ISO FNMR)
``fnmr_incl_fta``       verification    yes     kept, counts as a non-match
``fpir``                identification  no      kept, never alerts
``fnir``                identification  yes     kept, a miss; so is an alert on the wrong entry
``fmr_cross``           verification    no      as ``fmr``; trials counted once per unordered
                                                group pair, rows in both orders
``fta``                 images          --      the rate itself (per image, no threshold)
======================  ==============  ======  ==========================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.metrics.arrow_lookup import index_in
from audit.metrics.subject_pairs import SubjectPairs
from audit.metrics.trial_rows import TrialRows
from audit.schema import UNKNOWN

VERIFICATION = "verification"
IDENTIFICATION = "identification"
OVERALL = "overall"
#: Group label of the single group of the ``overall`` grouping.
ALL = "all"
INTERSECTION = " x "
CONTROL = " | "
CROSS = " -> "
PROBE_PREFIX = "probe "
REFERENCE_PREFIX = "reference "

BAD_GROUPING = "grouping {text!r}: expected 'col', 'col x col' or 'col x col | control', got {why}"
DUPLICATE_COLUMN = "grouping {text!r} names column {column!r} twice"

_LABEL_PARTS = re.compile(r" x | \| | -> ")


def has_unknown_label(labels: object) -> np.ndarray:
    """True for group labels with an ``unknown`` part (``"female x unknown"``).

    ``unknown`` is missing or conflicting data, not a group of people: such
    groups are reported with their counts but are never ``sufficient``, so they
    are never ranked or used in a disparity.
    """
    return np.array([UNKNOWN in _LABEL_PARTS.split(str(label)) for label in labels], dtype=bool)


_LEADING_NUMBER = re.compile(r"^(<|>=)?\s*(-?\d+(?:\.\d+)?)")


def natural_order(label: str) -> tuple:
    """Sort key for group labels: numeric bands by their numbers, ``unknown`` last.

    ``<60 px`` < ``60-120 px`` < ``>=120 px``; ``0-17`` < ``18-29`` < ``60+``;
    other labels alphabetically, after numeric ones.

    >>> sorted([">=120 px", "unknown", "60-120 px", "<60 px"], key=natural_order)
    ['<60 px', '60-120 px', '>=120 px', 'unknown']
    """
    if label == UNKNOWN:
        return (2, 0.0, 0, label)
    match = _LEADING_NUMBER.match(label)
    if match is None:
        return (1, 0.0, 0, label)
    side = {"<": 0, None: 1, ">=": 2}[match.group(1)]
    return (0, float(match.group(2)), side, label)


def natural_groups(frame: pd.DataFrame, columns: tuple[str, ...]) -> tuple[np.ndarray, pd.DataFrame]:
    """Code of each row's value combination, and the combinations in :func:`natural_order`."""
    grouped = frame.groupby(list(columns), sort=False)
    table = grouped.size().index.to_frame(index=False)
    order = sorted(range(len(table)), key=lambda i: tuple(natural_order(v) for v in table.iloc[i]))
    rank = np.empty(len(order), dtype=np.int32)  # codes, four bytes a row
    rank[order] = np.arange(len(order))
    return rank[grouped.ngroup().to_numpy(np.int64)], table.iloc[order].reset_index(drop=True)


@dataclass(frozen=True)
class RateSpec:
    """How one rate chooses and reads its trials."""

    name: str
    kind: str
    mated: bool
    keep_fta: bool


FMR = RateSpec("fmr", VERIFICATION, mated=False, keep_fta=False)
FNMR = RateSpec("fnmr", VERIFICATION, mated=True, keep_fta=False)
FNMR_INCL_FTA = RateSpec("fnmr_incl_fta", VERIFICATION, mated=True, keep_fta=True)
FPIR = RateSpec("fpir", IDENTIFICATION, mated=False, keep_fta=True)
FNIR = RateSpec("fnir", IDENTIFICATION, mated=True, keep_fta=True)
RATES = {spec.name: spec for spec in (FMR, FNMR, FNMR_INCL_FTA, FPIR, FNIR)}
FMR_CROSS = "fmr_cross"
FTA = "fta"


def single_groupings(groupings: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The groupings of one column (and ``overall``): no intersection, no control.

    Threshold sweeps and their figures are drawn for these only.

    >>> single_groupings(("gender", "gender x ethnicity", "gender | lighting", "overall"))
    ('gender', 'overall')
    """
    def single(parsed: Grouping) -> bool:
        return len(parsed.sensitive) <= 1 and not parsed.control

    return tuple(g for g in groupings if single(Grouping.parse(g)))


@dataclass(frozen=True)
class Grouping:
    """A breakdown: sensitive columns (intersected), optional control columns.

    ``Grouping.parse("gender x ethnicity | lighting")`` intersects gender and
    ethnicity within each lighting level (Fairlearn's ``control_features``).
    ``cross=True`` marks the (probe group, reference group) pairs of a
    cross-group FMR matrix. The name and group labels written to the METRICS
    table follow the same syntax: grouping ``"gender x ethnicity | lighting"``,
    group ``"female x black | poor"``, cross group ``"female -> male"``.
    """

    sensitive: tuple[str, ...]
    control: tuple[str, ...] = ()
    cross: bool = False

    @classmethod
    def parse(cls, text: str) -> Grouping:
        """Read ``"overall"``, ``"a"``, ``"a x b"`` or ``"a x b | c"``."""
        if text.strip() == OVERALL:
            return cls(())
        sensitive_text, _, control_text = text.partition(CONTROL.strip())
        sensitive = _split(sensitive_text, text)
        control = _split(control_text, text) if control_text.strip() else ()
        if not sensitive:
            raise ValueError(BAD_GROUPING.format(text=text, why="no sensitive column"))
        for column in sensitive + control:
            if (sensitive + control).count(column) > 1:
                raise ValueError(DUPLICATE_COLUMN.format(text=text, column=column))
        return cls(sensitive, control)

    @property
    def name(self) -> str:
        if not self.sensitive:
            return OVERALL
        name = INTERSECTION.join(self.sensitive)
        return name + CONTROL + INTERSECTION.join(self.control) if self.control else name

    @property
    def columns(self) -> tuple[str, ...]:
        """Cell-table columns this grouping reads, sensitive first."""
        if self.cross:
            return tuple(PROBE_PREFIX + c for c in self.sensitive) + tuple(
                REFERENCE_PREFIX + c for c in self.sensitive
            )
        return self.sensitive + self.control

    def label(self, values: tuple[str, ...]) -> str:
        """Group label of one combination of :attr:`columns` values."""
        if not self.sensitive:
            return ALL
        k = len(self.sensitive)
        if self.cross:
            return INTERSECTION.join(values[:k]) + CROSS + INTERSECTION.join(values[k:])
        label = INTERSECTION.join(values[:k])
        return label + CONTROL + INTERSECTION.join(values[k:]) if self.control else label

    def groups(self, cell_table: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        """Group code of each cell row and the group table (one row per group).

        Groups are the observed combinations of :attr:`columns` values, in
        :func:`natural_order`; ``overall`` has one group and a group table
        without columns.
        """
        if not self.sensitive:
            return np.zeros(len(cell_table), dtype=np.int64), pd.DataFrame(index=pd.RangeIndex(1))
        return natural_groups(cell_table, self.columns)

    def labels(self, group_table: pd.DataFrame) -> list[str]:
        """Group label of each row of a group table from :meth:`groups`."""
        rows = group_table.loc[:, list(self.columns)].itertuples(index=False)
        return [self.label(tuple(values)) for values in rows]

    def sides(self, group_table: pd.DataFrame) -> tuple[list[str], list[str]]:
        """Probe-side and reference-side group labels of a cross grouping's group table."""
        k = len(self.sensitive)
        rows = [tuple(v) for v in group_table.loc[:, list(self.columns)].itertuples(index=False)]
        return [INTERSECTION.join(v[:k]) for v in rows], [INTERSECTION.join(v[k:]) for v in rows]

    def strata(self, group_table: pd.DataFrame) -> list[str]:
        """Stratum (control level, ``""`` without controls) of each group."""
        rows = group_table.loc[:, list(self.columns)].itertuples(index=False)
        return [self.stratum(tuple(values)) for values in rows]

    def stratum(self, values: tuple[str, ...]) -> str:
        """Control-level label (``""`` without controls): disparity is taken within it."""
        return INTERSECTION.join(values[len(self.sensitive) :]) if self.control else ""


def _split(part: str, text: str) -> tuple[str, ...]:
    columns = tuple(c.strip() for c in re.split(r"\s+x\s+", part.strip()))
    if any(not c for c in columns):
        raise ValueError(BAD_GROUPING.format(text=text, why="an empty column name"))
    return columns


UNKNOWN_IMAGES = "{table} refers to {count} image id(s) absent from the images table, e.g. {ids}"


@dataclass(frozen=True)
class ImageTable:
    """The images table, checked: one row per image, labels as strings."""

    ids: pd.Index
    subject_ids: np.ndarray
    labels: pd.DataFrame

    def cells(self, columns: tuple[str, ...]) -> tuple[np.ndarray, pd.DataFrame]:
        """Cell code of each image and the cell table (one row per observed combination),
        in :func:`natural_order` so that bands read ``<60 px, 60-120 px, >=120 px``."""
        if not columns:
            return np.zeros(len(self.ids), dtype=np.int64), pd.DataFrame(index=pd.RangeIndex(1))
        return natural_groups(self.labels, columns)

    @cached_property
    def id_values(self) -> pa.Array:
        """The image ids as an Arrow value set (built once)."""
        return pa.array(self.ids.to_numpy(dtype=object), pa.string())

    def positions(self, ids: pa.ChunkedArray | pa.Array, *, table: str) -> np.ndarray:
        """Row of each id in the images table; unknown ids raise."""
        found = index_in(ids, self.id_values)
        missing = found < 0
        if missing.any():
            absent = pc.unique(pc.filter(ids, pa.array(missing))).to_pylist()
            raise ValueError(UNKNOWN_IMAGES.format(table=table, count=len(absent), ids=absent[:5]))
        return found


@dataclass(frozen=True)
class TrialSet:
    """The trials of one rate: decision scores, subject codes and cells.

    ``mated`` is the ground truth of every trial. A trial decides ("match",
    "alert", or for FNIR "alert on the own entry") at threshold ``t`` when its
    score is ``>= t``. Errors are decisions for non-mated rates and
    non-decisions for mated rates; every trial is in the denominator.
    """

    rate: str
    mated: bool
    scores: np.ndarray
    subjects: np.ndarray
    cells: np.ndarray
    cell_table: pd.DataFrame
    #: Subject of the other image of a non-mated 1:1 pair (FMR), else None: such
    #: trials are clustered on both subjects (:mod:`audit.metrics.variance`).
    reference_subjects: np.ndarray | None = None
    #: The trials' unordered subject pairs, when already sorted (the FMR trials').
    pairs: SubjectPairs | None = None


def trial_set(
    scores: pa.Table,
    images: ImageTable,
    spec: RateSpec,
    *,
    subjects: pd.Index,
    columns: tuple[str, ...],
    rows: TrialRows | None = None,
) -> TrialSet:
    """The trials of one rate in :data:`RATES`, grouped by the probe image's labels.

    ``rows``, the table's :class:`audit.metrics.trial_rows.TrialRows`, shares the rows'
    look-ups between the rates (``subjects`` being its subject index).
    """
    rows = rows if rows is not None else TrialRows(scores, images, subjects)
    keep = rows.kept(spec)
    decision = rows.scores[keep]
    if spec is FNIR:
        correct = scores["best_is_true_entry"].filter(pa.array(keep)).fill_null(False)
        decision = np.where(correct.to_numpy(zero_copy_only=False), decision, np.nan)
    image_cells, cell_table = images.cells(columns)
    return TrialSet(
        rate=spec.name,
        mated=spec.mated,
        scores=decision,
        subjects=rows.probe_subject[keep],
        cells=image_cells[rows.probe[keep]],
        cell_table=cell_table,
        reference_subjects=rows.reference_subject[keep] if spec is FMR else None,
    )


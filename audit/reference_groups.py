"""Reference groups: the group of a demographic grouping that the others are compared against.

By default the summary states, per rate, grouping and operating point, the
highest-rate group against the lowest-rate group with enough data. An audit
spec may instead name a reference group per grouping::

    [statistics]
    reference_groups = { gender = "male", "gender x ethnicity" = "male x white" }

and the summary then states that group against each other group with enough
data, every statement about a fixed pair whose groups are chosen before any
data are seen. The metrics table holds every pair either way; the reference
only chooses which pairs the summary leads with.

Both mistakes a spec can make are caught before any expensive work: a
grouping that is not one of ``[groupings] sensitive`` when the spec is loaded
(:func:`reference_groupings_problem`), a group absent from the dataset's
labels as soon as the manifest is read (:func:`check_reference_groups`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import pyarrow as pa

#: How a grouping's columns and a group's labels are joined (as ``audit.metrics.trials``).
INTERSECTION = " x "
UNKNOWN = "unknown"
UNKNOWN_GROUPING = (
    "[statistics] reference_groups names grouping {grouping!r}, which is not in [groupings] "
    "sensitive ({known}); add it there or remove its reference group")
UNKNOWN_GROUP = (
    "[statistics] reference_groups: grouping {grouping!r} has no group {group!r} in this dataset "
    "(its groups: {known}); name one of them")
UNLABELLED_GROUP = (
    "[statistics] reference_groups: {group!r} of grouping {grouping!r} is the label of images "
    "without one, never compared; name a labelled group")


class ReferenceGroupError(ValueError):
    """A reference group the dataset does not have."""


def reference_groupings_problem(references: Mapping[str, str],
                                sensitive: Sequence[str]) -> str | None:
    """A one-line message when a reference names an unknown grouping or the unknown label.

    Examples
    --------
    >>> reference_groupings_problem({"gender": "male"}, ["gender"]) is None
    True
    >>> print(reference_groupings_problem({"age": "18-30"}, ["gender"]))
    [statistics] reference_groups names grouping 'age', which is not in [groupings] sensitive ('gender'); add it there or remove its reference group
    """
    for grouping, group in references.items():
        if grouping not in sensitive:
            known = ", ".join(repr(g) for g in sensitive) or "none"
            return UNKNOWN_GROUPING.format(grouping=grouping, known=known)
        if UNKNOWN in group.split(INTERSECTION):
            return UNLABELLED_GROUP.format(group=group, grouping=grouping)
    return None


def dataset_groups(grouping: str, labels: pd.DataFrame) -> list[str]:
    """The groups of ``grouping`` found in a table of label columns, sorted.

    A missing label reads ``"unknown"``, as in the metrics stage.
    """
    columns = grouping.split(INTERSECTION)
    missing = [c for c in columns if c not in labels.columns]
    if missing:
        return []
    values = labels[columns].astype("string").fillna(UNKNOWN)
    joined = values[columns[0]]
    for column in columns[1:]:
        joined = joined + INTERSECTION + values[column]
    return sorted(set(joined.tolist()))


def check_reference_groups(references: Mapping[str, str],
                           manifest: pa.Table | pd.DataFrame) -> None:
    """Raise :class:`ReferenceGroupError` (one line) when a reference group is not in the data."""
    if not references:
        return
    wanted = {c for g in references for c in g.split(INTERSECTION)}
    if isinstance(manifest, pa.Table):
        present = [c for c in manifest.column_names if c in wanted]
        labels = manifest.select(present).to_pandas()
    else:
        labels = manifest
    for grouping, group in references.items():
        groups = dataset_groups(grouping, labels)
        if group not in groups:
            shown = ", ".join(repr(g) for g in groups[:12]) + (", ..." if len(groups) > 12 else "")
            raise ReferenceGroupError(UNKNOWN_GROUP.format(
                grouping=grouping, group=group, known=shown or "none"))

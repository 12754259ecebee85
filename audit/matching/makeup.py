"""Watchlist make-up: who is drawn onto a watchlist of W people, a stated design choice.

A passer-by's false alert rate depends on who is on the list: women resemble
women more than men, so a watchlist of mostly women alerts on women more
often. The make-up is therefore part of the audited design, one of

- ``uniform``: W people drawn without replacement from everyone in the data;
- ``balanced``: equal shares of the groups of one grouping (``unknown`` left out);
- a table of shares for the groups of one grouping, e.g. ``{female = 0.2,
  male = 0.8}``: a *stratified* list, ``W_s`` people drawn without
  replacement within each group ``s``. Groups without a share (including
  ``unknown``) are never listed.

``W_s`` is the share times W rounded by largest remainders (Hamilton's
method), so the quotas always add up to W. Stratified lists drawn here
(:mod:`audit.matching.identification`) and the exact average over every
such list (:mod:`audit.metrics.watchlist_curve`) use the same quotas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

UNIFORM, BALANCED = "uniform", "balanced"
UNKNOWN_LABEL = "unknown"
BAD_SHARES = "shares must be between 0 and 1 and add up to 1, got {shares}"
UNKNOWN_GROUPS = ("[watchlist] composition names {bad}, not groups of {grouping!r} in the data "
                  "(its groups: {known}); use those names or composition = \"uniform\"")
UNKNOWN_COLUMN = ("[watchlist] composition_by = {grouping!r} is not a label column of the data "
                  "(columns: {known}); name one of them")
TOO_FEW = ("[watchlist] composition: a watchlist of {size} needs {need} people of group {group!r} "
           "but the data holds {have}")


def check_shares(shares: Mapping[str, float]) -> None:
    """Shares of a stated table: each in [0, 1], adding up to 1 (to 1e-9). ValueError if not."""
    values = np.asarray(list(shares.values()), dtype=np.float64)
    if (values.size == 0 or np.any(values < 0) or np.any(values > 1)
            or abs(values.sum() - 1) > 1e-9):
        raise ValueError(BAD_SHARES.format(shares=dict(shares)))


@dataclass(frozen=True)
class Composition:
    """A watchlist's make-up: ``uniform``, or ``shares`` of the groups of ``grouping``.

    ``shares`` maps group label -> share of the watchlist (adding up to 1);
    empty for uniform. Build it with :func:`composition`.
    """

    kind: str  # "uniform", "balanced" or "shares"
    grouping: str | None = None
    shares: Mapping[str, float] | None = None

    @property
    def uniform(self) -> bool:
        return self.kind == UNIFORM

    def describe(self) -> str:
        """Words for the report and messages, e.g. ``gender: female 20%, male 80%``."""
        if self.uniform:
            return "uniform over everyone in the data"
        parts = ", ".join(f"{g} {100 * s:.3g}%" for g, s in self.shares.items())
        return f"{self.kind} by {self.grouping}: {parts}"

    def quotas(self, strata: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """Entries drawn from each stratum at every W: shape (len(strata), len(sizes)), int64.

        Uniform has one stratum (``strata`` of length 1) holding every entry.

        >>> c = Composition("shares", "g", {"f": 0.2, "m": 0.8})
        >>> c.quotas(np.array(["f", "m", "unknown"]), np.array([1, 3, 10])).tolist()
        [[0, 1, 2], [1, 2, 8], [0, 0, 0]]
        """
        sizes = np.asarray(sizes, dtype=np.int64)
        if self.uniform:
            return sizes[None, :].copy()
        share = np.array([self.shares.get(str(s), 0.0) for s in strata], dtype=np.float64)
        exact = share[:, None] * sizes[None, :]
        base = np.floor(exact + 1e-9).astype(np.int64)
        short = sizes - base.sum(axis=0)  # entries still to give, by largest remainder
        order = np.argsort(-(exact - base), axis=0, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(len(strata))[:, None], axis=0)
        return base + (rank < short[None, :])


def composition(value: str | Mapping[str, float], grouping: str | None,
                labels: np.ndarray | None = None) -> Composition:
    """The make-up a spec states, resolved against the group ``labels`` of the data.

    ``value`` is ``"uniform"``, ``"balanced"`` (equal shares of the groups in
    ``labels`` other than ``unknown``) or a table of shares. A table naming a
    group absent from ``labels`` raises ValueError with a one-line message.
    """
    if value == UNIFORM:
        return Composition(UNIFORM)
    known = sorted({str(v) for v in labels}) if labels is not None else []
    if value == BALANCED:
        groups = [g for g in known if g != UNKNOWN_LABEL]
        return Composition(BALANCED, grouping, {g: 1 / len(groups) for g in groups})
    check_shares(value)
    bad = sorted(set(value) - set(known)) if labels is not None else []
    if bad:
        raise ValueError(UNKNOWN_GROUPS.format(bad=bad, grouping=grouping, known=known))
    return Composition("shares", grouping, dict(value))


def largest_size(comp: Composition, strata: np.ndarray, people: np.ndarray) -> int:
    """The largest W whose quotas, and those of every smaller W, leave each stratum
    at least one person off the list (``people[s]`` in stratum ``s``): a passer-by of
    any group then has a watchlist drawn from the others. At least 0.
    """
    total = int(np.sum(people))
    if total < 2:
        return 0
    sizes = np.arange(1, total)
    room = np.maximum(np.asarray(people) - 1, 0)[:, None]  # a group of nobody takes nobody
    fits = np.all(comp.quotas(strata, sizes) <= room, axis=0)
    bad = np.flatnonzero(~fits)
    return int(sizes[bad[0]] - 1) if bad.size else int(sizes[-1])


def image_labels(manifest, column: str, image_id: np.ndarray) -> np.ndarray:
    """The ``column`` label of each of ``image_id`` (``unknown`` where missing), as str."""
    import pyarrow as pa

    frame = (manifest.select(["image_id", column]).to_pandas()
             if isinstance(manifest, pa.Table) else manifest[["image_id", column]])
    return (frame.set_index("image_id")[column].reindex(image_id)
            .fillna(UNKNOWN_LABEL).astype(str).to_numpy(object))


def spec_composition(value: str | Mapping[str, float], grouping: str, manifest) -> Composition:
    """The spec's ``[watchlist] composition`` checked against the labels of a manifest
    (Arrow table), before any embedding: ValueError (one line) for an unknown column
    or group."""
    if value == UNIFORM:
        return Composition(UNIFORM)
    if grouping not in manifest.column_names:
        known = [c for c in manifest.column_names if c not in ("image_id", "path", "subject_id")]
        raise ValueError(UNKNOWN_COLUMN.format(grouping=grouping, known=known))
    image_id = np.asarray(manifest.column("image_id").to_pylist(), dtype=object)
    return composition(value, grouping, image_labels(manifest, grouping, image_id))

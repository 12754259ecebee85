"""Public reference figures: other systems' published results, with their sources.

The figures and their citations live in one data file, ``references.toml``
beside this module, so that a source is corrected in one place and every
figure carries its title, publisher, date and the source's own counts. The
deployment section quotes them as context, labelled as other systems.
"""

from __future__ import annotations

import tomllib
from dataclasses import MISSING, dataclass, fields
from functools import cache
from importlib.resources import files

REFERENCES_FILE = "references.toml"
BAD_REFERENCE = "references.toml: reference {id!r} {problem}"


@dataclass(frozen=True)
class WatchlistPoint:
    """A published false alert rate at a watchlist size: about 1 in ``one_in`` passers-by
    (as the source words it) with a watchlist of ``watchlist`` entries."""

    watchlist: int
    one_in: int

    @property
    def fpir(self) -> float:
        return 1.0 / self.one_in


@dataclass(frozen=True)
class Reference:
    """One published source and the figures the report quotes from it.

    ``findings`` are worded as the source words them. The counts are the
    source's own (None when it gives none): ``alerts`` raised, of which
    ``false_alerts`` were false or ``verified_correct`` were verified as the
    person sought; ``stopped``, ``rejected_at_once`` and ``lost_in_crowd``
    say what happened to the alerts when the source says so.
    ``press_percent`` is the share of false alerts as the press reported it,
    when that differs from the counts by rounding. ``watchlist_points`` are
    false alert rates at stated watchlist sizes, drawn on the report's
    watchlist-size figure as another system's, with ``points_source``,
    ``points_url`` and ``points_quote`` (the sentence they are read from).
    """

    id: str
    label: str  # the short name the table shows
    title: str
    authors: str
    publisher: str
    date: str
    url: str
    system: str
    setting: str
    threshold: str
    watchlist: str
    findings: tuple[str, ...]
    per_face: str
    alerts: int | None = None
    false_alerts: int | None = None
    verified_correct: int | None = None
    stopped: int | None = None
    rejected_at_once: int | None = None
    lost_in_crowd: int | None = None
    press_percent: int | None = None
    watchlist_points: tuple[WatchlistPoint, ...] = ()
    points_source: str = ""
    points_url: str = ""
    points_quote: str = ""

    @property
    def false_share(self) -> float | None:
        """False alerts over alerts, when the source counts both."""
        if self.alerts and self.false_alerts is not None:
            return self.false_alerts / self.alerts
        return None

    @property
    def verified_share(self) -> float | None:
        """Alerts verified correct over all alerts, when the source counts both."""
        if self.alerts and self.verified_correct is not None:
            return self.verified_correct / self.alerts
        return None

    @property
    def not_verified(self) -> int | None:
        """Alerts never checked against the person (rejected at once or lost)."""
        if None in (self.rejected_at_once, self.lost_in_crowd):
            return None
        return self.rejected_at_once + self.lost_in_crowd


def _reference(entry: dict) -> Reference:
    names = {f.name for f in fields(Reference)}
    ident = entry.get("id", "?")
    unknown = set(entry) - names
    if unknown:
        raise ValueError(BAD_REFERENCE.format(id=ident, problem=f"has unknown keys {sorted(unknown)}"))
    required = [f.name for f in fields(Reference) if f.default is MISSING]
    missing = [name for name in required
               if name != "authors" and not entry.get(name)]  # authors may be empty
    if missing:
        raise ValueError(BAD_REFERENCE.format(id=ident, problem=f"lacks {missing}"))
    points = tuple(WatchlistPoint(**p) for p in entry.get("watchlist_points", ()))
    if points and not (entry.get("points_url") and entry.get("points_quote")):
        raise ValueError(BAD_REFERENCE.format(id=ident, problem="has watchlist_points without "
                                                                "points_url and points_quote"))
    return Reference(**{**entry, "findings": tuple(entry["findings"]),
                        "watchlist_points": points})


@cache
def public_references() -> tuple[Reference, ...]:
    """The reference figures of ``references.toml``, in the file's order."""
    text = files("audit.report").joinpath(REFERENCES_FILE).read_text(encoding="utf-8")
    return tuple(_reference(entry) for entry in tomllib.loads(text)["reference"])

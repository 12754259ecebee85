"""One look per group across the whole report: colour, marker and line style.

Every figure that draws groups (forest plots, rate sweeps, DET curves, and any
figure added later: watchlist-size curves, deployment charts) asks the same
:class:`GroupStyles` for a group's look, so a group has one colour, one marker
and one dash on every page. The styles are assigned once, from the report's
ordered list of group labels (:attr:`ReportContext.group_labels`), never
restarted per panel.

Colours are the Okabe & Ito (2008) colour-blind-safe palette without black,
which is kept for the overall rate, and without yellow, too faint on white;
each group also gets a marker and a dash, so the figures read in grey. Up to
42 groups get distinct (colour, dash) pairs and 66 distinct (colour, marker)
pairs.

Number style lives in :mod:`audit.report.formatting` (the templates' filters,
also used for figure tick labels): use both modules for any new figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from audit.metrics.trials import ALL

#: Okabe & Ito palette without black (the overall line) and yellow (too faint on white).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
DASHES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1)), (0, (8, 2)))
#: The overall rate: black, thick, solid, diamond markers.
OVERALL_COLOUR = "#000000"
MUTED = "#555555"


@dataclass(frozen=True)
class GroupStyle:
    """A group's colour, marker and dash (a matplotlib line style)."""

    colour: str
    marker: str
    dash: object
    overall: bool = False

    def line(self) -> dict:
        """Keyword arguments of ``Axes.plot`` for this group's line."""
        return {"color": self.colour, "marker": self.marker, "linestyle": self.dash,
                "linewidth": 2.0 if self.overall else 1.2}


OVERALL_STYLE = GroupStyle(OVERALL_COLOUR, "D", "-", overall=True)


def nth_style(i: int) -> GroupStyle:
    """The i-th group's look: colour cycles fastest, the dash changes every 6 groups.

    >>> nth_style(0), nth_style(6).dash
    (GroupStyle(colour='#0072B2', marker='o', dash='-', overall=False), '--')
    """
    return GroupStyle(PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)],
                      DASHES[(i // len(PALETTE)) % len(DASHES)])


class GroupStyles:
    """Group label -> :class:`GroupStyle`, assigned once in the order given.

    A label met again later (the same group in another grouping or figure)
    keeps its first style; the overall rate always gets :data:`OVERALL_STYLE`.
    A label not in the list (a figure drawn outside a report) gets the next
    free style, so it never borrows another group's look.
    """

    def __init__(self, labels: Iterable[str] = ()) -> None:
        self._styles: dict[str, GroupStyle] = {}
        for label in labels:
            self[label]

    def __getitem__(self, label: str) -> GroupStyle:
        if label == ALL:
            return OVERALL_STYLE
        if label not in self._styles:
            self._styles[label] = nth_style(len(self._styles))
        return self._styles[label]

    @property
    def assigned(self) -> Mapping[str, GroupStyle]:
        return MappingProxyType(self._styles)

"""The problems found in a score log, and how many each capped check left unlisted.

Each check lists at most a few rows (the first ones, in row order), so that
a log with 3,704 repeated rows is answered in twenty lines, not 3,704; the
total is still told ("... and 3,684 more problem(s), 3,704 in all"), or a user
fixing the listed rows would expect to be done.
"""

from __future__ import annotations

from collections.abc import Iterable

MORE = "... and {hidden:,} more problem(s), {total:,} in all"


class Problems(list):
    """Problem messages (a list of one-line strings) and the count of those not listed."""

    def __init__(self) -> None:
        super().__init__()
        self.unlisted = 0

    def add(self, messages: Iterable[str], total: int) -> None:
        """Messages of one check that found ``total`` problems and listed the first few."""
        listed = list(messages)
        self.extend(listed)
        self.unlisted += max(total - len(listed), 0)

    def text(self, limit: int) -> str:
        """The first ``limit`` messages, one a line, then how many more there were."""
        shown = list(self[:limit])
        hidden = len(self) - len(shown) + self.unlisted
        if hidden:
            shown.append(MORE.format(hidden=hidden, total=len(shown) + hidden))
        return "\n".join(shown)

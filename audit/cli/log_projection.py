"""A score log's deployment projection: its assumptions and where each came from.

``metrics --crowd`` projects the log's 1:N rates onto a crowd
(:func:`audit.metrics.project_deployment`). A score log has no gallery to search
at another watchlist size, so its figures always hold for the audited watchlist
size; a deployment watchlist of another size (``--watchlist``) is stated beside
them, never projected to. The assumptions go into the record
(``metrics.about.json``, read by the report), the JSON digest and a terminal line,
each with its origin: an option, its default, or the about file.
"""

from __future__ import annotations

from typing import Any

#: Share of the crowd on the watchlist when --share-on-watchlist is not given.
DEFAULT_SHARE = 1e-4


def projection_assumptions(*, crowd: int | None, share: float | None, watchlist: int | None,
                           audit_watchlist: int | None,
                           audit_watchlist_given: bool) -> dict[str, Any] | None:
    """What a score log's projection assumes (None without ``--crowd``).

    ``crowd``, ``share_on_watchlist``, ``watchlist`` (the deployment's size),
    ``audit_watchlist`` (the size the searches were made against),
    ``figures_at_watchlist`` (the size the figures hold for: the audited one), and
    ``origins``: per assumption, the option or file it came from.
    ``audit_watchlist_given`` says whether ``--audit-watchlist`` was given (else the
    about file's ``[watchlist] size`` stated it).
    """
    if crowd is None:
        return None
    return {
        "crowd": crowd,
        "share_on_watchlist": DEFAULT_SHARE if share is None else share,
        "watchlist": watchlist or audit_watchlist,
        "audit_watchlist": audit_watchlist,
        "figures_at_watchlist": audit_watchlist,
        "origins": {
            "crowd": "--crowd",
            "share_on_watchlist": ("--share-on-watchlist" if share is not None else
                                   "the default of --share-on-watchlist"),
            "watchlist": ("--watchlist" if watchlist is not None else
                          "the audited size (no --watchlist)"),
            "audit_watchlist": ("--audit-watchlist" if audit_watchlist_given else
                                "[watchlist] size in the about file"),
        },
    }


def assumptions_line(assumptions: dict[str, Any]) -> str:
    """The terminal's line under the projection table: each assumption and its origin,
    and whether the figures are projected to the deployment's watchlist (never, for a
    score log: they hold for the audited size)."""
    origins = assumptions["origins"]
    share = assumptions["share_on_watchlist"]
    on_list = f"1 in {1 / share:,.0f}" if share > 0 else "none"
    audited, deployed = assumptions["audit_watchlist"], assumptions["watchlist"]
    line = (f"projection assumes: a crowd of {assumptions['crowd']:,} faces "
            f"({origins['crowd']}), {on_list} of them on the watchlist "
            f"({origins['share_on_watchlist']}), rates measured with a watchlist of "
            f"{audited:,} people ({origins['audit_watchlist']})")
    if deployed == audited:
        return line
    likely = "more" if deployed > audited else "fewer"  # FPIR grows with watchlist size
    return (f"{line}; applied unchanged, not projected, to the deployment's watchlist of "
            f"{deployed:,} ({origins['watchlist']}): its false alerts are likely {likely}")

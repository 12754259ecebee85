"""The ``lfr-audit`` command line: thin commands that call the stages, one module a group.

Exit codes: 0 success; 2 a user mistake (bad option, bad manifest, missing
weights or data), reported as one line on stderr with no traceback; 3 an
agreed ``[policy]`` limit is broken (:data:`EXIT_POLICY`); 4 a limit could not
be evaluated, e.g. a rate with no trials or a group with too few people, and
the spec does not set ``skip_unevaluable = true``
(:data:`EXIT_POLICY_NOT_EVALUATED`); 1 anything unexpected. ``run`` and
``compare`` (for the later run) print each broken and each not-evaluated limit
on a line of its own, then ``policy: <state>``: met, broken, not evaluated or
no policy (rules in :mod:`audit.runs.policy`).

One module per command group: :mod:`.install` (``doctor``, ``init``,
``models``), :mod:`.datasets`, :mod:`.embedding` (``embed``, ``lfw-view2``),
:mod:`.audits` (``run``, ``compare``), :mod:`.reports` (``report``, ``runs``),
:mod:`.metrics` and :mod:`.deployments`; what they share (apps, options, user errors) is in
:mod:`.common`. A new command goes into the module of its group, or a new one
imported below.
"""

from __future__ import annotations

import os

from . import (  # noqa: F401  (each module registers its commands)
    audits,
    datasets,
    deployments,
    embedding,
    install,
    metrics,
    reports,
)
from .audits import gate_policy, policy_exit_code
from .common import EXIT_POLICY, EXIT_POLICY_NOT_EVALUATED, EXIT_USAGE, UserError, app

__all__ = ["EXIT_POLICY", "EXIT_POLICY_NOT_EVALUATED", "EXIT_USAGE", "UserError", "app",
           "gate_policy", "main", "policy_exit_code"]


def _stop_on_sigterm(signum, frame) -> None:
    """Turn SIGTERM (cron or CI timeouts) into a normal exit, so that worker
    pools and partial run folders are cleaned up as on Ctrl-C."""
    raise SystemExit(128 + signum)


def main() -> None:  # pragma: no cover - console entry point
    import signal

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    app()

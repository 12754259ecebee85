"""``python -m audit`` runs the ``lfr-audit`` command line."""

from audit.cli import main

main()

"""``python -m audit`` runs the ``lfr-audit`` command line."""

from audit.cli import main

if __name__ == "__main__":  # not when imported (doctest collection)
    main()

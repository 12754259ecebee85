"""lfr-audit: accuracy and demographic-fairness audits of face recognition."""

__version__ = "0.1.0"

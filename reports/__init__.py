"""The report templates and CSS (``reports/templates/``), shipped as package data.

Kept at the top of the repository, where designers find them; installed as
the ``reports`` package so that a wheel carries them
(:func:`audit.report.assets.templates_dir` finds them either way).
"""

"""Audits of real deployments from their records and published counts.

``records`` reads and checks the records (row-numbered refusals), ``exact``
gives each record's figures with exact intervals, ``pooling`` pools them with
the between-deployment variation, ``overrep`` tests a group's share of false
alerts against an uncertain crowd share, ``references`` reads crowd shares and
lab FPIR, ``analysis`` ties them together, ``report`` and ``figure`` write the
deployments report, and ``command`` is ``lfr-audit deployments``.
"""

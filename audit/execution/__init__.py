"""Where batches of work run: local worker processes or a Dask cluster.

Used by the pipeline (embedding) and matching (the 1:N search); knows nothing
of faces. :mod:`.choice` reads the executor string; importing this package
imports neither Dask nor any stage.
"""

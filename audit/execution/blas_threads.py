"""One BLAS thread for a command whose matrix work is small (``metrics``).

NumPy and SciPy each load their own OpenBLAS, and each starts a worker
thread per core when it loads. The ``metrics`` command multiplies no large
dense matrices (its sums are bincounts, sparse products, which OpenBLAS does
not run, and dense products of a few dozen rows), so the workers only cost
CPU time: importing Fairlearn (NumPy, SciPy and scikit-learn with it) took
1.58-1.71 s of CPU with them and 1.34-1.51 s with one thread, five runs each
on the 2-core benchmark machine.
The matching stage's similarity matrices do use BLAS threads; ``run`` is left
as it is.

OpenBLAS reads its thread count once, when it is loaded: set after NumPy is
imported (a test runner, a notebook calling the CLI) this does nothing, and
a count the user set is kept. The variable is removed again when the command
ends, so processes started later get OpenBLAS's default.
"""

from __future__ import annotations

import functools
import os
import sys

#: The variable OpenBLAS reads at load (NumPy's and SciPy's builds both).
THREADS_VARIABLE = "OPENBLAS_NUM_THREADS"


def on_one_blas_thread(command):
    """Run ``command`` with OpenBLAS asked for one thread (:func:`one_blas_thread`); the
    variable removed again when it ends, if this set it. Apply it outermost: anything
    that imports NumPy before it runs makes it do nothing."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        asked = one_blas_thread()
        try:
            return command(*args, **kwargs)
        finally:
            if asked:
                os.environ.pop(THREADS_VARIABLE, None)

    return wrapper


def one_blas_thread() -> bool:
    """Ask OpenBLAS for one thread, if NumPy is not loaded yet and the user set no count;
    True if this set it."""
    if "numpy" in sys.modules or THREADS_VARIABLE in os.environ:
        return False
    os.environ[THREADS_VARIABLE] = "1"
    return True

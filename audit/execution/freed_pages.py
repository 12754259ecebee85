"""Keep freed memory in the process for large-array work (glibc's ``mallopt``).

glibc gives every allocation above its mmap threshold (at most 32 MiB) a
mapping of its own and unmaps it when it is freed, so the next array of that
size is faulted in again by the kernel, page by page. Counting ten million
trials makes and frees dozens of such numpy temporaries: about a third of the
``metrics`` command's CPU time on a 10M-trial score log was the kernel's
(page faults; see ``benchmarks/results_score_logs.md``). Serving large blocks
from the heap, and trimming its free top only above 2 GiB, lets later arrays
reuse the pages earlier ones freed. Freed memory is handed back later or when
the process ends, which suits a command that exits when its table is written;
a heap can fragment where separate mappings do not, but at 10M trials the
peak stayed within the run-to-run noise (1.70-1.80 GiB either way).

NumPy marks each array of 4 MiB or more for transparent huge pages
(``madvise(MADV_HUGEPAGE)``). On a heap that keeps freed pages the mark stays
on the heap's memory after the array is freed, and where the kernel's THP
``defrag`` setting is ``madvise`` (a common default) a fault in marked memory
with no free huge page stalls on synchronous compaction (numpy/numpy#31590).
On this project's 2-core benchmark machine that kernel time was 2.5-7.2 s of a
10M-trial ``metrics`` command; with the mark off for the command's duration,
1.2-2.9 s, the user time unchanged (``benchmarks/results_score_logs.md``). The command turns it off and
gives NumPy's setting back when it ends.

The setting is the process's, so a command that runs inside a longer-lived
process (a test runner, a notebook calling the CLI) restores glibc's defaults
when it ends (:func:`keeping_freed_pages`). Other C libraries (musl, macOS,
Windows) are left as they are.
"""

from __future__ import annotations

import ctypes
import functools
import sys

#: ``mallopt`` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
#: Free heap top kept before trimming: the largest ``int`` mallopt takes (2 GiB).
KEPT_FREE_BYTES = 2**31 - 1
#: glibc's defaults (malloc.c: DEFAULT_MMAP_MAX, DEFAULT_TRIM_THRESHOLD).
DEFAULT_MMAP_MAX = 65536
DEFAULT_TRIM_BYTES = 128 * 1024


def keep_freed_pages() -> bool:
    """Serve large allocations from a heap that keeps freed pages; True if glibc took it.

    Call it once, at the start of a large-array command: it affects every
    later allocation of the process (Arrow's own allocator is not glibc's and
    is not affected).
    """
    return _set(mmap_max=0, trim_bytes=KEPT_FREE_BYTES)


def keeping_freed_pages(command):
    """Run ``command`` with freed pages kept and NumPy's huge-page mark off; glibc's
    defaults and NumPy's setting given back when it ends."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        keep_freed_pages()
        marked = mark_huge_pages(False)
        try:
            return command(*args, **kwargs)
        finally:
            if marked is not None:
                mark_huge_pages(marked)
            give_back_freed_pages()

    return wrapper


def mark_huge_pages(enabled: bool) -> bool | None:
    """Whether NumPy marks its large arrays for transparent huge pages from now on;
    returns the previous setting (None where this NumPy has no such setting).

    The setting is NumPy's ``NUMPY_MADVISE_HUGEPAGE`` (read once, at import), changed
    in a running process through the function NumPy itself sets it with.
    """
    import numpy as np

    setter = getattr(np._core.multiarray, "_set_madvise_hugepage", None)
    return None if setter is None else bool(setter(enabled))


def give_back_freed_pages() -> bool:
    """glibc's default limits again: large blocks mapped, the free heap top trimmed.

    (Setting a limit turns off glibc's own adjustment of the mmap threshold; it
    stays off, which only moves where blocks of 128 KiB to 32 MiB come from.)
    """
    return _set(mmap_max=DEFAULT_MMAP_MAX, trim_bytes=DEFAULT_TRIM_BYTES)


def _set(*, mmap_max: int, trim_bytes: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library symbols in this process
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success; musl's is a stub that returns 0.
    return bool(mallopt(M_MMAP_MAX, mmap_max)) and bool(mallopt(M_TRIM_THRESHOLD, trim_bytes))

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
    """Run ``command`` with freed pages kept, glibc's defaults given back when it ends."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        keep_freed_pages()
        try:
            return command(*args, **kwargs)
        finally:
            give_back_freed_pages()

    return wrapper


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

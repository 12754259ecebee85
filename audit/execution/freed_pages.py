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

Other C libraries (musl, macOS, Windows) are left as they are.
"""

from __future__ import annotations

import ctypes
import sys

#: ``mallopt`` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
#: Free heap top kept before trimming: the largest ``int`` mallopt takes (2 GiB).
KEPT_FREE_BYTES = 2**31 - 1


def keep_freed_pages() -> bool:
    """Serve large allocations from a heap that keeps freed pages; True if glibc took it.

    Call it once, at the start of a large-array command: it affects every
    later allocation of the process (Arrow's own allocator is not glibc's and
    is not affected).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library symbols in this process
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success; musl's is a stub that returns 0.
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES))

"""The allocator setting of large-array commands: freed pages are reused, not faulted again."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from audit.execution import freed_pages

# A 64 MiB array, freed, then made again: the page faults of the second one.
SECOND_ARRAY_FAULTS = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from audit.execution.freed_pages import keep_freed_pages
    taken = keep_freed_pages() if sys.argv[1] == "keep" else None
    first = np.ones(2**23); del first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    second = np.ones(2**23)
    print(taken, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _second_array(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", SECOND_ARRAY_FAULTS, mode], check=True,
                         capture_output=True, text=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_a_freed_array_s_pages_are_reused():
    taken, kept_faults = _second_array("keep")
    if taken != "True":
        pytest.skip("this C library ignores mallopt (not glibc)")
    _, plain_faults = _second_array("plain")
    # glibc unmaps the freed 64 MiB: the second array faults its pages in again
    # (16,384 small pages, or 32 huge ones); kept, they are already resident.
    assert plain_faults >= 32
    assert kept_faults <= 4


def test_other_platforms_are_left_alone(monkeypatch):
    monkeypatch.setattr(freed_pages.sys, "platform", "darwin")
    assert freed_pages.keep_freed_pages() is False

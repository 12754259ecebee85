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
    from audit.execution.freed_pages import give_back_freed_pages, keep_freed_pages
    taken = keep_freed_pages() if sys.argv[1] != "plain" else None
    if sys.argv[1] == "given back":
        taken = taken and give_back_freed_pages()
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
    given_back, given_back_faults = _second_array("given back")
    assert given_back == "True" and given_back_faults >= 32  # glibc's defaults again


def test_the_metrics_command_gives_the_setting_back(monkeypatch, tmp_path):
    """Run inside another process (a test, a notebook), the command leaves malloc as it was."""
    from typer.testing import CliRunner

    from audit.cli import app

    calls = []
    monkeypatch.setattr(freed_pages, "keep_freed_pages", lambda: calls.append("keep"))
    monkeypatch.setattr(freed_pages, "give_back_freed_pages", lambda: calls.append("give back"))
    log, people = tmp_path / "log.csv", tmp_path / "people.csv"
    log.write_text("trial_kind,probe_subject,reference_subject,score,mated\n"
                   "verification,a,a,0.9,true\nverification,a,b,0.1,false\n")
    people.write_text("subject_id,gender\na,f\nb,m\n")
    result = CliRunner().invoke(app, ["metrics", str(log), "--attributes", str(people),
                                      "--threshold", "0.5", "--out", str(tmp_path / "m.parquet")])
    assert result.exit_code == 0, result.output
    assert calls == ["keep", "give back"]


def test_other_platforms_are_left_alone(monkeypatch):
    monkeypatch.setattr(freed_pages.sys, "platform", "darwin")
    assert freed_pages.keep_freed_pages() is False


def test_numpy_s_huge_page_mark_is_off_during_the_command_and_given_back():
    """NumPy's large arrays are not marked for huge pages while the command runs (a heap
    keeping freed pages keeps the mark), and NumPy's own setting is back afterwards."""
    import numpy as np

    get = getattr(np._core.multiarray, "_get_madvise_hugepage", None)
    if get is None:
        pytest.skip("this NumPy has no huge-page setting")
    seen = []
    command = freed_pages.keeping_freed_pages(lambda: seen.append(get()))
    original = get()
    try:
        assert freed_pages.mark_huge_pages(True) is original  # returns the previous setting
        command()
        assert get() is True
        assert freed_pages.mark_huge_pages(False) is True
        command()
        assert get() is False
    finally:
        freed_pages.mark_huge_pages(original)
    assert seen == [False, False]

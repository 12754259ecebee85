"""Progress when stderr is a file: plain lines, throttled, with count, rate and time left."""

from __future__ import annotations

import io
import threading

from rich.console import Console

from audit.progress import PlainTracker, Tracker, track


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _log() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200), out


def test_a_file_gets_the_plain_tracker_and_a_terminal_the_live_one():
    console, _ = _log()
    with track("embedding", console) as tracker:
        assert isinstance(tracker, PlainTracker)
    terminal = Console(file=io.StringIO(), force_terminal=True)
    with track("embedding", terminal) as tracker:
        assert isinstance(tracker, Tracker)


def test_counted_lines_are_throttled_and_worked_out_by_hand():
    console, out = _log()
    clock = Clock()
    tracker = PlainTracker("embedding", console, every=30.0, clock=clock)
    tracker.start(200)
    for _ in range(4):  # 16 images every 10 s: only the 30 s mark prints
        clock.now += 10
        tracker.advance(16)
    clock.now += 110
    tracker.advance(136)  # the last batch always prints
    assert out.getvalue().splitlines() == [
        "embedding: 200 images to compute",
        # 48 images in 30 s: 1.6 img/s, 152 left take 95 s
        "embedding: 48/200 (24%), 1.6 img/s, 0:30 elapsed, about 1:35 left",
        "embedding: 200/200 (100%), 1.3 img/s, 2:30 elapsed",
    ]


def test_nothing_to_compute_prints_nothing():
    console, out = _log()
    tracker = PlainTracker("embedding", console, clock=Clock())
    tracker.start(0)
    tracker.advance(0)
    assert out.getvalue() == ""


def test_a_step_without_a_count_says_it_runs_until_it_ends():
    console, out = _log()
    clock = Clock()
    tracker = PlainTracker("run", console, every=0.01, clock=clock)
    with tracker.step("metrics"):
        clock.now += 65
        beat = threading.Event()
        original = tracker._say

        def say(line: str) -> None:
            original(line)
            beat.set()

        tracker._say = say
        assert beat.wait(5), "no heartbeat line within 5 s"
    lines = out.getvalue().splitlines()
    assert lines[0] == "metrics: started"
    assert "metrics: running, 1:05 elapsed" in lines[1:-1]
    assert lines[-1] == "metrics: done in 1:05"

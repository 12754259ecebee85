"""Progress of long steps, on stderr: a live display on a terminal, plain lines in a log.

Embedding shows count, rate and time left; scoring, metrics and the report,
which have no count, show that they are running and for how long. On a
terminal this is a rich progress display; when stderr goes to a file (``make
demo > log``, cron, CI) a live display draws nothing, so the same calls print
a plain line every :data:`PLAIN_EVERY` seconds instead, and one when a step
ends. Stages receive a :class:`Tracker` or :class:`PlainTracker` as
callbacks; the display is the CLI's business.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

stderr = Console(stderr=True)
#: Seconds between two plain progress lines of one step.
PLAIN_EVERY = 30.0


class RateColumn(ProgressColumn):
    """Items per second, from rich's own moving estimate."""

    def render(self, task: Task) -> Text:
        if task.fields.get("uncounted"):  # a step without a count
            return Text("")
        speed = task.finished_speed or task.speed
        return Text("  -  img/s" if speed is None else f"{speed:5.1f} img/s", style="cyan")


@dataclass
class Tracker:
    """Callbacks that a stage calls, drawn live on a terminal."""

    progress: Progress
    description: str
    task: int | None = None

    def start(self, total: int) -> None:
        """Show a bar for ``total`` items; nothing when all came from the cache."""
        if total:
            self.task = self.progress.add_task(self.description, total=total)

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A step without a count: a pulsing bar and its elapsed time while it runs."""
        task = self.progress.add_task(name, total=None, uncounted=True)
        try:
            yield
        finally:
            self.progress.update(task, total=1, completed=1)


def _duration(seconds: float) -> str:
    """``1:02:03`` or ``2:03``."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class PlainTracker:
    """The same callbacks as :class:`Tracker`, as plain lines for a log file.

    A counted step prints when it starts, then at most one line per ``every``
    seconds and one at its end: count, share done, rate and time left. A step
    without a count prints when it starts, every ``every`` seconds while it
    runs, and when it ends.
    """

    description: str
    console: Console = field(default_factory=lambda: stderr)
    every: float = PLAIN_EVERY
    clock: Callable[[], float] = time.monotonic
    total: int = 0
    done: int = 0
    _started: float = 0.0
    _printed: float = 0.0

    def _say(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def start(self, total: int) -> None:
        self.total, self.done = total, 0
        self._started = self._printed = self.clock()
        if total:
            self._say(f"{self.description}: {total} images to compute")

    def advance(self, n: int) -> None:
        self.done += n
        now = self.clock()
        if self.total and (now - self._printed >= self.every or self.done >= self.total):
            self._printed = now
            self._say(self.line(now))

    def line(self, now: float) -> str:
        """``embedding: 160/1995 (8%), 4.8 img/s, 0:33 elapsed, about 6:22 left``."""
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        tail = f", about {_duration(left)} left" if self.done < self.total and rate > 0 else ""
        return (f"{self.description}: {self.done}/{self.total} ({self.done / self.total:.0%}), "
                f"{rate:.1f} img/s, {_duration(elapsed)} elapsed{tail}")

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = self.clock()
        self._say(f"{name}: started")
        stop = threading.Event()

        def heartbeat() -> None:
            while not stop.wait(self.every):
                self._say(f"{name}: running, {_duration(self.clock() - start)} elapsed")

        beat = threading.Thread(target=heartbeat, name=f"progress-{name}", daemon=True)
        beat.start()
        try:
            yield
        finally:
            stop.set()
            beat.join()
            self._say(f"{name}: done in {_duration(self.clock() - start)}")


@contextmanager
def track(description: str, console: Console | None = None) -> Iterator[Tracker | PlainTracker]:
    """Progress callbacks for ``description``: live on a terminal, plain lines otherwise."""
    console = console or stderr
    if not console.is_terminal:
        yield PlainTracker(description, console)
        return
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield Tracker(progress, description)

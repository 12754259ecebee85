"""Rich progress display for long steps: count, rate and time left, on stderr."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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


class RateColumn(ProgressColumn):
    """Items per second, from rich's own moving estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("  -  img/s" if speed is None else f"{speed:5.1f} img/s", style="cyan")


@dataclass
class Tracker:
    """Callbacks that a stage calls; the display is the CLI's business."""

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
def track(description: str) -> Iterator[Tracker]:
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=False) as progress:
        yield Tracker(progress, description)

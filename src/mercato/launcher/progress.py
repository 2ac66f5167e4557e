"""Progress of the long one-shot commands: a bar on a terminal, silence off it.

    ⠼ writing products ━━━━━━━━━━━━━━╺━━━━━━━━  61200/100000  1,685 rows/s  0:00:36 0:00:23

A task is a series of stages (reading a file, checking it, writing rows); a stage
with a total shows a bar, its count and its rate, one without a spinner and the
time spent. `progress_for` gives a bar on stderr when stderr is a terminal (so that
the command's result on stdout stays one line for scripts) and otherwise a
`Progress` that shows nothing: off a terminal the commands print what they always
printed.

Updates are cheap: a stage's count may be set for every row; the bar is redrawn at
most `REFRESH_PER_SECOND` times a second by rich's own thread.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import TextIO

from rich.console import Console as RichConsole
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text

__all__ = ["REFRESH_PER_SECOND", "Progress", "TerminalProgress", "progress_for"]

REFRESH_PER_SECOND = 8
MIN_INTERVAL = 0.05  # seconds between two updates of a count that rich is told of


class Progress:
    """A task's progress, shown nowhere (what a command reports to off a terminal)."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is None:
            self.close()
        else:
            self.abandon()

    def stage(self, description: str, total: int | None = None, unit: str = "") -> None:
        """Begin a stage (the one before is done); `total` items of `unit`, if known."""

    def update(self, done: int) -> None:
        """`done` items of the current stage are done."""

    def close(self) -> None:
        """The task is over."""

    def abandon(self) -> None:
        """The task failed: leave its stages as they were."""


class _Rate(ProgressColumn):
    """`1,685 rows/s`: the stage's speed in its own unit."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "")
        if not unit or task.total is None:
            return Text("")
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} {unit}/s", style="cyan")


class TerminalProgress(Progress):
    """A task's progress as rich bars, one line per stage, on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._rich = RichProgress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _Rate(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=RichConsole(file=stream),
            refresh_per_second=REFRESH_PER_SECOND,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task: TaskID | None = None
        self._last = 0.0
        self._rich.start()

    def _finish(self) -> None:
        if self._task is not None:
            task = self._rich.tasks[-1]
            self._rich.update(self._task, completed=task.total or 1, total=task.total or 1)
            self._rich.stop_task(self._task)
            self._task = None

    def stage(self, description: str, total: int | None = None, unit: str = "") -> None:
        """End the current stage and begin another."""
        self._finish()
        self._task = self._rich.add_task(description, total=total, unit=unit)
        self._last = 0.0

    def update(self, done: int) -> None:
        """Move the current stage's count (at most every `MIN_INTERVAL`, and at its end)."""
        if self._task is None:
            return
        now = time.monotonic()
        total = self._rich.tasks[-1].total
        if now - self._last >= MIN_INTERVAL or done == total:
            self._last = now
            self._rich.update(self._task, completed=done)

    def close(self) -> None:
        """Mark the last stage done and leave the bars on the screen."""
        self._finish()
        self._rich.stop()

    def abandon(self) -> None:
        """Leave the bars as they are (the error follows them)."""
        self._rich.stop()


def progress_for(stream: TextIO | None = None) -> Progress:
    """A bar on `stream` (stderr) when it is a terminal, else nothing shown."""
    stream = stream or sys.stderr
    if stream.isatty() and os.environ.get("TERM") != "dumb":
        return TerminalProgress(stream)
    return Progress()

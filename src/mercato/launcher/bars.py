"""The progress bars of `launcher.progress` on a terminal, drawn by rich.

    ⠼ writing products ━━━━━━━━━━━━━━╺━━━━━━━━  61200/100000  1,685 rows/s  0:00:36 0:00:23

One line per stage, left on the screen when it is done. Updates are cheap: a
stage's count may be set for every row; rich is told at most every `MIN_INTERVAL`
and redraws at most `REFRESH_PER_SECOND` times a second, in its own thread.
"""

from __future__ import annotations

import time
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

from mercato.launcher.progress import Progress

__all__ = ["REFRESH_PER_SECOND", "TerminalProgress"]

REFRESH_PER_SECOND = 8
MIN_INTERVAL = 0.05  # seconds between two updates of a count that rich is told of


class _Rate(ProgressColumn):
    """`1,685 rows/s`: the stage's speed in its own unit."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "")
        if not unit or not task.fields.get("counted"):
            return Text("")
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} {unit}/s", style="cyan")


class _Count(MofNCompleteColumn):
    """`61200/100000`, for a stage that counts."""

    def render(self, task: Task) -> Text:
        return super().render(task) if task.fields.get("counted") else Text("")


class _Remaining(TimeRemainingColumn):
    """The time left, for a stage that counts."""

    def render(self, task: Task) -> Text:
        return super().render(task) if task.fields.get("counted") else Text("")


class TerminalProgress(Progress):
    """A task's progress as rich bars, one line per stage, on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._rich = RichProgress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description}"),
            BarColumn(),
            _Count(),
            _Rate(),
            TimeElapsedColumn(),
            _Remaining(),
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
        self._task = self._rich.add_task(
            description, total=total, unit=unit, counted=total is not None
        )
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

"""Progress of the long one-shot commands: a bar on a terminal, silence off it.

    ⠼ writing products ━━━━━━━━━━━━━━╺━━━━━━━━  61200/100000  1,685 rows/s  0:00:36 0:00:23

A task is a series of stages (reading a file, checking it, writing rows); a stage
with a total shows a bar, its count and its rate, one without a spinner and the
time spent. `progress_for` gives a bar on stderr when stderr is a terminal (so that
the command's result on stdout stays one line for scripts) and otherwise a
`Progress` that shows nothing: off a terminal the commands print what they always
printed.

The bars are rich's (`launcher.bars`), imported only when a terminal shows them, so
that `mercato run` (what every process of `mercato up` is) never loads rich.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import TextIO

__all__ = ["Progress", "progress_for"]


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


def progress_for(stream: TextIO | None = None) -> Progress:
    """A bar on `stream` (stderr) when it is a terminal, else nothing shown."""
    stream = stream or sys.stderr
    if stream.isatty() and os.environ.get("TERM") != "dumb":
        from mercato.launcher.bars import TerminalProgress  # noqa: PLC0415 (rich, when shown)

        return TerminalProgress(stream)
    return Progress()

"""`mercato logs`: the processes' log files, merged by time, and followed with `-f`.

`select` turns what the user named (nothing, a process such as `catalog-2`, a service
such as `catalog`, `nats`, or `mercato` for the launcher's own lines) into the log
files of `<data_dir>/logs` (`launcher.logbook`); `recent` gives their last lines in
the order of the times the lines carry; `follow` prints what is appended from then
on, noticing rotated files and processes that start meanwhile, until Ctrl-C.

`Printer` shows lines as `mercato up` does: the readable form on a terminal, the
lines as written, prefixed, elsewhere (or with `--raw`, without the prefix: JSON lines
for `jq`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from mercato.launcher.console import Console
from mercato.launcher.errors import LauncherError
from mercato.launcher.logbook import Follower, last_lines, log_names, stamp
from mercato.launcher.pretty import PrettyLines

__all__ = ["POLL_SECONDS", "Printer", "follow", "recent", "select"]

POLL_SECONDS = 0.25
RESCAN_SECONDS = 1.0


def select(directory: Path, which: str | None) -> list[str]:
    """The log files `which` names (all when None); a one-line LauncherError if none."""
    names = log_names(directory) if directory.is_dir() else []
    if not names:
        raise LauncherError(f"no logs in {directory} yet (`mercato up` writes them)")
    if which is None:
        return names
    chosen = [n for n in names if n == which or n.rpartition("-")[0] == which]
    if not chosen:
        raise LauncherError(f"no logs of {which!r} in {directory} (there are: {', '.join(names)})")
    return chosen


def recent(directory: Path, names: Sequence[str], count: int) -> list[tuple[str, str]]:
    """The last `count` lines (0: all) of `names`, as (name, line), oldest first."""
    merged: list[tuple[float, int, str, str]] = []
    for rank, name in enumerate(names):
        merged += [(t, rank, name, line) for t, line in stamp(last_lines(directory, name, count))]
    merged.sort(key=lambda item: (item[0], item[1]))  # stable: a file's own order holds
    chosen = merged[-count:] if count else merged
    return [(name, line) for _, _, name, line in chosen]


class Printer:
    """Writes log lines to a stream in one of `mercato up`'s forms."""

    def __init__(self, stream: TextIO | None = None, *, pretty: bool, raw: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.console = Console(self.stream)
        self.pretty = PrettyLines(color=self.console.color) if pretty else None
        self.raw = raw

    def register(self, names: Sequence[str]) -> None:
        """Align the prefixes of these names."""
        self.console.register(names)
        if self.pretty is not None:
            self.pretty.register(list(names))

    def show(self, lines: Sequence[tuple[str, str]]) -> None:
        """Write (name, line) pairs; BrokenPipeError once nobody reads any more."""
        if self.raw:
            text = "".join(f"{line}\n" for _, line in lines)
        elif self.pretty is not None:
            text = "".join(f"{self.pretty.line(name, line)}\n" for name, line in lines)
        else:
            text = "".join(f"{self.console.prefix(name)} {line}\n" for name, line in lines)
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            # Nothing more to say, and nothing to say at exit either: Python would
            # otherwise complain when it flushes stdout a last time.
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())
            raise


def follow(directory: Path, which: str | None, names: Sequence[str], printer: Printer) -> None:
    """Print what `names` (and any file `which` comes to name) append, until Ctrl-C."""
    follower = Follower(directory, names)
    rescanned = time.monotonic()
    while True:
        lines = list(follower.poll())
        if lines:
            printer.show(lines)
        if time.monotonic() - rescanned >= RESCAN_SECONDS:
            rescanned = time.monotonic()
            try:
                fresh = select(directory, which)
            except LauncherError:
                fresh = []
            if set(fresh) - set(names):
                printer.register(fresh)
                follower.watch(fresh)
                names = fresh
        time.sleep(POLL_SECONDS)

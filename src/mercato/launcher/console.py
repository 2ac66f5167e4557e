"""The launcher's output: every process's lines, to the log files and the terminal.

`Console` writes what `mercato up` has always written, and what it writes whenever
stdout is not a terminal (CI, containers, pipes) or `--log-format json` is chosen:
each process's lines as it wrote them (the services' JSON lines), prefixed with its
name, and the launcher's own lines under `mercato`:

    auth-1    | {"level": "info", "msg": "application startup complete", ...}
    catalog-2 | ...
    mercato   | catalog-2 exited with code -9; restarting in 1.0 s

Names are padded to one width and, when stdout is a terminal (and `NO_COLOR` is
unset), each gets its own colour. The readable view for a terminal
(`launcher.dashboard`) is a subclass: the same calls, shown otherwise.

Either way every line also goes to the process's log file (`launcher.logbook`)
once `record_to` has been called; the supervisor tells the console when a process
changes phase (`changed`), and `up` when the system is ready (`announce`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from mercato.launcher.logbook import Logbook
from mercato.launcher.state import ProcessState

__all__ = ["LAUNCHER", "Announcement", "Console", "without_password"]

LAUNCHER = "mercato"
_PALETTE = (36, 33, 32, 35, 34, 96, 93, 92, 95, 94)
_BOLD = "1"


@dataclass(frozen=True)
class Announcement:
    """What `mercato up` says once everything is ready."""

    seconds: float  # from the command to the last process ready
    lines: Sequence[str]  # the launcher's lines, as it has always written them
    urls: Sequence[tuple[str, str]] = field(default=())  # (what, where) for the panel
    footer: str = ""


class Console:
    """Writes prefixed lines to a stream, one whole line at a time."""

    def __init__(self, stream: TextIO | None = None, *, color: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        if color is None:
            color = self.stream.isatty() and not os.environ.get("NO_COLOR")
        self.color = color
        self.width = len(LAUNCHER)
        self.logbook: Logbook | None = None
        self._colors: dict[str, str] = {LAUNCHER: _BOLD}

    def record_to(self, logbook: Logbook) -> None:
        """Keep every line from now on in `logbook` too."""
        self.logbook = logbook

    def register(self, names: Iterable[str]) -> None:
        """Reserve an aligned prefix (and a colour) for each name."""
        for name in names:
            self.width = max(self.width, len(name))
            if name not in self._colors:
                self._colors[name] = str(_PALETTE[(len(self._colors) - 1) % len(_PALETTE)])

    def prefix(self, name: str) -> str:
        """The prefix of `name`'s lines."""
        label = f"{name:<{self.width}} |"
        if not self.color:
            return label
        return f"\x1b[{self._colors.get(name, _BOLD)}m{label}\x1b[0m"

    def line(self, name: str, text: str) -> None:
        """Write one line of `name`'s output."""
        self.lines(name, [text])

    def lines(self, name: str, texts: Iterable[str]) -> None:
        """Write several lines of `name`'s output with one write and one flush."""
        batch = list(texts)
        if self.logbook is not None:
            self.logbook.write(name, batch)
        self.show(name, batch)

    def say(self, text: str, *, routine: bool = False) -> None:
        """Write a line of the launcher's own (a `routine` one a view may leave out)."""
        if self.logbook is not None:
            self.logbook.note(text)
        self.show(LAUNCHER, [text])

    def show(self, name: str, texts: Sequence[str]) -> None:
        """Put `name`'s lines on the terminal (or whatever stdout is)."""
        prefix = self.prefix(name)
        self.write("".join(f"{prefix} {text.rstrip()}\n" for text in texts))

    def write(self, text: str) -> None:
        """Write and flush `text`, unless nobody reads it any more."""
        try:
            self.stream.write(text)
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # nobody reads our output any more; the processes keep running

    def begin(self) -> None:
        """The processes are starting (the terminal's view shows them in a live table)."""

    def changed(self, state: ProcessState) -> None:
        """A process changed phase (shown by the terminal's view only)."""

    def end(self) -> None:
        """Starting is over, ready or not (the terminal's view stops its live table)."""

    def announce(self, announcement: Announcement) -> None:
        """The system is ready: say so, with its URLs."""
        for text in announcement.lines:
            self.say(text)


def without_password(url: str) -> str:
    """`url` as it may be shown: a password in it becomes `***` (in each URL of a list)."""
    if "," in url and "://" in url.partition(",")[2]:  # NATS servers, comma-separated
        return ",".join(without_password(part) for part in url.split(","))
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}{port}"))

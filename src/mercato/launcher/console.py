"""The launcher's terminal: every process's lines prefixed with its name.

    auth-1    | {"level": "info", "msg": "application startup complete", ...}
    catalog-2 | ...
    mercato   | catalog-2 exited with code -9; restarting in 1.0 s

Names are padded to one width and, when stdout is a terminal (and `NO_COLOR` is
unset), each gets its own colour.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

__all__ = ["LAUNCHER", "Console", "without_password"]

LAUNCHER = "mercato"
_PALETTE = (36, 33, 32, 35, 34, 96, 93, 92, 95, 94)
_BOLD = "1"


class Console:
    """Writes prefixed lines to a stream, one whole line at a time."""

    def __init__(self, stream: TextIO | None = None, *, color: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        if color is None:
            color = self.stream.isatty() and not os.environ.get("NO_COLOR")
        self.color = color
        self.width = len(LAUNCHER)
        self._colors: dict[str, str] = {LAUNCHER: _BOLD}

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
        prefix = self.prefix(name)
        try:
            self.stream.write("".join(f"{prefix} {text.rstrip()}\n" for text in texts))
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # nobody reads our output any more; the processes keep running

    def say(self, text: str) -> None:
        """Write a line of the launcher's own."""
        self.line(LAUNCHER, text)


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

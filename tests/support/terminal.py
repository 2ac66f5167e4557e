"""A command run on a pseudo-terminal, as a person at a terminal runs it.

`Terminal` starts a command with a pty of a given size as its stdin, stdout and
stderr (so `isatty()` is true and rich draws live tables, spinners and colours), in
a session of its own, and reads everything it writes in a background thread.
`screen` is that output without colours and cursor movements: what was written,
frame after frame. `interrupt` is Ctrl-C: SIGINT to the command's process group.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType

__all__ = ["ESCAPES", "Terminal", "plain"]

# CSI sequences (colours, cursor movement, erasing), OSC sequences (titles, links),
# character set selections, and carriage returns.
ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[()][0-9A-Z]"
    r"|\r"
)


def plain(text: str) -> str:
    """`text` without escape sequences."""
    return ESCAPES.sub("", text)


class Terminal:
    """A command on a pseudo-terminal (module docstring)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        columns: int = 120,
        rows: int = 40,
    ) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        environ = {**env, "TERM": "xterm-256color", "COLUMNS": str(columns)}
        environ.pop("NO_COLOR", None)
        try:
            self.process = subprocess.Popen(
                list(argv),
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=environ,
                start_new_session=True,
            )
        finally:
            os.close(slave)
        self._master = master
        self._output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                return
            if not chunk:
                return
            with self._lock:
                self._output += chunk

    def output(self) -> str:
        """Everything written so far, escape sequences included."""
        with self._lock:
            return self._output.decode(errors="replace")

    def screen(self) -> str:
        """Everything written so far, without escape sequences."""
        return plain(self.output())

    def wait_for(self, pattern: str, timeout: float = 30.0, since: int = 0) -> re.Match[str]:
        """The first match of `pattern` in `screen()[since:]`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.screen()[since:])
            if match is not None:
                return match
            if time.monotonic() >= deadline:
                tail = self.screen()[-3000:]
                raise AssertionError(f"{pattern!r} not on the terminal in {timeout} s:\n{tail}")
            if self.process.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"{pattern!r} never came; it exited:\n{self.screen()[-3000:]}")
            time.sleep(0.1)

    def interrupt(self) -> None:
        """Ctrl-C: SIGINT to the command's process group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)

    def wait(self, timeout: float = 60.0) -> int:
        """Its exit code, once it has exited and its output is read."""
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def close(self) -> None:
        """Kill it if it still runs, and close the terminal."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._reader.join(5)
        with contextlib.suppress(OSError):
            os.close(self._master)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

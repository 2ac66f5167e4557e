"""The launcher's exceptions: user-facing problems stated in one line.

LauncherError        a bad option, a busy port, ...: fix and retry (exit 2)
 ├── StartupError    a process of the system failed to start (exit 1)
 ├── CommandFailed   a command could not do what it was asked (exit 1)
 └── NotRunning      no `mercato up` runs from the data directory (exit 3)
"""

from __future__ import annotations

__all__ = ["CommandFailed", "LauncherError", "NotRunning", "StartupError"]


class LauncherError(Exception):
    """Something the user must fix (a busy port, a bad option); the message is one line."""

    exit_code = 2


class StartupError(LauncherError):
    """A process of the system exited or stayed unready while starting."""

    exit_code = 1


class CommandFailed(LauncherError):
    """A command ran but did not succeed (the system did not stop, a replay failed)."""

    exit_code = 1


class NotRunning(LauncherError):
    """Nothing runs from the data directory (3: "not running", as LSB's `status` says)."""

    exit_code = 3

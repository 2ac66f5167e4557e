"""The launcher's exceptions: user-facing problems stated in one line.

LauncherError        a bad option, a busy port, ...: fix and retry (exit 2)
 └── StartupError    a process of the system failed to start (exit 1)
"""

from __future__ import annotations

__all__ = ["LauncherError", "StartupError"]


class LauncherError(Exception):
    """Something the user must fix (a busy port, a bad option); the message is one line."""

    exit_code = 2


class StartupError(LauncherError):
    """A process of the system exited or stayed unready while starting."""

    exit_code = 1

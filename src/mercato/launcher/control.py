"""`mercato stop` and `mercato open`: act on the system that runs from a data directory.

`stop` sends SIGTERM to the launcher (its pid from `run/mercato.json`, believed only
while it is a live `mercato` process: `launcher.state`), which stops every process in
order as on Ctrl-C, and waits until the launcher has exited. `open` opens one of the
gateway's pages in the machine's browser, where there is one (Python's `webbrowser`:
`$BROWSER`, the desktop's, or a text browser on a terminal).
"""

from __future__ import annotations

import os
import signal
import time
import webbrowser
from pathlib import Path

from mercato.launcher.errors import CommandFailed, LauncherError, NotRunning
from mercato.launcher.state import LauncherState, is_alive, running_launcher

__all__ = [
    "PAGES",
    "STOP_TIMEOUT",
    "open_in_browser",
    "page_url",
    "require_launcher",
    "stop",
]

STOP_TIMEOUT = 90.0  # the launcher's own bound: a grace of 15 s for each of its tiers
POLL_SECONDS = 0.1
PAGES = {"shop": "/", "console": "/ops"}


def require_launcher(run_dir: Path, data_dir: Path) -> LauncherState:
    """The running launcher; NotRunning, in one line, when there is none."""
    launcher = running_launcher(run_dir)
    if launcher is None:
        raise NotRunning(f"nothing runs from {data_dir} (start it with `mercato up`)")
    return launcher


def stop(launcher: LauncherState, timeout: float = STOP_TIMEOUT) -> float:
    """SIGTERM the launcher and wait until it has exited; the seconds it took."""
    began = time.monotonic()
    try:
        os.kill(launcher.pid, signal.SIGTERM)
    except ProcessLookupError:
        return 0.0  # it has just exited
    except PermissionError:
        raise LauncherError(
            f"the launcher (pid {launcher.pid}) is another user's; it cannot be stopped from here"
        ) from None
    while is_alive(launcher.pid, command=b"mercato"):
        if time.monotonic() - began >= timeout:
            raise CommandFailed(
                f"the launcher (pid {launcher.pid}) did not stop within {timeout:g} s"
            )
        time.sleep(POLL_SECONDS)
    return time.monotonic() - began


def page_url(launcher: LauncherState, page: str) -> str:
    """The URL of one of the gateway's pages (`PAGES`)."""
    return f"{launcher.gateway}{PAGES[page]}"


def open_in_browser(url: str) -> bool:
    """Open `url` in the machine's browser; False when it has none."""
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    return browser.open(url)

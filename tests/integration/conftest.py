"""Fixtures of the integration tests, which run against real servers.

A test that needs a server takes its fixture (`nats_url`, ...). When the server is
not reachable the test is skipped with the reason shown, except when
`MERCATO_REQUIRE_SERVERS=1` (CI), where it fails instead. Add a server with
`require_server(name, host, port)` in a fixture of its own.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import pytest

from mercato.chassis.events.nats_bus import NatsBus

REQUIRE_SERVERS = "MERCATO_REQUIRE_SERVERS"


def require_server(name: str, host: str, port: int, *, timeout: float = 1.0) -> None:
    """Skip the test (fail it under MERCATO_REQUIRE_SERVERS=1) unless host:port answers."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        reason = f"{name} not reachable at {host}:{port} ({exc})"
    if os.environ.get(REQUIRE_SERVERS) == "1":
        pytest.fail(f"{reason}; {REQUIRE_SERVERS}=1 requires it", pytrace=False)
    pytest.skip(reason)


def require_url(name: str, url: str, default_port: int) -> str:
    """`require_server` for the host and port of a URL; returns the URL."""
    parts = urlsplit(url)
    require_server(name, parts.hostname or "127.0.0.1", parts.port or default_port)
    return url


@pytest.fixture(scope="session")
def nats_url() -> str:
    """The NATS JetStream server to test against (MERCATO_TEST_NATS_URL overrides)."""
    url = os.environ.get("MERCATO_TEST_NATS_URL", "nats://127.0.0.1:4222")
    return require_url("NATS", url, 4222)


@pytest.fixture
async def nats_bus(nats_url: str) -> AsyncIterator[NatsBus]:
    """A connected bus in a namespace of its own, with short delays; deleted afterwards."""
    namespace = f"TEST_{uuid.uuid4().hex[:12].upper()}"
    bus = NatsBus(
        nats_url,
        service="tests",
        namespace=namespace,
        retry_delay=0.05,
        fetch_timeout=0.2,
        ack_wait=5.0,
    )
    await bus.connect()
    try:
        yield bus
    finally:
        await bus.delete_streams()
        await bus.close()


Check = Callable[[], Awaitable[bool] | bool]
Eventually = Callable[..., Awaitable[None]]


async def _eventually(check: Check, timeout: float = 5.0, what: str = "condition") -> None:
    """Wait until `check()` is true, failing the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = check()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.01)


@pytest.fixture
def eventually() -> Eventually:
    """`await eventually(check, timeout=5.0, what="...")`: poll until `check()` is true."""
    return _eventually

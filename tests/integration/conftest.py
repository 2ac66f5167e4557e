"""Fixtures of the integration tests, which run against real servers.

A test that needs a server takes its fixture (`nats_url`, ...). When the server is
not reachable the test is skipped with the reason shown, except when
`MERCATO_REQUIRE_SERVERS=1` (CI), where it fails instead. Add a server with
`tests.support.require_server(name, host, port)` in a fixture of its own.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mercato.chassis.events.nats_bus import NatsBus
from tests.support import require_url


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

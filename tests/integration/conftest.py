"""Fixtures of the integration tests, which run against real servers.

A test that needs a server takes its fixture (`nats_url`, `rabbit_url`, ...). A
test of the event bus takes `broker`, which runs it once on NATS and once on
RabbitMQ, each time in a namespace of its own that is deleted afterwards. When the
server is not reachable the test is skipped with the reason shown, except when
`MERCATO_REQUIRE_SERVERS=1` (CI), where it fails instead. Add a server with
`tests.support.servers.require_server(name, host, port)` in a fixture of its own.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aio_pika
import pytest

from mercato.chassis.events import EventBus
from mercato.chassis.events.nats.bus import NatsBus
from mercato.chassis.events.permissions import TOKEN_REVOKED
from mercato.chassis.events.rabbit.bus import RabbitBus
from tests.support.servers import rabbit_test_url, require_url


@pytest.fixture(scope="session")
def nats_url() -> str:
    """The NATS JetStream server to test against (MERCATO_TEST_NATS_URL overrides)."""
    url = os.environ.get("MERCATO_TEST_NATS_URL", "nats://127.0.0.1:4222")
    return require_url("NATS", url, 4222)


@asynccontextmanager
async def _nats_bus(url: str) -> AsyncIterator[NatsBus]:
    bus = NatsBus(
        url,
        service="tests",
        namespace=f"TEST_{uuid.uuid4().hex[:12].upper()}",
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


@pytest.fixture
async def nats_bus(nats_url: str) -> AsyncIterator[NatsBus]:
    """A connected bus in a namespace of its own, with short delays; deleted afterwards."""
    async with _nats_bus(nats_url) as bus:
        yield bus


@pytest.fixture(scope="session")
def rabbit_url() -> str:
    """The RabbitMQ server to test against (MERCATO_TEST_RABBIT_URL overrides)."""
    return rabbit_test_url()


@asynccontextmanager
async def _rabbit_bus(url: str, elsewhere: Sequence[str] = ()) -> AsyncIterator[RabbitBus]:
    """A bus in a namespace of its own, deleted afterwards with the queues of `elsewhere`."""
    bus = RabbitBus(
        url,
        service="tests",
        namespace=f"test_{uuid.uuid4().hex[:12]}",
        retry_delay=0.05,
        max_retry_delay=0.5,
    )
    await bus.connect()
    try:
        yield bus
    finally:
        await bus.delete_namespace(elsewhere)
        await bus.close()


@pytest.fixture
async def rabbit_bus(rabbit_url: str) -> AsyncIterator[RabbitBus]:
    """A connected bus in a namespace of its own, with short delays; deleted afterwards."""
    async with _rabbit_bus(rabbit_url) as bus:
        yield bus


@dataclass
class Broker:
    """A connected bus under test, with what a test needs to see behind it."""

    kind: str  # "nats" or "amqp"
    url: str
    bus: EventBus
    namespace: str
    dead_url: str  # a URL of this scheme where nothing answers
    # Durable consumers that other buses (a service under test) subscribe in the
    # namespace; on RabbitMQ their queues are deleted with it.
    elsewhere: list[str] = field(default_factory=list)

    def consumer_elsewhere(self, name: str) -> None:
        """Note a durable consumer that another bus subscribes in this namespace."""
        self.elsewhere.append(name)

    async def publish_raw(self, event_type: str, body: bytes) -> None:
        """Publish `body` as it is, under `event_type`, bypassing the envelope."""
        if isinstance(self.bus, NatsBus):
            await self.bus.js.publish(self.bus.subject(event_type), body)
        else:
            assert isinstance(self.bus, RabbitBus)
            await self.bus.exchange.publish(aio_pika.Message(body), event_type)

    async def published(self) -> int:
        """How many messages the broker has taken on the events stream or exchange."""
        if isinstance(self.bus, NatsBus):
            return int((await self.bus.js.stream_info(self.bus.stream)).state.messages)
        assert isinstance(self.bus, RabbitBus)
        channel = await self.bus.connection.channel()
        try:
            probe = await channel.declare_queue(_probe(self.bus), passive=True)
            return int(probe.declaration_result.message_count or 0)
        finally:
            await channel.close()

    async def tail_consumers(self, event_type: str = TOKEN_REVOKED) -> int:
        """How many tails are reading the broker's events (of `event_type`, on RabbitMQ)."""
        if isinstance(self.bus, NatsBus):
            return len(await self.bus.js.consumers_info(self.bus.stream))
        assert isinstance(self.bus, RabbitBus)
        channel = await self.bus.connection.channel()
        try:
            stream_name = self.bus.topology.stream(event_type)
            stream = await channel.declare_queue(stream_name, passive=True)
            return int(stream.declaration_result.consumer_count or 0)
        finally:
            await channel.close()


def _probe(bus: RabbitBus) -> str:
    return f"{bus.topology.prefix}.probe"


@pytest.fixture(params=["nats", "amqp"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    """The event bus under test, on NATS JetStream and then on RabbitMQ."""
    if request.param == "nats":
        async with _nats_bus(request.getfixturevalue("nats_url")) as bus:
            yield Broker("nats", bus.url, bus, bus.namespace, "nats://127.0.0.1:1")
        return
    elsewhere: list[str] = []
    async with _rabbit_bus(request.getfixturevalue("rabbit_url"), elsewhere) as rabbit:
        # A queue of every event, so that a test can count what was published;
        # exclusive, so it goes with the bus's connection.
        channel = await rabbit.connection.channel()
        probe = await channel.declare_queue(_probe(rabbit), exclusive=True)
        await probe.bind(rabbit.topology.exchange, "#")
        await channel.close()
        dead_url = "amqp://guest:guest@127.0.0.1:1/"
        yield Broker("amqp", rabbit.url, rabbit, rabbit.namespace, dead_url, elsewhere)


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

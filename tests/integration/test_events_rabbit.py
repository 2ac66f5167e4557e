"""Integration tests of what only the RabbitMQ transport does, against a real server.

The behaviour every transport shares is tested on RabbitMQ too, in
`test_events_bus.py` and `test_events_flow.py`.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aio_pika
import pytest

from mercato.chassis.events import BusUnavailable, Event
from mercato.chassis.events.rabbit.bus import RabbitBus
from mercato.chassis.events.rabbit.topology import Topology
from mercato.contracts.events import producer_of

pytestmark = pytest.mark.integration
Eventually = Callable[..., Awaitable[None]]


def new(event_type: str, subject: str = "s1", **data: object) -> Event:
    source = producer_of(event_type) or "tests"  # consumers refuse another source
    return Event.new(event_type, subject=subject, data=dict(data), source=source)


async def test_events_are_persistent_json_with_their_id_and_type(rabbit_bus: RabbitBus) -> None:
    channel = await rabbit_bus.connection.channel()
    try:
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(rabbit_bus.topology.exchange, "order.#")
        traceparent = f"00-{'1' * 32}-{'2' * 16}-01"
        event = new("order.placed").model_copy(update={"trace": traceparent})
        await rabbit_bus.publish(event)
        message = await queue.get(timeout=5, no_ack=True)
    finally:
        await channel.close()
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert (message.message_id, message.type, message.routing_key) == (
        event.id,
        "order.placed",
        "order.placed",
    )
    assert message.content_type == "application/json"
    assert (message.headers or {}).get("traceparent") == event.trace
    assert Event.from_bytes(message.body) == event


async def test_no_broker_side_deduplication(rabbit_bus: RabbitBus, eventually: Eventually) -> None:
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.id)

    await rabbit_bus.subscribe("audit", ["a.one"], record)
    event = new("a.one")
    await rabbit_bus.publish(event)
    await rabbit_bus.publish(event)  # the consumers' inbox gives it one effect
    await eventually(lambda: seen == [event.id, event.id], what="two deliveries")


async def test_a_message_that_keeps_crashing_its_consumer_is_dead_lettered_by_the_broker(
    rabbit_bus: RabbitBus, eventually: Eventually
) -> None:
    strict = RabbitBus(
        rabbit_bus.url, service="tests", namespace=rabbit_bus.namespace, delivery_limit=2
    )
    await strict.connect()
    try:
        await (await strict.subscribe("crashy", ["job.queued"], _never)).stop()
    finally:
        await strict.close()
    event = new("job.queued")
    await rabbit_bus.publish(event)
    channel = await rabbit_bus.connection.channel()
    try:
        queue = await channel.get_queue(rabbit_bus.topology.queue("crashy"), ensure=False)
        for _ in range(3):  # three deliveries never acknowledged, as by a crashed process
            message = await queue.get(timeout=5)
            await message.nack(requeue=True)
    finally:
        await channel.close()

    async def dead_lettered() -> bool:
        return len(await rabbit_bus.dead_letters()) == 1

    await eventually(dead_lettered, what="the broker's dead letter")
    [letter] = await rabbit_bus.dead_letters()
    assert (letter.consumer, letter.event_type, letter.event) == ("crashy", "job.queued", event)
    assert "delivery_limit" in letter.error

    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.id)

    await rabbit_bus.replay(letter.id)
    await rabbit_bus.subscribe("crashy", ["job.queued"], record)
    await eventually(lambda: seen == [event.id], what="the replayed event")
    assert await rabbit_bus.dead_letters() == []


async def test_a_queue_declared_otherwise_is_used_as_it_is(
    rabbit_bus: RabbitBus, eventually: Eventually, caplog: pytest.LogCaptureFixture
) -> None:
    channel = await rabbit_bus.connection.channel()
    await channel.declare_queue(rabbit_bus.topology.queue("legacy"), durable=True)
    await channel.close()
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.type)

    with caplog.at_level(logging.WARNING, logger="mercato.events"):
        await rabbit_bus.subscribe("legacy", ["a.one"], record)
    assert "exists with other arguments" in caplog.text
    await rabbit_bus.publish(new("a.one"))
    await eventually(lambda: seen == ["a.one"], what="a delivery from the classic queue")


async def test_subscriptions_come_back_after_the_connection_is_lost(
    rabbit_bus: RabbitBus, eventually: Eventually
) -> None:
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl is None or urlsplit(rabbit_bus.url).hostname not in ("127.0.0.1", "localhost"):
        pytest.skip("needs rabbitmqctl for the local RabbitMQ server")
    name = f"tests-{uuid.uuid4().hex[:8]}"
    bus = RabbitBus(rabbit_bus.url, service=name, namespace=rabbit_bus.namespace)
    await bus.connect()
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.subject)

    try:
        await bus.subscribe("survivor", ["a.one"], record)
        await bus.publish(new("a.one", subject="before"))
        await eventually(lambda: seen == ["before"], what="a delivery before")
        listed = await _rabbitmqctl(rabbitmqctl, "list_connections", "pid", "client_properties")
        pids = [line.split("\t")[0] for line in listed.splitlines() if name in line]
        assert pids, listed
        for pid in pids:
            await _rabbitmqctl(rabbitmqctl, "close_connection", pid, "closed by a test")

        async def answers() -> bool:
            try:
                await bus.ping()
            except BusUnavailable:
                return False
            return True

        await eventually(answers, timeout=10.0, what="the connection back")
        await bus.publish(new("a.one", subject="after"))
        await eventually(lambda: seen == ["before", "after"], timeout=10.0, what="a delivery after")
    finally:
        await bus.delete_namespace()  # its consumer queue; the rest goes with the fixture's
        await bus.close()


async def _rabbitmqctl(*command: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *command[:1], "-q", *command[1:], stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    return out.decode()


async def test_reserved_consumer_names_are_refused(rabbit_bus: RabbitBus) -> None:
    with pytest.raises(ValueError, match="reserved"):
        await rabbit_bus.subscribe("dead-letters", ["a.one"], _never)


async def _never(event: Event) -> None:
    raise AssertionError(f"not expected: {event.type}")


async def _exists(bus: RabbitBus, name: str, *, exchange: bool = False) -> bool:
    """Whether the queue (or exchange) `name` exists on the server (a passive declare)."""
    channel = await bus.connection.channel()
    try:
        if exchange:
            await channel.declare_exchange(name, passive=True)
        else:
            await channel.declare_queue(name, passive=True)
    except aio_pika.exceptions.ChannelNotFoundEntity:
        return False  # the failed declare closed the channel
    await channel.close()
    return True


async def test_deleting_a_namespace_takes_the_queues_other_processes_declared(
    rabbit_bus: RabbitBus, eventually: Eventually
) -> None:
    # Another process of the system (the services' retry settings) fails an event:
    # it leaves its consumer queue and a delay queue behind when it goes.
    other = RabbitBus(rabbit_bus.url, service="other", namespace=rabbit_bus.namespace)
    await other.connect()

    async def fail(event: Event) -> None:
        raise RuntimeError("not now")

    await other.subscribe("worker", ["job.queued"], fail)
    await other.publish(new("job.queued"))
    topology = rabbit_bus.topology
    leftovers = [topology.queue("worker"), topology.retry("worker", 1000)]  # first delay: 1 s

    async def left_behind() -> bool:
        return all([await _exists(rabbit_bus, name) for name in leftovers])

    await eventually(left_behind, what="the consumer and delay queues")
    await other.close()

    cleaner = RabbitBus(rabbit_bus.url, service="cleaner", namespace=rabbit_bus.namespace)
    await cleaner.connect()
    await cleaner.delete_namespace(["worker"])
    await cleaner.close()

    for name in [*leftovers, topology.dead_letters, topology.stream("auth.token_revoked")]:
        assert not await _exists(rabbit_bus, name), name
    for name in [topology.exchange, topology.dead_letter_exchange, topology.retry("worker", 1000)]:
        assert not await _exists(rabbit_bus, name, exchange=True), name


async def _declared_with(bus: RabbitBus, name: str, arguments: dict[str, object]) -> bool:
    """Whether queue `name` has these arguments (RabbitMQ refuses a declaration that differs)."""
    channel = await bus.connection.channel()
    try:
        await channel.declare_queue(name, durable=True, arguments=arguments)
    except aio_pika.exceptions.ChannelPreconditionFailed:
        return False  # the failed declare closed the channel
    await channel.close()
    return True


async def test_replicated_queues_are_quorum_queues_with_that_many_members(
    rabbit_url: str, eventually: Eventually
) -> None:
    bus = RabbitBus(
        rabbit_url,
        service="orders",
        namespace=f"test_{uuid.uuid4().hex[:12]}",  # all its own: nothing declared before
        replicas=3,
        retry_delay=0.05,
        max_retry_delay=0.5,
    )
    await bus.connect()
    try:
        attempts: list[str] = []

        async def fail(event: Event) -> None:
            attempts.append(event.id)
            raise RuntimeError("never")

        await bus.subscribe("replicated", ["job.queued"], fail, max_deliver=2)
        event = new("job.queued")
        await bus.publish(event)

        async def dead_lettered() -> bool:
            return [letter.event for letter in await bus.dead_letters()] == [event]

        await eventually(dead_lettered, what="a dead letter in the replicated queue")
        topology = bus.topology
        group: dict[str, object] = {"x-queue-type": "quorum", "x-quorum-initial-group-size": 3}
        # One node holds them all here; on a cluster each queue starts on three.
        consumer = topology.consumer_arguments("replicated")
        assert await _declared_with(bus, topology.queue("replicated"), consumer)
        assert consumer["x-quorum-initial-group-size"] == 3
        assert await _declared_with(bus, topology.dead_letters, group)
        assert await _declared_with(bus, topology.retry("replicated", 50), {
            **topology.retry_arguments("replicated", 50), **group,
        })  # fmt: skip
        stream = topology.stream("auth.token_revoked")
        assert await _declared_with(bus, stream, topology.stream_arguments(bus.retention))
        assert topology.stream_arguments(bus.retention)["x-initial-cluster-size"] == 3
        [letter] = await bus.dead_letters()
        await bus.replay(letter.id)  # dead letters work the same from a quorum queue
        await eventually(lambda: attempts.count(event.id) == 3, what="the replayed event")
    finally:
        await bus.delete_namespace()
        await bus.close()


async def test_a_queue_is_never_lowered_nor_changed_in_type_and_the_service_says_why(
    rabbit_bus: RabbitBus, caplog: pytest.LogCaptureFixture
) -> None:
    topology = rabbit_bus.topology
    channel = await rabbit_bus.connection.channel()
    features, limit = topology.features, rabbit_bus.delivery_limit
    three = Topology(rabbit_bus.namespace, features, delivery_limit=limit, replicas=3)
    quorum = three.consumer_arguments("kept")  # an operator's, or a service's set to 3
    await channel.declare_queue(topology.queue("kept"), durable=True, arguments=quorum)
    await channel.declare_queue(topology.dead_letters, durable=True)  # classic, unreplicated
    await channel.close()

    async def ignore(event: Event) -> None:
        pass

    single = RabbitBus(rabbit_bus.url, service="single", namespace=rabbit_bus.namespace)
    replicated = RabbitBus(
        rabbit_bus.url, service="replicated", namespace=rabbit_bus.namespace, replicas=3
    )
    with caplog.at_level(logging.WARNING, logger="mercato.events"):
        for bus, consumer in ((single, "kept"), (replicated, "typed")):
            await bus.connect()
            try:
                await bus.subscribe(consumer, ["a.one"], ignore)
            finally:
                await bus.close()
    assert await _declared_with(rabbit_bus, topology.queue("kept"), quorum)  # still three
    assert await _declared_with(rabbit_bus, topology.dead_letters, {})  # still classic
    assert "'x-quorum-initial-group-size'" in caplog.text
    assert "rabbitmq-queues grow" in caplog.text
    assert "'x-queue-type'" in caplog.text
    assert "RabbitMQ cannot change a queue's type" in caplog.text
    async with asyncio.timeout(10):
        cleaner = RabbitBus(rabbit_bus.url, service="cleaner", namespace=rabbit_bus.namespace)
        await cleaner.connect()
        await cleaner.delete_namespace(["kept", "typed"])
        await cleaner.close()


async def test_ping_asks_the_server_every_time(rabbit_url: str) -> None:
    """Not aio-pika's memory of a declaration: a ping after the exchange went fails."""
    bus = RabbitBus(rabbit_url, service="pinger", namespace=f"test_{uuid.uuid4().hex[:12]}")
    await bus.connect()
    try:
        await bus.ping()
        await bus.ping()
        channel = await bus.connection.channel()
        await channel.exchange_delete(bus.topology.exchange)
        await channel.close()
        with pytest.raises(BusUnavailable, match="NOT_FOUND"):
            await bus.ping()
    finally:
        await bus.delete_namespace()
        await bus.close()

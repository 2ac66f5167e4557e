"""Integration tests of batched handling (`batch_handler`), on NATS JetStream and RabbitMQ.

A subscription given a batch handler hands it the events that arrived together (one
fetch of NATS; the deliveries RabbitMQ pushed ahead that were waiting) and
acknowledges them after it returns; when it raises, each event goes to the ordinary
handler alone, with the usual retries and dead letters. What the broker still holds
for the consumer is read from it after the subscription stops (NATS: pending and
unacknowledged; RabbitMQ: the queue, to which closing the channel returns every
unacknowledged delivery), so an event left unacknowledged shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import pytest

from mercato.chassis.events import Event, PoisonEvent
from mercato.chassis.events.bus import Subscription
from mercato.chassis.events.nats.bus import NatsBus
from mercato.chassis.events.rabbit.bus import RabbitBus
from mercato.contracts.events import producer_of
from tests.integration.conftest import Broker

pytestmark = pytest.mark.integration
Eventually = Callable[..., Awaitable[None]]


def new(event_type: str, subject: str = "s1", **data: object) -> Event:
    source = producer_of(event_type) or "tests"  # consumers refuse another source
    return Event.new(event_type, subject=subject, data=dict(data), source=source)


async def left_over(broker: Broker, consumer: str, subscription: Subscription) -> int:
    """What the broker holds for `consumer` once its subscription has stopped."""
    await subscription.stop()
    bus = broker.bus
    if isinstance(bus, NatsBus):
        info = await bus.js.consumer_info(bus.stream, consumer)
        return int(info.num_pending + info.num_ack_pending)
    assert isinstance(bus, RabbitBus)
    channel = await bus.connection.channel()
    try:
        queue = await channel.declare_queue(bus.topology.queue(consumer), passive=True)
        return int(queue.declaration_result.message_count or 0)
    finally:
        await channel.close()


async def test_events_that_wait_are_handled_in_batches_and_acknowledged(
    broker: Broker, eventually: Eventually
) -> None:
    batches: list[list[str]] = []
    handled: list[str] = []

    async def one(event: Event) -> None:  # an event that arrived alone
        handled.append(event.subject)

    async def many(events: Sequence[Event]) -> None:
        batches.append([event.subject for event in events])
        handled.extend(event.subject for event in events)

    bus = broker.bus
    subscription = await bus.subscribe("batched", ["a.one"], one, batch_handler=many)
    await subscription.stop()
    await bus.publish_many([new("a.one", subject=str(i)) for i in range(20)])
    subscription = await bus.subscribe("batched", ["a.one"], one, batch_handler=many)

    await eventually(lambda: len(handled) == 20, what="20 events handled")
    assert handled == [str(i) for i in range(20)]  # in order, each once
    assert max(map(len, batches)) > 1  # waiting before the subscription: taken together
    assert sum(map(len, batches)) > 10  # most of them
    assert await left_over(broker, "batched", subscription) == 0


async def test_a_failed_batch_is_handled_one_by_one(broker: Broker, eventually: Eventually) -> None:
    tried: list[list[str]] = []
    handled: list[str] = []
    alone: list[str] = []

    async def one(event: Event) -> None:
        if event.subject == "poison":
            raise PoisonEvent("never")
        alone.append(event.subject)
        handled.append(event.subject)

    async def many(events: Sequence[Event]) -> None:
        tried.append([event.subject for event in events])
        if any(event.subject == "poison" for event in events):
            raise RuntimeError("one of them fails")
        handled.extend(event.subject for event in events)

    bus = broker.bus
    subscription = await bus.subscribe("fallback", ["a.one"], one, batch_handler=many)
    await subscription.stop()
    subjects = ["1", "2", "poison", "3"]
    await bus.publish_many([new("a.one", subject=s) for s in subjects])
    subscription = await bus.subscribe("fallback", ["a.one"], one, batch_handler=many)

    await eventually(lambda: sorted(handled) == ["1", "2", "3"], what="every good event handled")
    assert sorted(s for batch in tried for s in batch) == sorted(subjects)  # each tried in one
    failed = next(batch for batch in tried if "poison" in batch)
    assert sorted(alone) == sorted(s for s in failed if s != "poison")  # the rest, one by one
    dead = await bus.dead_letters()
    assert [letter.event.subject for letter in dead if letter.event] == ["poison"]
    assert await left_over(broker, "fallback", subscription) == 0


async def test_an_event_delivered_again_is_handled_alone(
    broker: Broker, eventually: Eventually
) -> None:
    """An event whose first attempt failed comes back outside any batch, even one it
    arrives with."""
    attempts: list[str] = []
    batched: list[str] = []
    again: list[list[str]] = []

    async def one(event: Event) -> None:
        attempts.append(event.subject)
        if attempts.count("flaky") == 1 and event.subject == "flaky":
            raise RuntimeError("its first attempt fails")

    async def many(events: Sequence[Event]) -> None:
        subjects = [event.subject for event in events]
        if "flaky" in subjects and "flaky" in attempts:
            again.append(subjects)  # its second delivery, in a batch
        batched.extend(subjects)
        if "flaky" in subjects:
            raise RuntimeError("the batch fails: each event alone")

    bus = broker.bus
    subscription = await bus.subscribe("again", ["a.one"], one, batch_handler=many)
    await subscription.stop()
    await bus.publish_many([new("a.one", subject=s) for s in ("flaky", "steady")])
    subscription = await bus.subscribe("again", ["a.one"], one, batch_handler=many)
    await eventually(lambda: sorted(attempts) == ["flaky", "steady"], what="the first attempts")
    await subscription.stop()  # the retry waits out its delay meanwhile
    await bus.publish_many([new("a.one", subject=s) for s in ("a", "b", "c")])
    await asyncio.sleep(0.3)  # past the retry's delay: it waits in the queue with the rest
    subscription = await bus.subscribe("again", ["a.one"], one, batch_handler=many)
    await eventually(lambda: attempts.count("flaky") == 2, what="the event's second attempt")
    await eventually(lambda: {"a", "b", "c"} <= set(batched + attempts), what="the others")
    assert again == []
    assert await left_over(broker, "again", subscription) == 0

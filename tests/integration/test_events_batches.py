"""Integration tests of batched handling on NATS JetStream (`batch_handler`).

A subscription given a batch handler hands it the events of one fetch together and
acknowledges them after it returns; when it raises, each event goes to the ordinary
handler alone, with the usual retries and dead letters. The consumer's pending
acknowledgements are read from the server, so an event left unacknowledged shows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import pytest

from mercato.chassis.events import Event, PoisonEvent
from mercato.chassis.events.nats.bus import NatsBus
from mercato.contracts.events import producer_of

pytestmark = pytest.mark.integration
Eventually = Callable[..., Awaitable[None]]


def new(event_type: str, subject: str = "s1", **data: object) -> Event:
    source = producer_of(event_type) or "tests"  # consumers refuse another source
    return Event.new(event_type, subject=subject, data=dict(data), source=source)


async def settled(bus: NatsBus, consumer: str) -> bool:
    """Whether the server has nothing left to deliver nor waiting for an acknowledgement."""
    info = await bus.js.consumer_info(bus.stream, consumer)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def test_a_fetch_is_handled_as_one_batch_and_acknowledged(
    nats_bus: NatsBus, eventually: Eventually
) -> None:
    batches: list[list[str]] = []
    alone: list[str] = []

    async def one(event: Event) -> None:
        alone.append(event.subject)

    async def many(events: Sequence[Event]) -> None:
        batches.append([event.subject for event in events])

    subscription = await nats_bus.subscribe("batched", ["a.one"], one, batch_handler=many)
    await subscription.stop()
    await nats_bus.publish_many([new("a.one", subject=str(i)) for i in range(20)])
    await nats_bus.subscribe("batched", ["a.one"], one, batch_handler=many)

    await eventually(lambda: sum(map(len, batches)) == 20, what="20 events in batches")
    assert [s for batch in batches for s in batch] == [str(i) for i in range(20)]
    assert len(batches[0]) > 1  # waiting before the subscription: one fetch brought many
    assert alone == []
    await eventually(lambda: settled(nats_bus, "batched"), what="every event acknowledged")


async def test_a_failed_batch_is_handled_one_by_one(
    nats_bus: NatsBus, eventually: Eventually
) -> None:
    tried: list[int] = []
    alone: list[str] = []

    async def one(event: Event) -> None:
        if event.subject == "poison":
            raise PoisonEvent("never")
        alone.append(event.subject)

    async def many(events: Sequence[Event]) -> None:
        tried.append(len(events))
        if any(event.subject == "poison" for event in events):
            raise RuntimeError("one of them fails")

    subscription = await nats_bus.subscribe("fallback", ["a.one"], one, batch_handler=many)
    await subscription.stop()
    subjects = ["1", "2", "poison", "3"]
    await nats_bus.publish_many([new("a.one", subject=s) for s in subjects])
    await nats_bus.subscribe("fallback", ["a.one"], one, batch_handler=many)

    await eventually(lambda: alone == ["1", "2", "3"], what="each event alone")
    assert tried == [4]
    await eventually(lambda: settled(nats_bus, "fallback"), what="every event settled")
    dead = await nats_bus.dead_letters()
    assert [letter.event.subject for letter in dead if letter.event] == ["poison"]

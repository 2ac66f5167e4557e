"""Integration tests of the NATS JetStream bus against a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from mercato.chassis.events import (
    BusUnavailable,
    DeadLetterNotFound,
    Event,
    PoisonEvent,
    list_dead_letters,
    replay_dead_letter,
)
from mercato.chassis.events.nats_bus import NatsBus

pytestmark = pytest.mark.integration
Eventually = Callable[..., Awaitable[None]]


def new(event_type: str, subject: str = "s1", **data: object) -> Event:
    return Event.new(event_type, subject=subject, data=dict(data), source="tests")


async def stream_count(bus: NatsBus, stream: str | None = None) -> int:
    info = await bus.js.stream_info(stream or bus.stream)
    return int(info.state.messages)


async def test_publish_is_deduplicated_by_event_id(nats_bus: NatsBus) -> None:
    first, second = new("order.placed"), new("order.placed")
    await nats_bus.publish(first)
    await nats_bus.publish(first)
    await nats_bus.publish_many([first, second, second])
    assert await stream_count(nats_bus) == 2


async def test_publish_many_keeps_order_with_many_in_flight(
    nats_bus: NatsBus, eventually: Eventually
) -> None:
    events = [new("order.placed", subject=str(i)) for i in range(2000)]
    await nats_bus.publish_many(events)
    assert await stream_count(nats_bus) == 2000
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.subject)

    await nats_bus.subscribe("reader", ["order.placed"], record)
    await eventually(lambda: len(seen) == 2000, what="2000 deliveries")
    assert seen == [str(i) for i in range(2000)]


async def test_durable_subscription_gets_its_types_and_what_it_missed(
    nats_bus: NatsBus, eventually: Eventually
) -> None:
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.type)

    subscription = await nats_bus.subscribe("audit", ["a.one", "a.two"], record)
    await nats_bus.publish_many([new("a.one"), new("b.other"), new("a.two")])
    await eventually(lambda: seen == ["a.one", "a.two"], what="both types")
    await subscription.stop()
    await nats_bus.publish(new("a.two"))  # while nobody listens
    await nats_bus.subscribe("audit", ["a.one", "a.two", "a.three"], record)  # one more type
    await eventually(lambda: seen == ["a.one", "a.two", "a.two"], what="the missed event")
    await nats_bus.publish_many([new("a.three"), new("b.other")])
    await eventually(lambda: seen[3:] == ["a.three"], what="the added type")


async def test_failing_handler_ends_in_the_dlq_and_replay_brings_it_back(
    nats_bus: NatsBus, eventually: Eventually
) -> None:
    attempts: list[str] = []
    handled: list[str] = []
    broken = True

    async def handler(event: Event) -> None:
        attempts.append(event.id)
        if broken:
            raise RuntimeError(f"cannot handle {event.subject}")
        handled.append(event.id)

    await nats_bus.subscribe("billing", ["order.placed"], handler, max_deliver=3)
    event = new("order.placed", subject="o-42", total=1999)
    await nats_bus.publish(event)
    await eventually(lambda: len(attempts) == 3, what="three attempts")

    async def dead_lettered() -> bool:
        return len(await nats_bus.dead_letters()) == 1

    await eventually(dead_lettered, what="a dead letter")
    [letter] = await nats_bus.dead_letters()
    assert (letter.consumer, letter.event_type, letter.attempts) == ("billing", "order.placed", 3)
    assert "RuntimeError: cannot handle o-42" in letter.error
    assert letter.event == event
    await asyncio.sleep(0.2)
    assert len(attempts) == 3  # acknowledged: gone from the main stream

    broken = False
    await nats_bus.replay(letter.id)
    await eventually(lambda: handled == [event.id], what="the replayed event")
    assert await nats_bus.dead_letters() == []
    with pytest.raises(DeadLetterNotFound):
        await nats_bus.replay(letter.id)
    with pytest.raises(DeadLetterNotFound):
        await nats_bus.replay("not-a-number")


async def test_poison_and_malformed_messages_are_dead_lettered_at_once(
    nats_bus: NatsBus, eventually: Eventually
) -> None:
    calls = 0

    async def handler(event: Event) -> None:
        nonlocal calls
        calls += 1
        raise PoisonEvent("this order can never be billed")

    await nats_bus.subscribe("billing", ["order.placed"], handler, max_deliver=5)
    await nats_bus.publish(new("order.placed"))
    await nats_bus.js.publish(nats_bus.subject("order.placed"), b"{not an event")

    async def two_letters() -> bool:
        return len(await nats_bus.dead_letters()) == 2

    await eventually(two_letters, what="two dead letters")
    poison, malformed = await nats_bus.dead_letters()
    assert poison.attempts == 1 and "this order can never be billed" in poison.error
    assert malformed.event is None and malformed.payload == b"{not an event"
    assert "not a valid event" in malformed.error
    assert calls == 1
    assert len(await nats_bus.dead_letters(limit=1)) == 1


async def test_admin_helpers_list_and_replay(
    nats_bus: NatsBus, nats_url: str, eventually: Eventually
) -> None:
    async def refuse(event: Event) -> None:
        raise PoisonEvent("no")

    subscription = await nats_bus.subscribe("mailer", ["user.registered"], refuse)
    await nats_bus.publish(new("user.registered"))

    async def listed() -> bool:
        return len(await list_dead_letters(nats_url, namespace=nats_bus.namespace)) == 1

    await eventually(listed, what="a listed dead letter")
    await subscription.stop()
    [letter] = await list_dead_letters(nats_url, namespace=nats_bus.namespace)
    await replay_dead_letter(nats_url, letter.id, namespace=nats_bus.namespace)
    assert await list_dead_letters(nats_url, namespace=nats_bus.namespace) == []
    assert await stream_count(nats_bus) == 2  # the original and its replayed copy


async def test_tail_sees_recent_events_then_new_ones(
    nats_bus: NatsBus, eventually: Eventually
) -> None:
    before = [new("auth.token_revoked", subject=f"t{i}") for i in range(3)]
    await nats_bus.publish_many([*before, new("user.registered")])
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.subject)

    tail = await nats_bus.tail(["auth.token_revoked"], record, since=timedelta(minutes=5))
    await eventually(lambda: seen == ["t0", "t1", "t2"], what="the recent revocations")
    await nats_bus.publish(new("auth.token_revoked", subject="t3"))
    await eventually(lambda: seen == ["t0", "t1", "t2", "t3"], what="a new revocation")
    await tail.stop()
    consumers = await nats_bus.js.consumers_info(nats_bus.stream)
    assert consumers == []  # the ephemeral consumer is gone

    late: list[str] = []

    async def record_late(event: Event) -> None:
        late.append(event.subject)

    fresh = await nats_bus.tail(["auth.token_revoked"], record_late, since=timedelta(0))
    await nats_bus.publish(new("auth.token_revoked", subject="t4"))
    await eventually(lambda: late == ["t4"], what="only the new revocation")
    await fresh.stop()


async def test_stop_lets_the_running_handler_finish(
    nats_bus: NatsBus, eventually: Eventually
) -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(event: Event) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.append(event.subject)

    subscription = await nats_bus.subscribe("slow", ["job.queued"], slow)
    await nats_bus.publish_many([new("job.queued", subject=str(i)) for i in range(5)])
    await asyncio.wait_for(started.wait(), 5)
    await subscription.stop()
    assert finished == ["0"]

    # The four not started were handed back: they come again at once (well before
    # ack_wait, 5s here), and the finished one is not redelivered.
    async def quick(event: Event) -> None:
        finished.append(event.subject)

    await nats_bus.subscribe("slow", ["job.queued"], quick)
    await eventually(lambda: sorted(finished) == ["0", "1", "2", "3", "4"], timeout=2.0)
    await asyncio.sleep(0.1)
    assert len(finished) == 5


async def test_unreachable_broker_is_reported(nats_bus: NatsBus) -> None:
    await nats_bus.ping()
    dead = NatsBus("nats://127.0.0.1:1", service="tests")
    with pytest.raises(BusUnavailable, match=r"127\.0\.0\.1:1"):
        await dead.connect()
    with pytest.raises(BusUnavailable):
        await dead.ping()
    with pytest.raises(BusUnavailable):
        await dead.publish(new("a.b"))
    await dead.close()

"""Integration tests of the event bus, on NATS JetStream and on RabbitMQ.

Every test taking `broker` runs once per broker; the few that test what only one
transport does take that transport's bus (`nats_bus`, or `test_events_rabbit.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from mercato.chassis.events import (
    BusUnavailable,
    DeadLetterNotFound,
    Event,
    PoisonEvent,
    connect_bus,
    list_dead_letters,
    replay_dead_letter,
)
from mercato.chassis.events.nats.bus import NatsBus
from mercato.contracts.events import producer_of
from mercato.launcher.cli import main
from tests.integration.conftest import Broker

pytestmark = pytest.mark.integration
Eventually = Callable[..., Awaitable[None]]


def new(event_type: str, subject: str = "s1", **data: object) -> Event:
    source = producer_of(event_type) or "tests"  # consumers refuse another source
    return Event.new(event_type, subject=subject, data=dict(data), source=source)


async def test_nats_publish_is_deduplicated_by_event_id(nats_bus: NatsBus) -> None:
    first, second = new("order.placed"), new("order.placed")
    await nats_bus.publish(first)
    await nats_bus.publish(first)
    await nats_bus.publish_many([first, second, second])
    info = await nats_bus.js.stream_info(nats_bus.stream)
    assert info.state.messages == 2


async def test_publish_many_keeps_order_with_many_in_flight(
    broker: Broker, eventually: Eventually
) -> None:
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.subject)

    # Subscribed first: a RabbitMQ consumer gets only what its queue was bound for.
    subscription = await broker.bus.subscribe("reader", ["order.placed"], record)
    await subscription.stop()
    events = [new("order.placed", subject=str(i)) for i in range(1000)]
    await broker.bus.publish_many(events)
    assert await broker.published() == 1000
    await broker.bus.subscribe("reader", ["order.placed"], record)
    await eventually(lambda: len(seen) == 1000, what="1000 deliveries")
    assert seen == [str(i) for i in range(1000)]


async def test_durable_subscription_gets_its_types_and_what_it_missed(
    broker: Broker, eventually: Eventually
) -> None:
    bus = broker.bus
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.type)

    subscription = await bus.subscribe("audit", ["a.one", "a.two"], record)
    await bus.publish_many([new("a.one"), new("b.other"), new("a.two")])
    await eventually(lambda: seen == ["a.one", "a.two"], what="both types")
    await subscription.stop()
    await bus.publish(new("a.two"))  # while nobody listens
    await bus.subscribe("audit", ["a.one", "a.two", "a.three"], record)  # one more type
    await eventually(lambda: seen == ["a.one", "a.two", "a.two"], what="the missed event")
    await bus.publish_many([new("a.three"), new("b.other")])
    await eventually(lambda: seen[3:] == ["a.three"], what="the added type")


async def test_wildcard_subscription_gets_every_type(
    broker: Broker, eventually: Eventually
) -> None:
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.type)

    await broker.bus.subscribe("everything", [">"], record)
    await broker.bus.publish_many([new("a.one"), new("b.other"), new("c")])
    await eventually(lambda: seen == ["a.one", "b.other", "c"], what="every type")


async def test_failing_handler_ends_in_the_dlq_and_replay_brings_it_back(
    broker: Broker, eventually: Eventually
) -> None:
    bus = broker.bus
    attempts: list[str] = []
    handled: list[str] = []
    broken = True

    async def handler(event: Event) -> None:
        attempts.append(event.id)
        if broken:
            raise RuntimeError(f"cannot handle {event.subject}")
        handled.append(event.id)

    await bus.subscribe("billing", ["order.placed"], handler, max_deliver=3)
    event = new("order.placed", subject="o-42", total=1999)
    await bus.publish(event)
    await eventually(lambda: len(attempts) == 3, what="three attempts")

    async def dead_lettered() -> bool:
        return len(await bus.dead_letters()) == 1

    await eventually(dead_lettered, what="a dead letter")
    [letter] = await bus.dead_letters()
    assert (letter.consumer, letter.event_type, letter.attempts) == ("billing", "order.placed", 3)
    assert "RuntimeError: cannot handle o-42" in letter.error
    assert letter.event == event
    await asyncio.sleep(0.2)
    assert len(attempts) == 3  # acknowledged: gone from the consumer's stream or queue

    broken = False
    await bus.replay(letter.id)
    await eventually(lambda: handled == [event.id], what="the replayed event")
    assert await bus.dead_letters() == []
    with pytest.raises(DeadLetterNotFound):
        await bus.replay(letter.id)
    with pytest.raises(DeadLetterNotFound):
        await bus.replay("not-a-number")


async def test_poison_and_malformed_messages_are_dead_lettered_at_once(
    broker: Broker, eventually: Eventually
) -> None:
    bus = broker.bus
    calls = 0

    async def handler(event: Event) -> None:
        nonlocal calls
        calls += 1
        raise PoisonEvent("this order can never be billed")

    await bus.subscribe("billing", ["order.placed"], handler, max_deliver=5)
    await bus.publish(new("order.placed"))
    await broker.publish_raw("order.placed", b"{not an event")

    async def two_letters() -> bool:
        return len(await bus.dead_letters()) == 2

    await eventually(two_letters, what="two dead letters")
    poison, malformed = await bus.dead_letters()
    assert poison.attempts == 1 and "this order can never be billed" in poison.error
    assert malformed.event is None and malformed.payload == b"{not an event"
    assert malformed.event_type == "order.placed"
    assert "not a valid event" in malformed.error
    assert calls == 1
    assert len(await bus.dead_letters(limit=1)) == 1
    assert [letter.id for letter in await bus.dead_letters()] == [poison.id, malformed.id]


async def test_admin_helpers_list_and_replay(broker: Broker, eventually: Eventually) -> None:
    bus, url, namespace = broker.bus, broker.url, broker.namespace

    async def refuse(event: Event) -> None:
        raise PoisonEvent("no")

    subscription = await bus.subscribe("mailer", ["user.registered"], refuse)
    event = new("user.registered")
    await bus.publish(event)

    async def listed() -> bool:
        return len(await list_dead_letters(url, namespace=namespace)) == 1

    await eventually(listed, what="a listed dead letter")
    await subscription.stop()
    [letter] = await list_dead_letters(url, namespace=namespace)
    await replay_dead_letter(url, letter.id, namespace=namespace)
    assert await list_dead_letters(url, namespace=namespace) == []
    with pytest.raises(DeadLetterNotFound):
        await replay_dead_letter(url, letter.id, namespace=namespace)

    seen: list[str] = []

    async def accept(event: Event) -> None:
        seen.append(event.id)

    await bus.subscribe("mailer", ["user.registered"], accept)
    await eventually(lambda: seen == [event.id], what="the replayed event")
    await asyncio.sleep(0.1)
    assert seen == [event.id]


async def test_the_dead_letters_command_uses_the_configured_namespace(
    broker: Broker,
    eventually: Eventually,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """`mercato dead-letters` works on the namespace MERCATO_BUS_NAMESPACE names."""

    async def refuse(event: Event) -> None:
        raise PoisonEvent("no")

    subscription = await broker.bus.subscribe("mailer", ["user.registered"], refuse)
    await broker.bus.publish(new("user.registered"))

    async def dead_lettered() -> bool:
        return len(await broker.bus.dead_letters()) == 1

    await eventually(dead_lettered, what="a dead letter")
    await subscription.stop()
    [letter] = await broker.bus.dead_letters()
    monkeypatch.setenv("MERCATO_BROKER_URL", broker.url)
    monkeypatch.setenv("MERCATO_BUS_NAMESPACE", broker.namespace)
    monkeypatch.setenv("MERCATO_DATA_DIR", str(tmp_path))
    capsys.readouterr()

    # The command runs its own event loop, so it runs in a thread of its own here.
    assert await asyncio.to_thread(main, ["dead-letters", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 1
    assert listed[0].startswith(f"{letter.id}  ")
    assert "  mailer  user.registered  attempts=1  " in listed[0]
    assert await asyncio.to_thread(main, ["dead-letters", "replay", letter.id]) == 0
    assert capsys.readouterr().out == f"replayed {letter.id}\n"
    assert await broker.bus.dead_letters() == []


async def test_the_dead_letters_command_replays_them_all(
    broker: Broker,
    eventually: Eventually,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`mercato dead-letters replay --all` replays exactly the letters it listed."""

    async def refuse(event: Event) -> None:
        raise PoisonEvent("no")

    subscription = await broker.bus.subscribe("mailer", ["user.registered"], refuse)
    await broker.bus.publish_many([new("user.registered", subject=f"u{i}") for i in range(3)])

    async def dead_lettered() -> bool:
        return len(await broker.bus.dead_letters()) == 3

    await eventually(dead_lettered, what="three dead letters")
    await subscription.stop()
    monkeypatch.setenv("MERCATO_BROKER_URL", broker.url)
    monkeypatch.setenv("MERCATO_BUS_NAMESPACE", broker.namespace)
    monkeypatch.setenv("MERCATO_DATA_DIR", str(tmp_path))
    capsys.readouterr()

    assert await asyncio.to_thread(main, ["dead-letters", "replay", "--all"]) == 0
    assert capsys.readouterr().out == "replayed 3 dead letters\n"  # no bar off a terminal
    assert await broker.bus.dead_letters() == []
    assert await asyncio.to_thread(main, ["dead-letters", "replay", "--all"]) == 0
    assert capsys.readouterr().out == "no dead letters\n"

    seen: list[str] = []

    async def accept(event: Event) -> None:
        seen.append(event.subject)

    await broker.bus.subscribe("mailer", ["user.registered"], accept)
    await eventually(lambda: sorted(seen) == ["u0", "u1", "u2"], what="the replayed events")

    for args in (["replay"], ["replay", "1", "--all"]):
        assert await asyncio.to_thread(main, ["dead-letters", *args]) == 2
        assert capsys.readouterr().err == (
            "mercato: name one dead letter ID, or --all (see `mercato dead-letters list`)\n"
        )


async def test_replaying_them_all_reports_one_that_cannot_be_replayed(
    nats_bus: NatsBus,
    eventually: Eventually,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A letter whose event left the stream fails; the others are replayed; exit 1."""

    async def refuse(event: Event) -> None:
        raise PoisonEvent("no")

    subscription = await nats_bus.subscribe("mailer", ["user.registered"], refuse)
    await nats_bus.publish_many([new("user.registered", subject=f"u{i}") for i in range(2)])

    async def dead_lettered() -> bool:
        return len(await nats_bus.dead_letters()) == 2

    await eventually(dead_lettered, what="two dead letters")
    await subscription.stop()
    gone, kept = await nats_bus.dead_letters()
    first = (await nats_bus.js.stream_info(nats_bus.stream)).state.first_seq
    await nats_bus.js.delete_msg(nats_bus.stream, first)  # the first letter's event
    monkeypatch.setenv("MERCATO_BROKER_URL", nats_bus.url)
    monkeypatch.setenv("MERCATO_BUS_NAMESPACE", nats_bus.namespace)
    monkeypatch.setenv("MERCATO_DATA_DIR", str(tmp_path))
    capsys.readouterr()

    assert await asyncio.to_thread(main, ["dead-letters", "replay", "--all"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"mercato: replayed 1 of 2 dead letters; 1 failed, first {gone.id}:"
        f" dead letter {gone.id} is not replayed: its event has left the events stream\n"
    )
    assert [letter.id for letter in await nats_bus.dead_letters()] == [gone.id]
    assert kept.id != gone.id


async def test_tail_sees_recent_events_then_new_ones(
    broker: Broker, eventually: Eventually
) -> None:
    bus = broker.bus
    before = [new("auth.token_revoked", subject=f"t{i}") for i in range(3)]
    await bus.publish_many([*before, new("user.registered")])
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.subject)

    tail = await bus.tail(["auth.token_revoked"], record, since=timedelta(minutes=5))
    await eventually(lambda: seen == ["t0", "t1", "t2"], what="the recent revocations")
    await bus.publish(new("auth.token_revoked", subject="t3"))
    await eventually(lambda: seen == ["t0", "t1", "t2", "t3"], what="a new revocation")
    await tail.stop()
    assert await broker.tail_consumers() == 0  # the tail is gone from the broker

    late: list[str] = []

    async def record_late(event: Event) -> None:
        late.append(event.subject)

    fresh = await bus.tail(["auth.token_revoked"], record_late, since=timedelta(0))
    await bus.publish(new("auth.token_revoked", subject="t4"))
    await eventually(lambda: late == ["t4"], what="only the new revocation")
    await fresh.stop()


async def test_stop_lets_the_running_handler_finish(broker: Broker, eventually: Eventually) -> None:
    bus = broker.bus
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(event: Event) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.append(event.subject)

    subscription = await bus.subscribe("slow", ["job.queued"], slow)
    await bus.publish_many([new("job.queued", subject=str(i)) for i in range(5)])
    await asyncio.wait_for(started.wait(), 5)
    await subscription.stop()
    assert finished == ["0"]

    # The four not started were handed back: they come again at once (well before
    # NATS's ack_wait, 5s here), and the finished one is not redelivered.
    async def quick(event: Event) -> None:
        finished.append(event.subject)

    await bus.subscribe("slow", ["job.queued"], quick)
    await eventually(lambda: sorted(finished) == ["0", "1", "2", "3", "4"], timeout=2.0)
    await asyncio.sleep(0.1)
    assert len(finished) == 5


async def test_unreachable_broker_is_reported(broker: Broker) -> None:
    await broker.bus.ping()
    dead = connect_bus(broker.dead_url, service="tests")
    with pytest.raises(BusUnavailable, match=r"127\.0\.0\.1:1"):
        await dead.connect()
    with pytest.raises(BusUnavailable):
        await dead.ping()
    with pytest.raises(BusUnavailable):
        await dead.publish(new("a.b"))
    await dead.close()

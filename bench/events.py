"""The event bus benchmark: `python -m bench.events [--events K] [--broker URL ...]`.

For each broker (by default the NATS JetStream at nats://127.0.0.1:4222 and the
RabbitMQ at amqp://guest:guest@127.0.0.1:5672/), in a namespace of its own that
is deleted afterwards: a durable subscriber counts the events, then K events are
published with `publish_many` (which waits for every acknowledgement). Prints
published/s (K over the time `publish_many` took) and consumed/s end to end (K over
the time from the start of publishing to the subscriber having seen the last one).
Delivery is at least once: redeliveries are counted apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from mercato.chassis.events import Event, EventBus, connect_bus
from mercato.chassis.events.nats.bus import NatsBus
from mercato.chassis.events.rabbit.bus import RabbitBus

__all__ = ["BusResult", "main", "measure"]

DEFAULT_BROKERS = ("nats://127.0.0.1:4222", "amqp://guest:guest@127.0.0.1:5672/")
EVENT_TYPE = "bench.tick"


@dataclass(frozen=True)
class BusResult:
    """Figures of one broker."""

    broker: str
    events: int
    publish_seconds: float
    consume_seconds: float
    consumed: int
    duplicates: int

    @property
    def published_per_second(self) -> float:
        """Events acknowledged by the broker per second."""
        return self.events / self.publish_seconds if self.publish_seconds else 0.0

    @property
    def consumed_per_second(self) -> float:
        """Distinct events consumed per second, from the start of publishing."""
        return self.consumed / self.consume_seconds if self.consume_seconds else 0.0


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


async def _cleanup(bus: EventBus) -> None:
    """Delete the namespace's streams, exchanges and queues, then close."""
    try:
        if isinstance(bus, NatsBus):
            await bus.delete_streams()
        elif isinstance(bus, RabbitBus):
            await bus.delete_namespace()
    finally:
        await bus.close()


async def measure(url: str, events: int, timeout: float) -> BusResult:
    """Publish `events` events through the broker at `url` to one subscriber."""
    namespace = f"BENCH_{uuid.uuid4().hex[:12].upper()}"
    if urlsplit(url).scheme.startswith("amqp"):
        namespace = namespace.lower()
    bus = connect_bus(url, service="bench", namespace=namespace)
    seen: set[str] = set()
    duplicates = 0
    finished = asyncio.Event()

    async def count(event: Event) -> None:
        nonlocal duplicates
        if event.id in seen:
            duplicates += 1
            return
        seen.add(event.id)
        if len(seen) >= events:
            finished.set()

    async with asyncio.timeout(30):
        await bus.connect()
    try:
        subscription = await bus.subscribe("bench-counter", [EVENT_TYPE], count)
        try:
            batch = [
                Event.new(EVENT_TYPE, subject=str(i), data={"n": i}, source="bench")
                for i in range(events)
            ]
            started = time.perf_counter()
            await bus.publish_many(batch)
            published = time.perf_counter() - started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), timeout)
            consumed = time.perf_counter() - started
        finally:
            await subscription.stop()
    finally:
        await _cleanup(bus)
    return BusResult(_where(url), events, published, consumed, len(seen), duplicates)


def main() -> None:
    """Parse the options, measure each broker and print a table."""
    parser = argparse.ArgumentParser(prog="python -m bench.events")
    parser.add_argument("--events", type=int, default=20_000, help="events per broker")
    parser.add_argument(
        "--broker",
        action="append",
        metavar="URL",
        help="nats://... or amqp://... (repeatable; default: local NATS and RabbitMQ)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the subscriber"
    )
    args = parser.parse_args()
    print(f"# Mercato event bus benchmark: {args.events} events, publish_many to one subscriber\n")
    print("| broker | events | published/s | consumed/s (end to end) | consumed | redelivered |")
    print("|---|---:|---:|---:|---:|---:|")
    for url in args.broker or DEFAULT_BROKERS:
        try:
            result = asyncio.run(measure(url, args.events, args.timeout))
        except Exception as exc:  # one broker failing should not hide the others
            print(f"| {_where(url)} | {args.events} | failed: {exc!r} | | | |", flush=True)
            continue
        print(
            f"| {result.broker} | {result.events} | {result.published_per_second:.0f} "
            f"| {result.consumed_per_second:.0f} | {result.consumed} | {result.duplicates} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

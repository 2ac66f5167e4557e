"""Tails on RabbitMQ: the events of some types from a point in time on, then new ones.

On RabbitMQ 3.9+ each type has its stream queue, `<namespace>.stream.<type>`, bound
to the events exchange for that type only and keeping its events for the bus's
`retention`; the first tail of a type declares it. A tail consumes the stream of each
of its types from `now - since` (one consume loop per type, stopped together), so
that it reads only what it asked for, and so does the broker user it runs as. On an
older server a tail is an exclusive, auto-deleted queue bound to its types, which
gets only the events published after it started: `since` is ignored there, with a
warning.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from mercato.chassis.events.bus import EventHandler, Subscription
from mercato.chassis.events.rabbit.delivery import TailDelivery
from mercato.chassis.events.rabbit.subscription import ConsumeLoop, Subscriptions
from mercato.chassis.events.rabbit.topology import WILDCARD, declare_stream

if TYPE_CHECKING:
    from mercato.chassis.events.rabbit.bus import RabbitBus

__all__ = ["tail"]

log = logging.getLogger("mercato.events")


async def tail(
    bus: RabbitBus, types: Sequence[str], handler: EventHandler, *, since: timedelta
) -> Subscription:
    """A tail of `types` on `bus` (see the module docstring)."""
    name = f"{bus.service}-tail-{uuid.uuid4().hex[:12]}"
    if bus.topology.features.streams:
        return await _streams(bus, name, types, handler, since)
    return await _new_only(bus, name, types, handler, since)


async def _streams(
    bus: RabbitBus, name: str, types: Sequence[str], handler: EventHandler, since: timedelta
) -> Subscription:
    topology, connection = bus.topology, bus.connection
    start = datetime.now(UTC) - since if since > timedelta(0) else None
    wanted = None if WILDCARD in types else frozenset(types)
    loops: list[Subscription] = []
    try:
        for event_type in sorted(set(types)):
            stream = await declare_stream(connection, topology, event_type, bus.retention)
            bus.remember_stream(stream)
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=bus.prefetch)
            delivery = TailDelivery(
                name, handler, exchange=topology.exchange, wanted=wanted, start=start, acks=True
            )
            queue = await channel.declare_queue(stream, passive=True)
            offset = start if start is not None else "next"
            loop = ConsumeLoop(
                channel, queue, delivery, name=name, arguments={"x-stream-offset": offset}
            )
            loops.append(await bus.start_loop(loop))
    except BaseException:
        await Subscriptions(loops).stop()
        raise
    return loops[0] if len(loops) == 1 else Subscriptions(loops)


async def _new_only(
    bus: RabbitBus, name: str, types: Sequence[str], handler: EventHandler, since: timedelta
) -> Subscription:
    topology = bus.topology
    channel = await bus.connection.channel()
    await channel.set_qos(prefetch_count=bus.prefetch)
    if since > timedelta(0):
        log.warning("RabbitMQ at %s has no streams: %s gets only new events", bus.where, name)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    for key in sorted({topology.binding_key(t) for t in types}):
        await queue.bind(topology.exchange, key)
    delivery = TailDelivery(
        name, handler, exchange=topology.exchange, wanted=None, start=None, acks=False
    )
    return await bus.start_loop(ConsumeLoop(channel, queue, delivery, name=name, no_ack=True))

"""Asking RabbitMQ whether it answers: a request on a channel of its own, each time.

`RabbitBus.ping` must make a round trip to the server. aio-pika's robust channel
keeps every exchange it declared passively and answers the next passive declaration
from that memory, so a ping on the publishing channel asks the server once and then
never again: a stalled server looked fine. And a request cancelled on a channel
(the caller's timeout) makes aiormq close that channel, which must not be the one
events are published on.

So each ping opens a channel, declares the events exchange passively on the
underlying aiormq channel (past aio-pika's memory), and closes the channel in the
background: a close is a request too, which a stalled server would hold, and the
caller's timeout must stay its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib

from aio_pika.abc import AbstractChannel, AbstractRobustConnection

__all__ = ["ask"]

_closing: set[asyncio.Task[None]] = set()  # the channels being closed, kept referenced


async def ask(connection: AbstractRobustConnection, exchange: str) -> None:
    """Raise unless the server answers a passive declaration of `exchange` (it exists)."""
    channel = connection.channel()
    try:
        await channel
        underlay = await channel.get_underlay_channel()
        await underlay.exchange_declare(exchange, passive=True)
    finally:
        task = asyncio.get_running_loop().create_task(_close(channel))
        _closing.add(task)
        task.add_done_callback(_closing.discard)


async def _close(channel: AbstractChannel) -> None:
    with contextlib.suppress(Exception):
        if not channel.is_closed:
            await channel.close()

"""The consume loop behind every RabbitMQ subscription.

Each subscription has a channel of its own whose prefetch (`basic_qos`) lets the
broker push up to `prefetch` unacknowledged messages ahead: the batching of this
transport. Deliveries are queued locally in the order they arrive and processed one
at a time by a background task, so a handler sees the events of a queue in order;
given `process_many`, the task takes every delivery waiting when it turns to the
queue, and hands several to it as one batch (a single one goes to `process`, as it
does while the consumer keeps up: no delivery waits for a batch to fill). `stop()`
lets the message or batch being processed finish, then closes the channel: the
broker puts every message delivered and not yet acknowledged back where it was,
ready for another replica at once. An idle loop stops at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel

from mercato.chassis.events.bus import Subscription

__all__ = ["ConsumeLoop", "Subscriptions"]

log = logging.getLogger("mercato.events")

Process = Callable[[AbstractIncomingMessage], Awaitable[None]]
ProcessMany = Callable[[list[AbstractIncomingMessage]], Awaitable[None]]
Cleanup = Callable[[], Awaitable[None]]


class ConsumeLoop:
    """A background task handling the deliveries of one queue, one (or one batch) at a time."""

    def __init__(
        self,
        channel: AbstractRobustChannel,
        queue: AbstractQueue,
        process: Process,
        *,
        name: str,
        arguments: dict[str, Any] | None = None,
        no_ack: bool = False,
        process_many: ProcessMany | None = None,
    ) -> None:
        self.name = name
        self._channel = channel
        self._queue = queue
        self._process = process
        self._process_many = process_many
        self._arguments = arguments
        self._no_ack = no_ack
        self._stopped: list[Cleanup] = []
        self._inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._stopping = False
        self._busy = False
        self._task: asyncio.Task[None] | None = None

    def on_stopped(self, callback: Cleanup) -> None:
        """Call `callback` once the loop has stopped."""
        self._stopped.append(callback)

    async def start(self) -> None:
        """Start consuming; deliveries are handled in the background."""
        self._task = asyncio.create_task(self._run(), name=f"events:{self.name}")
        try:
            await self._queue.consume(self._deliver, no_ack=self._no_ack, arguments=self._arguments)
        except BaseException:
            await self.stop()
            raise

    async def _deliver(self, message: AbstractIncomingMessage) -> None:
        self._inbox.put_nowait(message)

    async def stop(self) -> None:
        """Stop consuming; the message being processed finishes first."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        if not self._busy:
            task.cancel()
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is not None:
            log.error("subscription %s had failed", self.name, exc_info=task.exception())
        try:
            await self._channel.close()  # gives back what was delivered and not settled
        except Exception as exc:
            log.debug("closing the channel of %s: %s", self.name, exc)
        for callback in self._stopped:
            await callback()

    async def _run(self) -> None:
        while not self._stopping:
            message = await self._inbox.get()
            if self._stopping:
                return
            self._busy = True
            try:
                batch = [message] if self._process_many is None else await self._waiting(message)
                if len(batch) > 1 and self._process_many is not None:
                    await self._process_many(batch)
                else:
                    await self._process(message)
            except Exception:
                # `process` settles each message itself; this is a bug, not a failed handler.
                log.exception("processing a message of %s failed", self.name)
            finally:
                self._busy = False

    async def _waiting(self, first: AbstractIncomingMessage) -> list[AbstractIncomingMessage]:
        """`first` and every delivery queued behind it, in their order."""
        await asyncio.sleep(0)  # lets the deliveries that came with `first` reach the queue
        batch = [first]
        while not self._inbox.empty():
            batch.append(self._inbox.get_nowait())
        return batch


class Subscriptions:
    """Several consume loops stopped as one (a tail of several streams)."""

    def __init__(self, loops: Sequence[Subscription]) -> None:
        self.loops = list(loops)

    async def stop(self) -> None:
        """Stop every loop; each lets its message in progress finish first."""
        await asyncio.gather(*(loop.stop() for loop in self.loops))

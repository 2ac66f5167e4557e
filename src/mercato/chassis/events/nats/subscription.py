"""The fetch loop behind every NATS subscription: batched pulls in a background task.

A `PullLoop` asks its JetStream pull consumer for up to `batch` messages at a time
(the server answers as soon as any are available, so batching costs no latency)
and hands them one by one to its `process` callback, or all at once to
`process_many` when it has one (a batch is then settled as a whole, or message by
message when that fails: `delivery.Delivery.many`). `stop()` lets the message
being processed finish and hands the rest of its batch back to the server (`nak`),
so another replica can take them without waiting for the acknowledgement timeout.

A pull request cannot be withdrawn: an older server (before 2.10) delivers to it
even after its subscriber has gone, and those messages would then wait out the
acknowledgement timeout. So when the loop is waiting for messages, `stop()` lets
that request end (at most `timeout` seconds) and hands back what it brought. A
tail acknowledges nothing and loses nothing by being cut short: it stops at once.

A tail's consumer lives in the server's memory only, so a restarted server has
forgotten it and every fetch fails from then on. A loop given `rebind` therefore
creates a new consumer (and binds to it) after a failed fetch, instead of retrying
a consumer that no longer exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["PullLoop"]

log = logging.getLogger("mercato.events")

Process = Callable[[Any], Awaitable[None]]
ProcessMany = Callable[[list[Any]], Awaitable[None]]
Cleanup = Callable[[], Awaitable[None]]
Rebind = Callable[[], Awaitable[Any]]


class PullLoop:
    """A background task fetching batches from one pull consumer."""

    def __init__(
        self,
        pull: Any,
        process: Process,
        *,
        name: str,
        batch: int,
        timeout: float,
        acks: bool = True,
        cleanup: Cleanup | None = None,
        rebind: Rebind | None = None,
        process_many: ProcessMany | None = None,
    ) -> None:
        self.name = name
        self._pull = pull
        self._process = process
        self._process_many = process_many
        self._batch = batch
        self._timeout = timeout
        self._acks = acks
        self._cleanup = cleanup
        self._rebind = rebind
        self._stopping = asyncio.Event()
        self._busy = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start fetching in the background."""
        self._task = asyncio.create_task(self._run(), name=f"events:{self.name}")

    async def stop(self) -> None:
        """Stop fetching; the message being processed finishes first."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        if not self._acks and not self._busy:
            task.cancel()
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is not None:
            log.error("subscription %s had failed", self.name, exc_info=task.exception())
        try:
            await self._pull.unsubscribe()
        except Exception as exc:
            log.debug("unsubscribing %s: %s", self.name, exc)
        if self._cleanup is not None:
            await self._cleanup()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                messages = await self._pull.fetch(self._batch, timeout=self._timeout)
            except TimeoutError:
                continue  # nothing new
            except Exception as exc:
                failures += 1
                delay = min(0.1 * 2**failures, 5.0)
                log.warning("fetch for %s failed (%s); retrying in %.1fs", self.name, exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                if self._rebind is not None and not self._stopping.is_set():
                    await self._bind_again()
                continue
            failures = 0
            self._busy = True
            try:
                await self._handle(messages)
            finally:
                self._busy = False

    async def _bind_again(self) -> None:
        assert self._rebind is not None
        try:
            pull = await self._rebind()
        except Exception as exc:
            log.warning("re-creating the consumer of %s failed: %s", self.name, exc)
            return
        with contextlib.suppress(Exception):
            await self._pull.unsubscribe()
        self._pull = pull
        log.info("re-created the consumer of %s", self.name)

    async def _handle(self, messages: list[Any]) -> None:
        if self._process_many is not None and len(messages) > 1:
            try:
                await self._process_many(messages)
            except Exception:
                log.exception("processing a batch of %s failed", self.name)
            return
        for index, message in enumerate(messages):
            if self._stopping.is_set():
                await self._release(messages[index:])
                return
            try:
                await self._process(message)
            except Exception:
                # `process` settles each message itself; this is a bug, not a failed handler.
                log.exception("processing a message of %s failed", self.name)

    async def _release(self, messages: list[Any]) -> None:
        if not self._acks:
            return
        for message in messages:
            try:
                await message.nak()
            except Exception as exc:
                log.debug("nak on stop for %s: %s", self.name, exc)

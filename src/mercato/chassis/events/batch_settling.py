"""Settling the messages a subscription received together, with a batch handler.

The same on every transport (`nats.delivery`, `rabbit.delivery`, each a subclass of
`BatchSettling`): the messages that may join a batch (an event delivered for the
first time, wanted, valid and not forged: the transport's `first_delivery` says
which, and gives its event) go to the batch handler together and are acknowledged
once it returns (`acknowledge`); the others, and every one of a batch whose handler
raised, go one by one through the transport's ordinary path (`__call__`), with its
retries and dead letters. Those that go alone from the start do so first. Without a
batch handler every message goes alone.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from mercato.chassis.events.bus import BatchHandler
from mercato.chassis.events.envelope import Event

__all__ = ["BatchSettling"]

log = logging.getLogger("mercato.events")
Message = TypeVar("Message")


class BatchSettling(ABC, Generic[Message]):
    """`many`, for a transport's delivery that settles one message with `__call__`."""

    consumer: str
    batch_handler: BatchHandler | None

    @abstractmethod
    async def __call__(self, message: Message) -> None:
        """Handle and settle one message, alone."""

    @abstractmethod
    def first_delivery(self, message: Message) -> Event | None:
        """The event of a message a batch may take; None for one to settle alone."""

    @abstractmethod
    async def acknowledge(self, messages: list[Message]) -> None:
        """Acknowledge the messages of a batch that was handled."""

    @property
    def batches(self) -> Callable[[list[Message]], Awaitable[None]] | None:
        """What settles the messages received together (`many`), given a batch handler."""
        return self.many if self.batch_handler is not None else None

    async def many(self, messages: list[Message]) -> None:
        """Settle `messages`, received together (see the module docstring)."""
        apart: list[Message] = []
        together: list[tuple[Message, Event]] = []
        for message in messages:
            event = self.first_delivery(message) if self.batch_handler is not None else None
            if event is None:
                apart.append(message)
            else:
                together.append((message, event))
        for message in apart:
            await self(message)
        if not together or self.batch_handler is None:
            return
        try:
            await self.batch_handler([event for _, event in together])
        except Exception as exc:
            log.info("%s: a batch of %d failed (%s); one by one", self.consumer, len(together), exc)
            for message, _ in together:
                await self(message)
            return
        await self.acknowledge([message for message, _ in together])

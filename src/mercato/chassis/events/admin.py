"""Dead letters listed and replayed, and namespace clean-up: the operators' helpers.

Behind `mercato dead-letters list|replay` (as the broker's operator user) and the logs
service's dead-letter API (as `DEAD_LETTERS`, a user with only those rights: `user=`).
Each call opens its own short connection to the broker, does one thing (or, for
`replay_dead_letters`, one thing per letter) and closes it, so the CLI needs no
running service; the connection declares no tail's stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

from mercato.chassis.events.bus import DEFAULT_NAMESPACE, BusError, BusUnavailable, EventBus
from mercato.chassis.events.dead_letters import DeadLetter
from mercato.chassis.events.names import OPERATOR
from mercato.chassis.events.rabbit.bus import RabbitBus
from mercato.chassis.events.transports import connect_bus

__all__ = [
    "delete_rabbit_namespace",
    "list_dead_letters",
    "replay_dead_letter",
    "replay_dead_letters",
]

_Bus = TypeVar("_Bus", bound=EventBus)


@asynccontextmanager
async def _connected(bus: _Bus) -> AsyncIterator[_Bus]:
    """`bus`, connected for the block and closed after it."""
    await bus.connect()
    try:
        yield bus
    finally:
        await bus.close()


def _bus(url: str, user: str, namespace: str) -> EventBus:
    """A tool's bus: it leaves the replicas of the streams and queues as they are."""
    return connect_bus(url, service=user, namespace=namespace, replicas=None, tails=())


async def list_dead_letters(
    url: str, *, namespace: str = DEFAULT_NAMESPACE, limit: int = 100, user: str = OPERATOR
) -> list[DeadLetter]:
    """The oldest dead letters on the broker at `url`, connecting as `user`."""
    async with _connected(_bus(url, user, namespace)) as bus:
        return await bus.dead_letters(limit)


async def replay_dead_letter(
    url: str, dead_letter_id: str, *, namespace: str = DEFAULT_NAMESPACE, user: str = OPERATOR
) -> None:
    """Publish a dead letter's event again and remove it (DeadLetterNotFound if absent)."""
    async with _connected(_bus(url, user, namespace)) as bus:
        await bus.replay(dead_letter_id)


async def replay_dead_letters(
    url: str,
    dead_letter_ids: Sequence[str],
    *,
    namespace: str = DEFAULT_NAMESPACE,
    on_replayed: Callable[[int], None] | None = None,
) -> dict[str, str]:
    """Replay each of `dead_letter_ids` on one connection; those that failed, with why.

    A letter that is gone (replayed by someone else meanwhile) or that cannot be
    replayed (`BusError`, e.g. its event has left the stream) is reported and the
    others go on; `on_replayed` is told how many have been tried so far.
    """
    failed: dict[str, str] = {}
    async with _connected(connect_bus(url, service=OPERATOR, namespace=namespace)) as bus:
        for done, dead_letter_id in enumerate(dead_letter_ids, 1):
            try:
                await bus.replay(dead_letter_id)
            except BusUnavailable:
                raise  # the broker is gone: none of the rest would do better
            except BusError as exc:  # DeadLetterNotFound is one
                failed[dead_letter_id] = str(exc) or type(exc).__name__
            if on_replayed is not None:
                on_replayed(done)
    return failed


async def delete_rabbit_namespace(url: str, namespace: str, consumers: Iterable[str]) -> None:
    """Delete a RabbitMQ namespace's exchanges and queues, `consumers`' queues included.

    For a system run in a namespace of its own (tests, benchmarks) once it stopped.
    """
    async with _connected(
        RabbitBus(url, service=OPERATOR, namespace=namespace, replicas=None)
    ) as bus:
        await bus.delete_namespace(consumers)

"""Operator helpers behind `mercato dead-letters list|replay`.

Each call opens its own short connection to the broker, does one thing and closes
it, so the CLI needs no running service.
"""

from __future__ import annotations

from mercato.chassis.events.bus import DEFAULT_NAMESPACE
from mercato.chassis.events.dead_letters import DeadLetter
from mercato.chassis.events.transports import connect_bus

__all__ = ["list_dead_letters", "replay_dead_letter"]


async def list_dead_letters(
    url: str, *, namespace: str = DEFAULT_NAMESPACE, limit: int = 100
) -> list[DeadLetter]:
    """The oldest dead letters on the broker at `url`."""
    bus = connect_bus(url, service="mercato-admin", namespace=namespace)
    await bus.connect()
    try:
        return await bus.dead_letters(limit)
    finally:
        await bus.close()


async def replay_dead_letter(
    url: str, dead_letter_id: str, *, namespace: str = DEFAULT_NAMESPACE
) -> None:
    """Publish a dead letter's event again and remove it (DeadLetterNotFound if absent)."""
    bus = connect_bus(url, service="mercato-admin", namespace=namespace)
    await bus.connect()
    try:
        await bus.replay(dead_letter_id)
    finally:
        await bus.close()

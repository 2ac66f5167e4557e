"""The dead letters, for administrators over HTTP: listed, read and replayed on the broker.

The events a consumer gave up on are kept by the broker (`chassis.events`: the NATS
dead-letter stream, RabbitMQ's dead-letter queue), not in the audit log's database.
The logs service, which consumes every event, serves them to administrators (the
operations console) through the same code as `mercato dead-letters`
(`chassis.events.admin`), connecting as `DEAD_LETTERS`: a broker user that may list
the dead letters and replay them, and nothing else an operator may. Its URL, with
that user's credentials, is `MERCATO_LOGS_DEAD_LETTERS_BROKER_URL` (`mercato up`
sets it); without it the API answers 503 saying so. Each call opens a short
connection of its own, bounded by `dead_letters_timeout_seconds`.

A replay publishes the dead letter's event again (on NATS to every consumer of its
type, each one's inbox keeping a second effect away; on RabbitMQ to the queue of the
consumer that failed it) and removes the dead letter. The broker's answer is the
replay's result; the consumer handles the event later, and if it fails again the
event comes back as a new dead letter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

from mercato.chassis.events import BusError, BusUnavailable, DeadLetter, DeadLetterNotFound, admin
from mercato.chassis.events.names import DEAD_LETTERS
from mercato.chassis.web.errors import Conflict, NotFound, ServiceUnavailable
from mercato.logs.settings import LogsSettings

__all__ = ["MAX_LISTED", "NOT_CONFIGURED", "find", "listed", "replay"]

T = TypeVar("T")
log = logging.getLogger("mercato.logs.dead_letters")
MAX_LISTED = 1000  # the most a list (and a search for one dead letter) reads
NOT_CONFIGURED = (
    "The dead letters are not available: this logs service has no broker credentials for "
    "them (MERCATO_LOGS_DEAD_LETTERS_BROKER_URL)."
)


async def _on_broker(settings: LogsSettings, call: Awaitable[T]) -> T:
    """`call`'s result within the deadline; 503 when the broker cannot be reached."""
    try:
        async with asyncio.timeout(settings.dead_letters_timeout_seconds):
            return await call
    except (BusUnavailable, OSError, TimeoutError) as exc:
        log.warning("dead letters: the broker did not answer: %r", exc)
        raise ServiceUnavailable(
            "The broker did not answer; retry in a moment.", headers={"Retry-After": "2"}
        ) from exc


def _url(settings: LogsSettings) -> str:
    if not settings.dead_letters_broker_url:
        raise ServiceUnavailable(NOT_CONFIGURED)
    return settings.dead_letters_broker_url


async def listed(settings: LogsSettings, *, limit: int) -> list[DeadLetter]:
    """The oldest dead letters, at most `limit`."""
    url = _url(settings)
    call = admin.list_dead_letters(
        url, namespace=settings.bus_namespace, limit=limit, user=DEAD_LETTERS
    )
    return await _on_broker(settings, call)


async def find(settings: LogsSettings, *, dead_letter_id: str) -> DeadLetter:
    """The dead letter `dead_letter_id` (404: none among the oldest `MAX_LISTED`)."""
    for letter in await listed(settings, limit=MAX_LISTED):
        if letter.id == dead_letter_id:
            return letter
    raise NotFound(f"No dead letter {dead_letter_id!r}: replayed already, or never one.")


async def replay(settings: LogsSettings, *, dead_letter_id: str) -> DeadLetter:
    """Publish the dead letter's event again and remove it; the dead letter replayed.

    404 when there is no such dead letter; 409 when the broker refuses to replay it
    (its event left the events stream, or it is not the event it names).
    """
    letter = await find(settings, dead_letter_id=dead_letter_id)
    call = admin.replay_dead_letter(
        _url(settings), dead_letter_id, namespace=settings.bus_namespace, user=DEAD_LETTERS
    )
    try:
        await _on_broker(settings, call)
    except DeadLetterNotFound as exc:  # replayed meanwhile by someone else
        raise NotFound(f"No dead letter {dead_letter_id!r}: replayed already.") from exc
    except BusError as exc:
        raise Conflict(f"Not replayed: {exc}") from exc
    log.info("dead letter %s replayed (%s for %s)", letter.id, letter.event_type, letter.consumer)
    return letter

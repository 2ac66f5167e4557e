"""Whether an event comes from where it says: defence in depth behind the broker's rights.

The broker lets each service publish only its own event types (see
`mercato.chassis.events.permissions`), but a consumer does not take that on trust: an
event whose envelope names another type than the subject (routing key) the broker
accepted it on, or whose `source` is not the service that owns its type
(`mercato.contracts.events.PRODUCERS`), is forged or misrouted. It is refused (the
durable consumers dead-letter it with the reason, a tail drops it with a log line)
and never handled. A type no service owns is not checked here: only the operator
may publish one.
"""

from __future__ import annotations

from mercato.chassis.events.envelope import Event
from mercato.contracts.events import producer_of

__all__ = ["forgery"]


def forgery(event: Event, *, published_as: str | None = None) -> str | None:
    """Why `event` cannot be genuine, or None; `published_as` is the type its subject names."""
    if published_as is not None and published_as != event.type:
        return (
            f"forged event {event.id}: published as {published_as!r} but claims to be"
            f" {event.type!r}"
        )
    producer = producer_of(event.type)
    if producer is not None and event.source != producer:
        return (
            f"forged event {event.id}: {event.type} claims source {event.source!r},"
            f" but only {producer!r} publishes it"
        )
    return None

"""Dead letters: events a consumer gave up on, and how they are recorded.

A dead letter is kept by the transport (NATS: one message in the dead-letter
stream) as one JSON record, the same for every transport:

    {"consumer", "event_type", "error", "attempts", "failed_at", "payload"}

where `payload` is the original message exactly as it was published, so that a
replay sends the very same bytes, even when they were not a valid event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from mercato.chassis.events.envelope import Event

__all__ = ["DeadLetter", "decode_dead_letter", "encode_dead_letter"]

MAX_ERROR_CHARS = 4000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event a consumer gave up on, kept for an operator to inspect and replay."""

    id: str
    consumer: str
    event_type: str
    error: str
    attempts: int
    failed_at: datetime
    payload: bytes

    @property
    def event(self) -> Event | None:
        """The original event, or None if its payload was not a valid event."""
        try:
            return Event.from_bytes(self.payload)
        except ValueError:
            return None


def encode_dead_letter(
    *, consumer: str, event_type: str, error: str, attempts: int, payload: bytes
) -> bytes:
    """The record of a dead letter, failed now."""
    record = {
        "consumer": consumer,
        "event_type": event_type,
        "error": error[:MAX_ERROR_CHARS],
        "attempts": attempts,
        "failed_at": datetime.now(UTC),
        "payload": payload.decode(errors="replace"),
    }
    return orjson.dumps(record, option=orjson.OPT_UTC_Z)


def decode_dead_letter(dead_letter_id: str, data: bytes) -> DeadLetter:
    """The DeadLetter stored as `data` under the transport's id `dead_letter_id`."""
    record = orjson.loads(data)
    return DeadLetter(
        id=dead_letter_id,
        consumer=str(record["consumer"]),
        event_type=str(record["event_type"]),
        error=str(record["error"]),
        attempts=int(record["attempts"]),
        failed_at=datetime.fromisoformat(str(record["failed_at"])),
        payload=str(record["payload"]).encode(),
    )

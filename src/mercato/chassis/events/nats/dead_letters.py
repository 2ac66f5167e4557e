"""Dead letters on NATS: the stream `<NAMESPACE>_DLQ`, written by consumers, read by the operator.

A consumer that gives up on a message publishes the record every transport uses
(`dead_letters.encode_dead_letter`) on `<namespace>.dlq.<consumer>.<event type>`,
with the message id `dlq.<consumer>.<sequence of the event in the events stream>`,
so that a repeated dead-lettering of one delivery is dropped. A consumer's broker
user may publish only under its own name and the types it consumes
(`bus_permissions`), but the record inside is its own word: `replay` publishes
again only what the events stream really holds at that sequence, on that event's
own subject, so that a dead letter cannot be used to slip a forged event to every
consumer through the operator. A dead letter whose event has left the events
stream (its retention) can no longer be replayed.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from nats.js.errors import NotFoundError

from mercato.chassis.events.bus import BusError, DeadLetterNotFound
from mercato.chassis.events.dead_letters import DeadLetter, decode_dead_letter, encode_dead_letter

if TYPE_CHECKING:
    from mercato.chassis.events.nats.bus import NatsBus

__all__ = ["MSG_ID", "oldest", "publish", "replay"]

log = logging.getLogger("mercato.events")
MSG_ID = "Nats-Msg-Id"


async def publish(
    bus: NatsBus,
    *,
    consumer: str,
    subject: str,
    payload: bytes,
    error: str,
    attempts: int,
    seq: int,
) -> None:
    """Keep a message `consumer` gave up on (event `seq` of the events stream)."""
    event_type = subject.removeprefix(bus.events_prefix)
    # Keyed by the main stream's sequence: a repeated dead-lettering of this very
    # delivery is dropped, while a replayed copy (a new sequence) can fail again.
    record = encode_dead_letter(
        consumer=consumer, event_type=event_type, error=error, attempts=attempts, payload=payload
    )
    ack = await bus.js.publish(
        f"{bus.dlq_prefix}{consumer}.{event_type}",
        record,
        headers={MSG_ID: f"dlq.{consumer}.{seq}"},
    )
    log.error(
        "dead-lettered %s for %s after %d attempt(s) as %s: %s",
        *(event_type, consumer, attempts, ack.seq, error),
    )


async def oldest(bus: NatsBus, limit: int) -> list[DeadLetter]:
    """The oldest dead letters, at most `limit`."""
    found: list[DeadLetter] = []
    seq = 1
    while len(found) < limit:
        try:
            raw = await bus.js.get_msg(bus.dlq_stream, seq, subject=bus.dlq_prefix + ">", next=True)
        except NotFoundError:
            break
        found.append(decode_dead_letter(str(raw.seq), raw.data or b""))
        seq = raw.seq + 1
    return found


async def replay(bus: NatsBus, dead_letter_id: str) -> None:
    """Publish the dead letter's event again (new message id), then drop the dead letter."""
    js = bus.js
    try:
        raw = await js.get_msg(bus.dlq_stream, int(dead_letter_id))
    except (ValueError, NotFoundError) as exc:
        raise DeadLetterNotFound(f"no dead letter {dead_letter_id!r}") from exc
    letter = decode_dead_letter(str(raw.seq), raw.data or b"")
    original = await _original(bus, dead_letter_id, raw.headers or {}, letter)
    event = letter.event
    # A new id: the original one may still be inside the de-duplication window.
    # The consumers' inboxes keep a second delivery from having a second effect.
    msg_id = f"{event.id if event else 'malformed'}.replay.{uuid.uuid4().hex}"
    await js.publish(original, letter.payload, headers={MSG_ID: msg_id})
    await js.delete_msg(bus.dlq_stream, raw.seq)
    log.info("replayed dead letter %s (%s for %s)", raw.seq, letter.event_type, letter.consumer)


async def _original(
    bus: NatsBus, dead_letter_id: str, headers: dict[str, str], letter: DeadLetter
) -> str:
    """The subject of the event a dead letter holds, as the events stream holds it."""
    refused = f"dead letter {dead_letter_id} is not replayed"
    _, _, seq = str(headers.get(MSG_ID, "")).rpartition(".")
    try:
        stored = await bus.js.get_msg(bus.stream, int(seq))
    except ValueError as exc:
        raise BusError(f"{refused}: it names no event of the stream") from exc
    except NotFoundError as exc:
        raise BusError(f"{refused}: its event has left the events stream") from exc
    if stored.data != letter.payload:
        raise BusError(f"{refused}: it does not hold event {seq} of the stream as published")
    return str(stored.subject)

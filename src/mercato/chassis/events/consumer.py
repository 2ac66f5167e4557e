"""Idempotent consumers: at-least-once delivery, exactly one effect.

For every event `IdempotentConsumer` opens a transaction, records the event in the
inbox under its own name and runs the handler with that same session; the commit
covers both. A redelivered event finds its inbox row and is skipped, so it has no
second effect; a handler that raises rolls the inbox row back with everything else,
so the event is retried. On PostgreSQL a replica handling the same event at the
same moment waits on the first one's inbox row and then skips.

Before the handler runs, `data` is validated against the event's contract schema
(`mercato.contracts.events`) when one is registered. An invalid event can never
succeed, so it goes to the dead letters at once instead of being retried. The
handler runs in the trace of the request that caused the event: with tracing on,
under a span of its own, a child of the span that wrote the event
(`chassis.telemetry.event_spans`).

Before anything else, an event whose `source` is not the service that owns its type
(`origin.forgery`) is refused: it goes to the dead letters with the reason and is
never handled, not even by a handler of every event (an audit log must not record a
forged event as genuine).

A handler registered under the type `">"` (`ALL_EVENTS`) takes every event that no
handler of its own type takes, as it is: it is not validated against a schema, so an
audit log records even an event that breaks its contract or has no schema at all.

A handler that fails because its database cannot be reached (a connection error,
`data.availability`, and the database does not answer a ping either: stopped,
restarting, its name not resolving) or because a service it calls is unavailable (a
503 problem) raises `DependencyUnavailable` to the bus instead: the event is retried
for as long as the outage lasts and never dead-lettered for it
(`failures.next_retry`). A connection error in the consumer's own claim of the event
(the inbox row, the first statement of its transaction) is the database's without
a ping: the ping tells a handler's other connections (a mail server's) from the
database's, and asked after a claim failed it could find the database just back,
which counted an outage's last attempt against the event (after an outage of
`max_deliver` attempts, a dead letter).

A consumer made with `batches=True` also offers the bus `handle_many`: the events of one
fetch (NATS) or that were waiting together (RabbitMQ) claimed and handled in one
transaction, acknowledged by the bus after its commit. Any failure in it (a handler
raising, a forgery, a broken contract) rolls the whole transaction back and raises, and
the bus then hands each event to `handle` alone, with its usual retries and dead
letters; so only a service whose handlers do nothing outside the transaction (the audit
log) should ask for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.availability import database_unavailable
from mercato.chassis.data.database import Database, insert_ignoring_conflicts
from mercato.chassis.events.bus import DependencyUnavailable, EventBus, PoisonEvent, Subscription
from mercato.chassis.events.envelope import Event
from mercato.chassis.events.origin import forgery
from mercato.chassis.events.tables import EventTables
from mercato.chassis.telemetry.event_metrics import ConsumerMetrics, Outcome
from mercato.chassis.telemetry.event_spans import EventSpans, handling
from mercato.chassis.web.errors import ServiceUnavailable
from mercato.contracts.events import validate

__all__ = ["ALL_EVENTS", "IdempotentConsumer", "SessionHandler"]

log = logging.getLogger("mercato.events.consumer")
SessionHandler = Callable[[AsyncSession, Event], Awaitable[None]]
ALL_EVENTS = ">"  # the handler type that matches every event type
PING_TIMEOUT = 5.0  # seconds: a database that takes longer to answer SELECT 1 is down


class IdempotentConsumer:
    """Runs a service's event handlers, each event once, inside a DB transaction."""

    def __init__(
        self,
        db: Database,
        tables: EventTables,
        name: str,
        handlers: Mapping[str, SessionHandler],
        *,
        max_deliver: int = 5,
        metrics: ConsumerMetrics | None = None,
        spans: EventSpans | None = None,
        batches: bool = False,
    ) -> None:
        self.db = db
        self.batches = batches
        self.metrics = metrics
        self.tables = tables
        self.name = name
        self.handlers = dict(handlers)
        self.max_deliver = max_deliver
        self.spans = spans
        self._subscription: Subscription | None = None
        self._insert_new = insert_ignoring_conflicts(tables.inbox, db.dialect)

    async def start(self, bus: EventBus) -> None:
        """Subscribe to the handlers' event types under this consumer's name."""
        if self._subscription is not None or not self.handlers:
            return
        self._subscription = await bus.subscribe(
            self.name,
            sorted(self.handlers),
            self.handle,
            max_deliver=self.max_deliver,
            batch_handler=self.handle_many if self.batches else None,
        )

    async def stop(self) -> None:
        """Stop taking events; the one being handled finishes first."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.stop()

    async def handle(self, event: Event) -> None:
        """Handle one delivery of `event`: check its origin, validate, record, run, commit."""
        with handling(self.spans, event, self.name):
            try:
                await self._handle(event)
            except (PoisonEvent, DependencyUnavailable):
                raise
            except Exception as exc:
                if isinstance(exc, ServiceUnavailable) or await self._database_down(exc):
                    raise self._unavailable(event, exc) from exc
                raise

    def _unavailable(self, event: Event, exc: Exception) -> DependencyUnavailable:
        return DependencyUnavailable(
            f"{self.name} could not handle {event.type} {event.id}: {type(exc).__name__}: {exc}"
        )

    async def _database_down(self, exc: Exception) -> bool:
        """Whether `exc` is a connection failure and the database does not answer now.

        The ping tells the database's outage from a handler's own connection error
        (a mail server's, say), which counts as an ordinary failure.
        """
        if not database_unavailable(exc):
            return False
        try:
            await asyncio.wait_for(self.db.ping(), PING_TIMEOUT)
        except Exception:
            return True
        return False

    async def handle_many(self, events: Sequence[Event]) -> None:
        """Handle `events` in one transaction, each once; raise when any of them fails.

        Nothing is committed unless every event was claimed and handled (see the
        module docstring): the bus then settles each event alone through `handle`.
        """
        started = time.perf_counter()
        outcomes: list[tuple[str, Outcome]] = []
        async with self.db.transaction() as session:
            for event in events:
                handler = self._handler_of(event)
                if handler is None:
                    continue
                with handling(self.spans, event, self.name):
                    if not await self._claim(session, event):
                        outcomes.append((event.type, Outcome.DUPLICATE))
                        continue
                    await handler(session, event)
                outcomes.append((event.type, Outcome.HANDLED))
        if self.metrics is not None and outcomes:
            each = (time.perf_counter() - started) / len(outcomes)  # their share of the batch
            for event_type, outcome in outcomes:
                self.metrics.handled(event_type, outcome, each)

    def _handler_of(self, event: Event) -> SessionHandler | None:
        """The handler that takes `event` (None: none); PoisonEvent for a forged or invalid one."""
        forged = forgery(event)
        if forged is not None:
            log.error("%s refuses %s", self.name, forged)
            raise PoisonEvent(forged)
        handler = self.handlers.get(event.type)
        if handler is None:
            handler = self.handlers.get(ALL_EVENTS)  # takes events as they are
            if handler is None:
                log.debug("%s has no handler for %s", self.name, event.type)
            return handler
        try:
            validate(event.type, event.version, event.data)
        except ValidationError as exc:
            raise PoisonEvent(
                f"{event.type} v{event.version} {event.id} breaks its contract: {exc}"
            ) from exc
        return handler

    async def _handle(self, event: Event) -> None:
        handler = self._handler_of(event)
        if handler is None:
            return
        outcome: Outcome | None = None  # a failure: the delivery counts how it ends
        started = time.perf_counter()
        try:
            async with self.db.transaction() as session:
                if not await self._claim(session, event):
                    log.debug("%s already handled %s %s", self.name, event.type, event.id)
                    outcome = Outcome.DUPLICATE
                    return
                await handler(session, event)
            outcome = Outcome.HANDLED
        finally:
            if self.metrics is not None:
                self.metrics.handled(event.type, outcome, time.perf_counter() - started)

    async def _claim(self, session: AsyncSession, event: Event) -> bool:
        """Insert the inbox row; False when this consumer has already handled the event.

        A connection error here is the consumer's database's (see the module's
        docstring): `DependencyUnavailable`.
        """
        try:
            return await self._insert_claim(session, event)
        except Exception as exc:
            if database_unavailable(exc):
                raise self._unavailable(event, exc) from exc
            raise

    async def _insert_claim(self, session: AsyncSession, event: Event) -> bool:
        values = {"event_id": event.id, "consumer": self.name, "handled_at": datetime.now(UTC)}
        if self._insert_new is None:  # a dialect without ON CONFLICT: look first
            inbox = self.tables.inbox
            seen = await session.scalar(
                select(inbox.c.event_id).where(
                    inbox.c.event_id == event.id, inbox.c.consumer == self.name
                )
            )
            if seen is not None:
                return False
            await session.execute(insert(inbox), values)
            return True
        result = await session.execute(self._insert_new, values)
        return bool(getattr(result, "rowcount", 1))

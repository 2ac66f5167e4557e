"""Handlers of the events the shipping service consumes: the order's confirmation,
cancellation and refunded return. Each runs in the consumer's transaction, with the
inbox row that keeps a redelivery from being handled twice."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.events import Event, Outbox, PoisonEvent
from mercato.chassis.runtime import Handler
from mercato.contracts.event_base import EventData
from mercato.contracts.events import OrderCancelled, OrderConfirmed, OrderReturned
from mercato.shipping import fulfilment, returns
from mercato.shipping.models import EVENTS

__all__ = ["HANDLERS", "on_order_cancelled", "on_order_confirmed", "on_order_returned"]

D = TypeVar("D", bound=EventData)
OUTBOX = Outbox(EVENTS, source="shipping")


def _parse(event: Event, schema: type[D]) -> D:
    if event.version != schema.VERSION:
        raise PoisonEvent(f"{event.type} v{event.version} is not understood by shipping")
    try:
        return schema.model_validate(event.data)
    except ValidationError as exc:
        raise PoisonEvent(f"{event.type} {event.id} breaks its contract: {exc}") from exc


async def on_order_confirmed(session: AsyncSession, event: Event) -> None:
    """Make the order's shipment (once, however often the order is confirmed)."""
    await fulfilment.create_for_order(session, OUTBOX, _parse(event, OrderConfirmed))


async def on_order_cancelled(session: AsyncSession, event: Event) -> None:
    """Cancel the order's shipments that have not left yet."""
    await fulfilment.cancel_for_order(session, _parse(event, OrderCancelled).order_id)


async def on_order_returned(session: AsyncSession, event: Event) -> None:
    """Orders refunded a received return: it is `refunded`."""
    await returns.mark_refunded(session, _parse(event, OrderReturned))


HANDLERS: dict[str, Handler] = {
    OrderConfirmed.TYPE: on_order_confirmed,
    OrderCancelled.TYPE: on_order_cancelled,
    OrderReturned.TYPE: on_order_returned,
}

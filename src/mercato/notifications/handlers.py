"""Handlers of the events the notifications service consumes, one per kind of mail.

`handlers(courier)` binds them to the service's courier (templates and SMTP), built
from the settings in `app.create_app`. Each handler runs in the chassis consumer's
transaction: an exception (SMTP down, recipient unknown) rolls back its inbox row,
so the chassis retries with backoff and dead-letters the event past its bound; a
`PoisonEvent` dead-letters it at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.events import Event, PoisonEvent
from mercato.chassis.runtime import Handler
from mercato.contracts.events import (
    OrderConfirmed,
    PaymentFailed,
    PaymentRefunded,
    UserRegistered,
)
from mercato.contracts.shipping_events import ShipmentDelivered, ShipmentShipped
from mercato.notifications import service
from mercato.notifications.kinds import EVENT_KINDS
from mercato.notifications.service import Courier

__all__ = ["CONSUMED", "handlers"]

_SCHEMAS: dict[str, type[BaseModel]] = {
    UserRegistered.TYPE: UserRegistered,
    OrderConfirmed.TYPE: OrderConfirmed,
    PaymentFailed.TYPE: PaymentFailed,
    PaymentRefunded.TYPE: PaymentRefunded,
    ShipmentShipped.TYPE: ShipmentShipped,
    ShipmentDelivered.TYPE: ShipmentDelivered,
}
CONSUMED: tuple[str, ...] = tuple(sorted(EVENT_KINDS))
log = logging.getLogger("mercato.notifications")


def _data(event: Event) -> BaseModel:
    if event.version != 1:
        raise PoisonEvent(f"{event.type} v{event.version} is not understood by notifications")
    try:
        return _SCHEMAS[event.type].model_validate(event.data)
    except ValidationError as exc:
        raise PoisonEvent(f"{event.type} {event.id} breaks its contract: {exc}") from exc


def _values(data: BaseModel) -> dict[str, Any]:
    """What the templates of the event's kind show (money as `total`: amount, currency)."""
    values = data.model_dump(mode="json")
    amount = values.pop("amount", None)  # payments name it `amount`, orders `total`
    if amount is not None:
        values["total"] = amount
    return values


async def on_event(courier: Courier, session: AsyncSession, event: Event) -> None:
    """Mail the event's user (after recording them, for `user.registered`)."""
    data = _data(event)
    if isinstance(data, UserRegistered):
        await service.register_recipient(
            session, user_id=data.user_id, email=data.email, name=data.name
        )
    age = (datetime.now(UTC) - event.occurred_at).total_seconds()
    if courier.max_event_age and age > courier.max_event_age:
        # Too late to be news (a new consumer reading the broker's history): no mail,
        # and no retries for a user it never heard of.
        log.info("no mail about %s %s: %.0f s old", event.type, event.id, age)
        return
    values = _values(data)
    await service.notify(
        session,
        courier,
        event_id=event.id,
        kind=EVENT_KINDS[event.type],
        user_id=str(values["user_id"]),  # every consumed contract names its user
        data=values,
    )


def handlers(courier: Courier) -> Mapping[str, Handler]:
    """Every consumed event type, handled with `courier`."""
    return {event_type: partial(on_event, courier) for event_type in CONSUMED}

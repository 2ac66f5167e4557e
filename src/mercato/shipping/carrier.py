"""The simulated carrier, for development: it moves shipments on by themselves.

With `simulated_carrier_seconds` > 0 (`mercato up` sets it), a background task moves
each shipment one step (pending, packed, shipped with a made-up tracking number,
delivered) once that many seconds have passed since its last move, publishing the
same events as an admin's moves. Off (0) by default: a real shop's shipments move
when its warehouse says so. Replicas may run it at once: a shipment that another
moved first fails its version check and is left to it.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm.exc import StaleDataError

from mercato.chassis.background import BackgroundTask
from mercato.chassis.data.database import Database
from mercato.chassis.events import Outbox
from mercato.chassis.runtime import Runtime
from mercato.shipping import fulfilment, store
from mercato.shipping.schemas import ShipIn
from mercato.shipping.settings import ShippingSettings
from mercato.shipping.states import ShipmentStatus

__all__ = ["CARRIER", "CARRIER_NAME", "ShippingRuntime", "carry", "run_carrier"]

log = logging.getLogger("mercato.shipping")
ShippingRuntime = Runtime[ShippingSettings, None]
CARRIER_NAME = "Simulated Post"
BATCH = 100
_NEXT = {
    ShipmentStatus.PENDING: ShipmentStatus.PACKED,
    ShipmentStatus.PACKED: ShipmentStatus.SHIPPED,
    ShipmentStatus.SHIPPED: ShipmentStatus.DELIVERED,
}


def _tracking() -> ShipIn:
    number = "SIM" + secrets.token_hex(6).upper()
    return ShipIn(
        carrier=CARRIER_NAME,
        tracking_number=number,
        tracking_url=f"https://tracking.example.com/{number}",
    )


async def run_carrier(
    db: Database, outbox: Outbox, *, delay_seconds: float, now: datetime | None = None
) -> int:
    """Move every shipment that waited `delay_seconds` one step on; how many moved."""
    before = (now or datetime.now(UTC)) - timedelta(seconds=delay_seconds)
    moved = 0
    async with db.session() as session:
        due = await store.due_shipments(session, statuses=list(_NEXT), before=before, limit=BATCH)
        ids = [shipment.id for shipment in due]
    for shipment_id in ids:
        async with db.session() as session:
            shipment = await store.get_shipment(session, shipment_id)
            target = _NEXT.get(ShipmentStatus(shipment.status)) if shipment else None
            if shipment is None or target is None:
                continue
            ship = _tracking() if target is ShipmentStatus.SHIPPED else None
            try:
                await fulfilment.advance(session, outbox, shipment, target, ship=ship)
                await session.commit()
            except StaleDataError:
                continue  # another replica, or an admin, moved it first
            moved += 1
    if moved:
        log.info("the simulated carrier moved %d shipments on", moved)
    return moved


async def carry(runtime: ShippingRuntime) -> None:
    """One round of the `shipping-carrier` task."""
    await run_carrier(
        runtime.database, runtime.outbox, delay_seconds=runtime.settings.simulated_carrier_seconds
    )


CARRIER: BackgroundTask[ShippingRuntime] = BackgroundTask(
    "shipping-carrier",
    carry,
    # A quarter of the delay, at most 5 s: a move is due at most that late.
    interval=lambda runtime: min(max(runtime.settings.simulated_carrier_seconds / 4, 0.5), 5.0),
    enabled=lambda runtime: runtime.settings.simulated_carrier_seconds > 0,
)

"""Stock reservations for checkout: reserve, commit, release, expire, and restock.

A reservation holds stock for one order, keyed by the order's id, so every call is
idempotent: reserving the same order again answers the reservation that exists,
committing a committed one or releasing a released one changes nothing. Its life:

    reserved ──commit──▶ committed ──release──▶ released (units back on hand)
        └──release / expiry──────────────────▶ released (units back to available)

Reserving is all or nothing: each line is one conditional update in one write
transaction, in the order of the product ids; if any line is short, the transaction
is rolled back and a 409 names every short line. Each change writes its events
(`inventory.*` and one `product.stock_changed` per product whose numbers changed) to
the outbox in the same transaction. A reservation past its `expires_at` counts as
released: the sweeper releases it with reason `expired`, and so does a commit that
comes too late (answered with 409) or a repeated reserve (answered with the released
reservation). Until then, reading it shows `reserved` with `expires_at` in the past.
A refused reservation (409, 422) stores nothing, so its order id can be tried again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import store as products
from mercato.catalog.inventory import store
from mercato.catalog.inventory.rules import (
    Line,
    Shortage,
    StockLevel,
    costs_too_much,
    is_expired,
    locking_order,
    merge_lines,
    out_of_stock,
    released_event,
    stock_changed_event,
    unknown_products,
)
from mercato.catalog.models import Product, Reservation, ReservationItem
from mercato.catalog.schemas import ReservationIn, reservation_body
from mercato.chassis.data.database import Database, begin_write
from mercato.chassis.events import Outbox
from mercato.chassis.web.errors import Conflict, NotFound, Unprocessable, field_error
from mercato.contracts.events import InventoryCommitted, InventoryReserved
from mercato.contracts.events import Line as EventLine
from mercato.contracts.events import Money as EventMoney
from mercato.contracts.money import lines_total
from mercato.contracts.quantities import MAX_STOCK

__all__ = [
    "commit",
    "expire",
    "get_reservation",
    "release",
    "reserve",
    "restock",
    "sweep",
]

EXPIRED = "expired"


def _now() -> datetime:
    return datetime.now(UTC)


async def _body(session: AsyncSession, reservation: Reservation) -> dict[str, Any]:
    items = await store.reservation_items(session, reservation.order_id)
    return reservation_body(reservation, items)


async def _stock_events(outbox: Outbox, session: AsyncSession, levels: list[StockLevel]) -> None:
    for level in levels:
        await outbox.add(session, stock_changed_event(level), subject=level.product_id)


async def _locked(session: AsyncSession, order_id: str) -> Reservation:
    reservation = await store.get_reservation(session, order_id, for_update=True)
    if reservation is None:
        raise NotFound(f"There is no reservation for order {order_id}.")
    return reservation


async def _give_back(
    session: AsyncSession, *, outbox: Outbox, reservation: Reservation, reason: str, now: datetime
) -> None:
    """Release a held or committed reservation inside the caller's transaction."""
    items = await store.reservation_items(session, reservation.order_id)
    levels: list[StockLevel] = []
    for item in sorted(items, key=lambda i: i.product_id):
        if reservation.status == "committed":
            level = await store.move_stock(session, item.product_id, on_hand=item.quantity)
        else:
            level = await store.move_stock(session, item.product_id, reserved=-item.quantity)
        if level is not None:  # a product deleted since its units left keeps no stock
            levels.append(level)
    reservation.status, reservation.reason, reservation.updated_at = "released", reason, now
    await session.flush()
    released = released_event(reservation.order_id, reason)
    await outbox.add(session, released, subject=reservation.order_id)
    await _stock_events(outbox, session, levels)


async def _hold(
    session: AsyncSession, lines: Sequence[Line]
) -> tuple[list[StockLevel], list[Shortage]]:
    levels: list[StockLevel] = []
    shortages: list[Shortage] = []
    for line in locking_order(lines):
        level = None
        # A product named several times may add up to more than any stock can be (and
        # than its column holds): that line is short without asking the database.
        if line.quantity <= MAX_STOCK:
            level = await store.move_stock(
                session, line.product_id, reserved=line.quantity, need=line.quantity
            )
        if level is None:
            shortages.append(Shortage(line, await store.available(session, line.product_id)))
        else:
            levels.append(level)
    return levels, shortages


def _currency(lines: Sequence[Line], products: dict[str, store.PricedProduct]) -> str:
    currencies = {products[line.product_id].currency for line in lines}
    if len(currencies) > 1:
        raise Unprocessable(
            "The products of one reservation must share a currency.",
            errors=[field_error("items", "mixed currencies")],
        )
    return currencies.pop()


async def reserve(
    session: AsyncSession,
    *,
    outbox: Outbox,
    reservation_in: ReservationIn,
    ttl_seconds: int,
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Hold every line or none; the reservation and whether it was created now."""
    now = now or _now()
    order_id = reservation_in.order_id
    lines = merge_lines(reservation_in.items)
    await begin_write(session)
    existing = await store.get_reservation(session, order_id, for_update=True)
    if existing is not None:
        if existing.status == "reserved" and is_expired(existing.expires_at, now):
            await _give_back(session, outbox=outbox, reservation=existing, reason=EXPIRED, now=now)
        body = await _body(session, existing)
        await session.commit()
        return body, False
    products = await store.priced_products(session, [line.product_id for line in lines])
    problem = unknown_products(lines, products)
    if problem is not None:
        raise problem
    currency = _currency(lines, products)
    total = lines_total((products[ln.product_id].price_amount, ln.quantity) for ln in lines)
    problem = costs_too_much(total)
    if problem is not None:
        raise problem
    ttl = reservation_in.ttl_seconds or ttl_seconds
    reservation = Reservation(
        order_id=order_id,
        status="reserved",
        total_amount=total,
        currency=currency,
        reason=None,
        expires_at=now + timedelta(seconds=ttl),
        created_at=now,
        updated_at=now,
    )
    session.add(reservation)
    try:
        await session.flush()  # a concurrent reservation of the same order waits here
    except IntegrityError:
        await session.rollback()
        return await get_reservation(session, order_id=order_id), False
    levels, shortages = await _hold(session, lines)
    if shortages:
        raise out_of_stock(shortages)
    items = [
        ReservationItem(
            order_id=order_id,
            product_id=line.product_id,
            line=number,
            quantity=line.quantity,
            unit_price_amount=products[line.product_id].price_amount,
        )
        for number, line in enumerate(lines)
    ]
    session.add_all(items)
    event = InventoryReserved(
        order_id=order_id,
        items=[
            EventLine(
                product_id=item.product_id,
                quantity=item.quantity,
                unit_price=EventMoney(amount=item.unit_price_amount, currency=currency),
            )
            for item in items
        ],
        expires_at=reservation.expires_at.isoformat(),
    )
    await outbox.add(session, event, subject=order_id)
    await _stock_events(outbox, session, levels)
    body = reservation_body(reservation, items)
    await session.commit()
    return body, True


async def get_reservation(session: AsyncSession, *, order_id: str) -> dict[str, Any]:
    """The reservation of an order; NotFound when there is none."""
    reservation = await store.get_reservation(session, order_id)
    if reservation is None:
        raise NotFound(f"There is no reservation for order {order_id}.")
    return await _body(session, reservation)


async def commit(
    session: AsyncSession, *, outbox: Outbox, order_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """Take the held units off the shelf; 409 once released or expired."""
    now = now or _now()
    await begin_write(session)
    reservation = await _locked(session, order_id)
    if reservation.status == "reserved" and is_expired(reservation.expires_at, now):
        await _give_back(session, outbox=outbox, reservation=reservation, reason=EXPIRED, now=now)
        await session.commit()
    if reservation.status == "released":
        raise Conflict(f"The reservation for order {order_id} was released ({reservation.reason}).")
    if reservation.status == "reserved":
        items = await store.reservation_items(session, order_id)
        levels: list[StockLevel] = []
        for item in sorted(items, key=lambda i: i.product_id):
            q = item.quantity
            level = await store.move_stock(session, item.product_id, on_hand=-q, reserved=-q)
            if level is not None:
                levels.append(level)
        reservation.status, reservation.updated_at = "committed", now
        await session.flush()
        await outbox.add(session, InventoryCommitted(order_id=order_id), subject=order_id)
        await _stock_events(outbox, session, levels)
    body = await _body(session, reservation)
    await session.commit()
    return body


async def release(
    session: AsyncSession,
    *,
    outbox: Outbox,
    order_id: str,
    reason: str = "requested",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Give the units back (to available, or on hand once committed); idempotent."""
    now = now or _now()
    await begin_write(session)
    reservation = await _locked(session, order_id)
    if reservation.status != "released":
        if reservation.status == "reserved" and is_expired(reservation.expires_at, now):
            reason = EXPIRED
        await _give_back(session, outbox=outbox, reservation=reservation, reason=reason, now=now)
    body = await _body(session, reservation)
    await session.commit()
    return body


async def expire(
    session: AsyncSession, *, outbox: Outbox, order_id: str, now: datetime | None = None
) -> bool:
    """Release the order's reservation if it is still held and has expired."""
    now = now or _now()
    await begin_write(session)
    reservation = await store.get_reservation(session, order_id, for_update=True)
    due = (
        reservation is not None
        and reservation.status == "reserved"
        and is_expired(reservation.expires_at, now)
    )
    if reservation is not None and due:
        await _give_back(session, outbox=outbox, reservation=reservation, reason=EXPIRED, now=now)
    await session.commit()
    return due


async def sweep(
    db: Database, *, outbox: Outbox, now: datetime | None = None, batch: int = 100
) -> int:
    """Release every expired reservation, each in its own transaction; how many."""
    now = now or _now()
    released = 0
    while True:
        async with db.session() as session:
            order_ids = await store.expired_order_ids(session, now=now, limit=batch)
        for order_id in order_ids:
            async with db.session() as session:
                released += await expire(session, outbox=outbox, order_id=order_id, now=now)
        if len(order_ids) < batch:
            return released


async def _product(session: AsyncSession, product_id: str) -> Product:
    """The product whose stock moves, from the catalog's store; NotFound otherwise."""
    product = await products.get_product(session, product_id)
    if product is None:
        raise NotFound(f"There is no product {product_id}.")
    return product


async def restock(
    session: AsyncSession,
    *,
    outbox: Outbox,
    product_id: str,
    delta: int,
    now: datetime | None = None,
) -> Product:
    """Add `delta` units on hand (negative to correct); 422 if below what is reserved."""
    now = now or _now()
    await begin_write(session)
    level = await store.adjust_on_hand(session, product_id, delta=delta, now=now)
    if level is None:
        product = await _product(session, product_id)
        raise Unprocessable(
            f"On hand would be {product.on_hand + delta}, but {product.reserved} are reserved.",
            errors=[
                field_error(
                    "delta",
                    "on hand may not go below reserved (nor above the maximum)",
                    on_hand=product.on_hand,
                    reserved=product.reserved,
                )
            ],
        )
    if delta != 0:
        await _stock_events(outbox, session, [level])
    await session.commit()
    return await _product(session, product_id)

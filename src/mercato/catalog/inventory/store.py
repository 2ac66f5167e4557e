"""Queries of the inventory: stock moves as atomic conditional updates, reservations.

Every stock change is one `UPDATE products SET ... WHERE id = :id [AND condition]
RETURNING ...`: the condition (enough available, or on hand not below reserved) is
checked by the database on the row it changes, so two concurrent writers can never
both take the last unit. On PostgreSQL the update locks the row until the
transaction ends (a writer that waited re-checks the condition on the newer row);
on SQLite the whole transaction holds the database's write lock (`begin_write`).
No row back means the condition failed, or the product does not exist. MySQL (and
MariaDB) has no `UPDATE ... RETURNING`: there the same update runs without it, and
the row it matched, locked by it until the transaction ends, is read back by id
(`_returned`); InnoDB, too, checks an update's condition on the newest committed row.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, CursorResult, Row, Table, Update, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog.inventory.rules import StockLevel
from mercato.catalog.models import Product, Reservation, ReservationItem
from mercato.contracts.quantities import MAX_STOCK

__all__ = [
    "PricedProduct",
    "adjust_on_hand",
    "available",
    "expired_order_ids",
    "get_reservation",
    "move_stock",
    "priced_products",
    "reservation_items",
]

_LEVEL = (Product.id, Product.sku, Product.on_hand, Product.reserved)

# The statements of a reservation are built once and take their values as
# parameters: built per call, each was coerced and hashed into a cache key every
# time. The stock update is a Core statement on the table: the ORM's bulk-update
# path added only bookkeeping to it.
_PRODUCTS = cast(Table, Product.__table__)
_PRICED = select(Product.id, Product.sku, Product.price_amount, Product.currency).where(
    Product.id.in_(bindparam("ids", expanding=True))
)
_MOVE = (
    update(_PRODUCTS)
    .where(_PRODUCTS.c.id == bindparam("w_id"))
    .values(
        on_hand=_PRODUCTS.c.on_hand + bindparam("d_on_hand"),
        reserved=_PRODUCTS.c.reserved + bindparam("d_reserved"),
    )
)
_MOVE_IF_AVAILABLE = _MOVE.where(_PRODUCTS.c.on_hand - _PRODUCTS.c.reserved >= bindparam("w_need"))
_RETURNED = (_PRODUCTS.c.id, _PRODUCTS.c.sku, _PRODUCTS.c.on_hand, _PRODUCTS.c.reserved)
_MOVE_STOCK = _MOVE.returning(*_RETURNED)
_MOVE_STOCK_IF_AVAILABLE = _MOVE_IF_AVAILABLE.returning(*_RETURNED)
_LEVEL_BY_ID = select(*_RETURNED).where(_PRODUCTS.c.id == bindparam("w_id"))
_RESERVATION = select(Reservation).where(Reservation.order_id == bindparam("order_id"))
_RESERVATION_FOR_UPDATE = _RESERVATION.with_for_update().execution_options(populate_existing=True)
_RESERVATION_ITEMS = (
    select(ReservationItem)
    .where(ReservationItem.order_id == bindparam("order_id"))
    .order_by(ReservationItem.line)
)


@dataclass(frozen=True, slots=True)
class PricedProduct:
    """What a reservation needs of a product: its SKU and price."""

    id: str
    sku: str
    price_amount: int
    currency: str


def _level(row: Row[str, str, int, int] | None) -> StockLevel | None:
    if row is None:
        return None
    return StockLevel(product_id=row[0], sku=row[1], on_hand=row[2], reserved=row[3])


async def priced_products(
    session: AsyncSession, product_ids: Collection[str]
) -> dict[str, PricedProduct]:
    """The existing products among `product_ids`, by id."""
    if not product_ids:
        return {}
    result = await session.execute(_PRICED, {"ids": list(product_ids)})
    return {row[0]: PricedProduct(*row) for row in result}


async def move_stock(
    session: AsyncSession,
    product_id: str,
    *,
    on_hand: int = 0,
    reserved: int = 0,
    need: int | None = None,
) -> StockLevel | None:
    """Add to on hand and reserved; with `need`, only if that many units are available."""
    params = {"w_id": product_id, "d_on_hand": on_hand, "d_reserved": reserved}
    if need is not None:
        params["w_need"] = need
    if session.get_bind().dialect.name == "mysql":
        move = _MOVE if need is None else _MOVE_IF_AVAILABLE
        return await _returned(session, move, params, product_id)
    result = await session.execute(
        _MOVE_STOCK if need is None else _MOVE_STOCK_IF_AVAILABLE, params
    )
    return _level(result.first())


async def _returned(
    session: AsyncSession, statement: Update, params: dict[str, Any], product_id: str
) -> StockLevel | None:
    """`statement`, an update of the product `product_id`, then its row as changed (MySQL).

    The connection reports the rows an update matched (SQLAlchemy's MySQL dialects set
    CLIENT_FOUND_ROWS), so 0 is a failed condition or no such product.
    """
    result = cast(CursorResult[Any], await session.execute(statement, params))
    if result.rowcount != 1:
        return None
    return _level((await session.execute(_LEVEL_BY_ID, {"w_id": product_id})).first())


async def adjust_on_hand(
    session: AsyncSession, product_id: str, *, delta: int, now: datetime
) -> StockLevel | None:
    """Add `delta` to on hand unless that would go below reserved (or past the maximum)."""
    # Compared as 64-bit numbers: the sum of two 32-bit columns' values may not fit in
    # one, and PostgreSQL raises on the overflow instead of refusing the row.
    after = Product.on_hand.cast(BigInteger) + delta
    adjust = (
        update(Product)
        .where(Product.id == product_id, after >= Product.reserved, after <= MAX_STOCK)
        .values(on_hand=Product.on_hand + delta, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if session.get_bind().dialect.name == "mysql":
        return await _returned(session, adjust, {}, product_id)
    result = await session.execute(adjust.returning(*_LEVEL))
    return _level(result.first())


async def available(session: AsyncSession, product_id: str) -> int:
    """The units of a product that can be reserved now (0 for an unknown product)."""
    result = await session.execute(
        select(Product.on_hand - Product.reserved).where(Product.id == product_id)
    )
    return int(result.scalar_one_or_none() or 0)


async def get_reservation(
    session: AsyncSession, order_id: str, *, for_update: bool = False
) -> Reservation | None:
    """The reservation of an order; `for_update` locks its row (PostgreSQL) and rereads it."""
    statement = _RESERVATION_FOR_UPDATE if for_update else _RESERVATION
    result = await session.execute(statement, {"order_id": order_id})
    return result.scalar_one_or_none()


async def reservation_items(session: AsyncSession, order_id: str) -> list[ReservationItem]:
    """The lines of a reservation in the order they were requested."""
    result = await session.execute(_RESERVATION_ITEMS, {"order_id": order_id})
    return list(result.scalars())


async def expired_order_ids(session: AsyncSession, *, now: datetime, limit: int) -> list[str]:
    """Up to `limit` orders whose reservation is still held but has expired, oldest first."""
    result = await session.execute(
        select(Reservation.order_id)
        .where(Reservation.status == "reserved", Reservation.expires_at <= now)
        .order_by(Reservation.expires_at)
        .limit(limit)
    )
    return list(result.scalars())

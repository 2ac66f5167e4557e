"""New products written in bulk: one multi-row insert for the rows, one for their events.

An import creates most of its products; writing each as an ORM entity flushed one
by one, with an event inserted per product, cost 0.6 ms a product (59 s for
100,000). `insert_products` writes a batch of new products as Core inserts executed
with many parameter sets (SQLAlchemy's executemany: `insertmanyvalues` batches on
PostgreSQL, the driver's executemany on SQLite), and their `product.created` events
through `Outbox.add_many` in the same transaction. SQLite's full-text index follows
by its triggers, PostgreSQL's search column is generated and its names' words
follow by a trigger a statement (migration 0011), so nothing else is written per
product; the caller counts the vocabulary's words once per batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Insert, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog.models import Product, ProductFields
from mercato.chassis.events import Outbox
from mercato.contracts.events import Money as EventMoney
from mercato.contracts.events import ProductCreated

__all__ = ["insert_products"]

_PRODUCTS = cast(Table, Product.__table__)
_INSERT = insert(_PRODUCTS)
# On SQLite, RETURNING makes SQLAlchemy send a batch as multi-row INSERTs
# (`insertmanyvalues`) instead of the driver's executemany of one-row statements.
# Each of those statements is a savepoint, and FTS5 flushes what its trigger indexed
# at every savepoint: one tiny segment per product to merge later. Measured on 30,000
# generated products, the rows with their indexes and full-text index: 7.3 s of CPU
# one row a statement, 2.2 s a batch a statement (docs/performance.md).
_INSERT_MANY_ROWS = _INSERT.returning(_PRODUCTS.c.pk)


def _insert_for(session: AsyncSession) -> Insert:
    return _INSERT_MANY_ROWS if session.get_bind().dialect.name == "sqlite" else _INSERT


async def insert_products(
    session: AsyncSession, *, outbox: Outbox, products: Sequence[ProductFields], now: datetime
) -> dict[str, str]:
    """Insert `products` (none exists) with their events; the new ids by SKU."""
    if not products:
        return {}
    rows: list[dict[str, Any]] = []
    events: list[tuple[ProductCreated, str]] = []
    for fields in products:
        product_id = str(uuid.uuid4())
        rows.append(
            {**fields, "id": product_id, "reserved": 0, "created_at": now, "updated_at": now}
        )
        data = ProductCreated(
            product_id=product_id,
            sku=fields["sku"],
            title=fields["title"],
            price=EventMoney(amount=fields["price_amount"], currency=fields["currency"]),
            stock=fields["on_hand"],
            category=fields["category"],
        )
        events.append((data, product_id))
    await session.execute(_insert_for(session), rows)
    await outbox.add_many(session, events)
    return {row["sku"]: row["id"] for row in rows}

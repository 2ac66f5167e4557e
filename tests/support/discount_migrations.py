"""Orders' migration 0005 (shipping and discounts) checked with rows in the database.

`check_orders_discounts_migration` migrates orders from 0004 with an order in it, then
checks that the schema is the models' and that the order's subtotal is its total, with
no shipping and no discount; then that a code and its use can be stored, and that the
migration goes down again. It runs on SQLite (`tests/service`) and on PostgreSQL and
MariaDB (`tests/integration`).
"""

from __future__ import annotations

from sqlalchemy import text

from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from mercato.orders.app import SPEC as ORDERS
from mercato.orders.models import Discount, DiscountRedemption, Order, OrdersBase
from tests.support.migrations import NOW, ORDER_ROW, differences, to_revision

__all__ = ["check_orders_discounts_migration"]


async def check_orders_discounts_migration(url: str) -> None:
    """Migrate orders from 0004 with an order in it; assert what 0005 made of it."""
    database = Database(url)
    assert ORDERS.migrations is not None
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(to_revision("orders", ORDERS.migrations, "0004"))
            row = {"id": "o-1", "key": "k-1", "status": "confirmed", "at": NOW}
            await connection.execute(text(ORDER_ROW), row)
        await upgrade(database, ORDERS.migrations, "orders")
        async with database.engine.connect() as connection:
            assert await connection.run_sync(differences("orders", OrdersBase.metadata)) == []
        async with database.session() as session:
            order = await session.get(Order, "o-1")
            assert order is not None
            assert (order.subtotal_amount, order.total_amount) == (100, 100)
            assert (order.shipping_amount, order.discount_amount) == (0, 0)
            assert order.shipping_method is None and order.discount_code is None
            session.add(
                Discount(
                    id="d-1",
                    code="SPRING10",
                    kind="percent",
                    value=10,
                    currency=None,
                    min_order=0,
                    categories=["tea"],
                    active=True,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
            await session.flush()
            session.add(
                DiscountRedemption(
                    discount_id="d-1",
                    order_id="o-1",
                    user_id="u1",
                    amount=10,
                    currency="USD",
                    created_at=NOW,
                )
            )
            await session.commit()
            stored = await session.get(Discount, "d-1")
            assert stored is not None and stored.categories == ["tea"]
        async with database.engine.begin() as connection:
            await connection.run_sync(to_revision("orders", ORDERS.migrations, "0004", down=True))
        async with database.engine.connect() as connection:
            totals = await connection.execute(text("SELECT id, total_amount FROM orders"))
            assert [tuple(row) for row in totals] == [("o-1", 100)]
    finally:
        await database.dispose()

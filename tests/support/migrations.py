"""A service's database at its first revision, its schema against its models, and data kept.

`to_revision`, `to_first_revision` and `differences` make functions of a synchronous
connection, for `AsyncConnection.run_sync`. `check_orders_migration` and
`check_payments_migration` migrate orders and payments from 0001 with rows in them and
check what 0002 made of them; `check_orders_key_migration` migrates orders from 0002
and checks what 0003 made of its rows. They run on SQLite
(`tests/service/test_commerce_migrations.py`) and on PostgreSQL
(`tests/integration/test_commerce_limits_postgres.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from mercato.chassis.web.idempotency import MAX_KEY_LENGTH
from mercato.orders.app import SPEC as ORDERS
from mercato.orders.models import Order, OrdersBase
from mercato.payments.app import SPEC as PAYMENTS
from mercato.payments.models import PaymentsBase

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def to_revision(
    service: str, location: Path, revision: str, *, down: bool = False
) -> Callable[[Connection], None]:
    """A function migrating a connection's database to `service`'s `revision` (down to it)."""

    def run(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(location))
        config.attributes["connection"] = connection
        config.attributes["version_table"] = f"alembic_version_{service}"
        (command.downgrade if down else command.upgrade)(config, revision)

    return run


def to_first_revision(service: str, location: Path) -> Callable[[Connection], None]:
    """A function migrating a connection's database to `service`'s revision 0001."""
    return to_revision(service, location, "0001")


def differences(service: str, metadata: MetaData) -> Callable[[Connection], list[Any]]:
    """A function listing how a connection's schema differs from `metadata`."""

    def run(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"version_table": f"alembic_version_{service}"}
        )
        return list(compare_metadata(context, metadata))

    return run


ORDER_ROW = (
    "INSERT INTO orders (id, user_id, status, items, total_amount, currency, "
    "payment_method_id, shipping_address, idempotency_key, fingerprint, charge_unresolved, "
    "attempts, created_at, updated_at) VALUES (:id, 'u1', :status, '[]', 100, 'USD', 'pm', "
    "'{}', :key, 'f', false, 0, :at, :at)"
)
HISTORY_ROW = "INSERT INTO order_history (order_id, status, at) VALUES (:id, :status, :at)"
CART_LINE = (
    "INSERT INTO cart_lines (user_id, product_id, quantity, added_at, updated_at) "
    "VALUES (:user, :product, 1, :at, :at)"
)
METHOD_ROW = (
    "INSERT INTO payment_methods (id, user_id, brand, last4, exp_month, exp_year, "
    "provider_token, created_at) VALUES (:id, :user, 'visa', '4242', 12, 2030, 't', :at)"
)


async def check_orders_migration(url: str) -> None:
    """Migrate orders from 0001 with rows in it; assert what 0002 made of them."""
    database = Database(url)
    assert ORDERS.migrations is not None
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(to_first_revision("orders", ORDERS.migrations))
            for order_id, status in (("o-charging", "charging"), ("o-confirmed", "confirmed")):
                await connection.execute(
                    text(ORDER_ROW), {"id": order_id, "key": order_id, "status": status, "at": NOW}
                )
            for user, product in (("u1", "p1"), ("u1", "p2"), ("u2", "p1")):
                await connection.execute(
                    text(CART_LINE), {"user": user, "product": product, "at": NOW}
                )
        before = datetime.now(UTC)
        await upgrade(database, ORDERS.migrations, "orders")
        async with database.engine.connect() as connection:
            assert await connection.run_sync(differences("orders", OrdersBase.metadata)) == []
        async with database.session() as session:
            driven = await session.get(Order, "o-charging")
            settled = await session.get(Order, "o-confirmed")
            carts = (await session.execute(text("SELECT user_id FROM carts"))).scalars().all()
        assert driven is not None and driven.deadline is not None
        assert before + timedelta(minutes=9) < driven.deadline < before + timedelta(minutes=11)
        assert driven.retry_at is None
        assert settled is not None and settled.deadline is None
        assert sorted(carts) == ["u1", "u2"]
    finally:
        await database.dispose()


async def check_orders_key_migration(url: str) -> None:
    """Migrate orders from 0002 with orders and their history in it; assert that 0003
    widened the key to `MAX_KEY_LENGTH` and kept every order, its history and the
    key's uniqueness per user."""
    database = Database(url)
    assert ORDERS.migrations is not None
    at_most_before = "k" * 200
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(to_revision("orders", ORDERS.migrations, "0002"))
            for order_id, key in (("o-1", at_most_before), ("o-2", "key-2")):
                row = {"id": order_id, "key": key, "status": "confirmed", "at": NOW}
                await connection.execute(text(ORDER_ROW), row)
                for status in ("pending", "confirmed"):
                    history = {"id": order_id, "status": status, "at": NOW}
                    await connection.execute(text(HISTORY_ROW), history)
        await upgrade(database, ORDERS.migrations, "orders")
        async with database.engine.connect() as connection:
            assert await connection.run_sync(differences("orders", OrdersBase.metadata)) == []
        longest = "k" * MAX_KEY_LENGTH
        async with database.engine.begin() as connection:
            row = {"id": "o-3", "key": longest, "status": "pending", "at": NOW}
            await connection.execute(text(ORDER_ROW), row)
        async with database.engine.connect() as connection:
            keys = await connection.execute(text("SELECT id, idempotency_key FROM orders"))
            assert sorted(tuple(row) for row in keys) == [
                ("o-1", at_most_before),
                ("o-2", "key-2"),
                ("o-3", longest),
            ]
            histories = await connection.execute(
                text("SELECT order_id, status FROM order_history ORDER BY id")
            )
            assert [tuple(row) for row in histories] == [
                ("o-1", "pending"),
                ("o-1", "confirmed"),
                ("o-2", "pending"),
                ("o-2", "confirmed"),
            ]
        with pytest.raises(IntegrityError):  # the key is still unique per user
            async with database.engine.begin() as connection:
                row = {"id": "o-4", "key": longest, "status": "pending", "at": NOW}
                await connection.execute(text(ORDER_ROW), row)
        with pytest.raises(IntegrityError):  # and foreign keys are enforced again
            async with database.engine.begin() as connection:
                orphan = {"id": "no-such-order", "status": "pending", "at": NOW}
                await connection.execute(text(HISTORY_ROW), orphan)
    finally:
        await database.dispose()


async def check_payments_migration(url: str) -> None:
    """Migrate payments from 0001 with saved cards; assert each user's count."""
    database = Database(url)
    assert PAYMENTS.migrations is not None
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(to_first_revision("payments", PAYMENTS.migrations))
            for n, user in enumerate(("u1", "u1", "u1", "u2")):
                await connection.execute(text(METHOD_ROW), {"id": f"m{n}", "user": user, "at": NOW})
        await upgrade(database, PAYMENTS.migrations, "payments")
        async with database.engine.connect() as connection:
            assert await connection.run_sync(differences("payments", PaymentsBase.metadata)) == []
            rows = await connection.execute(
                text("SELECT user_id, methods FROM payment_method_counts ORDER BY user_id")
            )
            assert [tuple(row) for row in rows] == [("u1", 3), ("u2", 1)]
    finally:
        await database.dispose()

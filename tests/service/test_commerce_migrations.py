"""The orders and payments migrations: the schema the models declare, and data kept.

From 0001 with rows in it: orders the saga still drives get a deadline, carts with
lines get their owner row, and each user's saved cards are counted (0002). From 0002:
orders' idempotency keys take 255 characters, and every order keeps its history
(0003). The checks are in `tests.support.migrations`; they run on PostgreSQL too, in
`tests/integration/test_commerce_limits_postgres.py`.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.migrations import (
    check_orders_key_migration,
    check_orders_migration,
    check_payments_migration,
)


async def test_orders_0002_gives_driven_orders_a_deadline_and_carts_an_owner(
    tmp_path: Path,
) -> None:
    await check_orders_migration(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}")


async def test_payments_0002_counts_each_users_saved_cards(tmp_path: Path) -> None:
    await check_payments_migration(f"sqlite+aiosqlite:///{tmp_path / 'payments.db'}")


async def test_orders_0003_takes_longer_keys_and_keeps_the_history(tmp_path: Path) -> None:
    await check_orders_key_migration(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}")

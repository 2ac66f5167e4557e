"""Orders' migration 0005 on SQLite: shipping and discount columns, codes and their uses."""

from __future__ import annotations

from pathlib import Path

from tests.support.discount_migrations import check_orders_discounts_migration


async def test_orders_0005_adds_shipping_and_discounts_and_goes_down_again(
    tmp_path: Path,
) -> None:
    await check_orders_discounts_migration(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}")

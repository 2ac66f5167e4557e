"""Integration tests on real PostgreSQL and MariaDB: a code's last use goes to one checkout.

Checkout records a code's use in the transaction that inserts the order, after
locking the code's row (`SELECT ... FOR UPDATE`) and counting its live uses. Without
the lock, concurrent checkouts each count the uses as they were and all pass. Each
test fires concurrent checkouts of different customers through the real orders app
(catalog and payments real too) on a database of its own, and counts what is stored.
Skipped without a server, failed instead under MERCATO_REQUIRE_SERVERS=1. The
migration that added the tables (0005) is checked on both servers too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mercato.orders.models import DiscountRedemption, Order
from tests.support.discount_migrations import check_orders_discounts_migration
from tests.support.discounts import checkout_with, new_discount, uses
from tests.support.orders import open_shop
from tests.support.servers import DATABASES, fresh_database
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration

RACERS = 6


@pytest.fixture(params=DATABASES)
def server(request: pytest.FixtureRequest) -> str:
    """The database server each test runs on: PostgreSQL, then MariaDB."""
    return str(request.param)


async def test_a_code_with_one_use_left_serves_one_of_concurrent_checkouts(
    server: str, tmp_path: Path, tokens: TokenFactory
) -> None:
    async with (
        fresh_database(server, "orders") as url,
        open_shop(
            tmp_path,
            tokens,
            database_url=url,
            catalog_timeout_seconds=10.0,
            payments_timeout_seconds=10.0,
            checkout_timeout_seconds=15.0,
        ) as shop,
    ):
        discount = await new_discount(shop, max_uses=2)
        code = discount["code"]
        early = shop.customer()
        await shop.fill_cart(early, await shop.product(stock=50), 1)
        first = await checkout_with(shop, early, await shop.card(early), discount_code=code)
        assert first.status_code == 201, first.text  # one use left now

        product = await shop.product(stock=50, amount=1000)
        racers = []
        for _ in range(RACERS):
            user = shop.customer()
            await shop.fill_cart(user, product, 1)
            racers.append((user, await shop.card(user)))
        answers = await asyncio.gather(
            *(checkout_with(shop, user, card, discount_code=code) for user, card in racers)
        )

        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [201] + [422] * (RACERS - 1), [a.text for a in answers]
        won = next(answer.json() for answer in answers if answer.status_code == 201)
        assert won["discount"] == {"amount": 100, "currency": "USD"}
        refused = [answer.json() for answer in answers if answer.status_code == 422]
        assert all(problem["errors"][0]["field"] == "discount_code" for problem in refused)
        assert all("used up" in problem["detail"] for problem in refused)
        assert await uses(shop, discount["id"]) == 2
        runtime = shop.orders_app.state.runtime
        async with runtime.database.session() as session:
            stored = await session.scalar(
                select(func.count())
                .select_from(DiscountRedemption)
                .where(DiscountRedemption.discount_id == discount["id"])
            )
            orders = await session.scalar(
                select(func.count()).select_from(Order).where(Order.discount_code == code)
            )
        assert stored == orders == 2


async def test_the_migration_adds_shipping_and_discounts_to_existing_orders(
    server: str,
) -> None:
    async with fresh_database(server, "orders") as url:
        await check_orders_discounts_migration(url)

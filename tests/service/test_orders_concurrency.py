"""Service test: 50 concurrent checkouts for the last 10 units, through orders' HTTP API.

Real catalog (two instances on one database, as replicas) and payments apps under
uvicorn, orders in-process; every checkout is a `POST /api/orders` and they all run
at once. Run on SQLite, and on the real PostgreSQL and MariaDB (a fresh database per service;
skipped when the server is absent unless MERCATO_REQUIRE_SERVERS=1). Exactly the
stock on hand is sold, the rest is out of stock, and payments holds a successful
charge for each confirmed order and for nothing else.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mercato.payments.models import Payment
from tests.support.orders import Shop, open_shop
from tests.support.servers import fresh_database
from tests.support.tokens import TokenFactory

UNITS = 10
CUSTOMERS = 50
SETTLE_TIMEOUT = 30.0  # a saga still running when its POST answered has this long to end


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.integration),
        pytest.param("mariadb", marks=pytest.mark.integration),
    ],
)
async def databases(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, str]]:
    """Each service's database URL: empty for SQLite files, else a fresh server database."""
    if request.param == "sqlite":
        yield {"catalog": "", "payments": "", "orders": ""}
        return
    async with AsyncExitStack() as stack:
        urls = {
            name: await stack.enter_async_context(
                fresh_database(request.param, f"orders_race_{name}")
            )
            for name in ("catalog", "payments", "orders")
        }
        yield urls


async def checkout_and_settle(shop: Shop, user: dict[str, str], card: str) -> dict[str, Any]:
    """One customer's checkout, then its order once the saga has ended."""
    response = await shop.checkout(user, card)
    assert response.status_code == 201, response.text
    return await shop.settled(user, response.json()["id"], timeout=SETTLE_TIMEOUT)


async def test_fifty_concurrent_checkouts_for_ten_units_sell_exactly_ten(
    tmp_path: Path, tokens: TokenFactory, databases: dict[str, str]
) -> None:
    async with open_shop(
        tmp_path,
        tokens,
        catalog={"database_url": databases["catalog"]},
        payments={"database_url": databases["payments"]},
        catalog_replicas=2,
        database_url=databases["orders"],
        checkout_timeout_seconds=20.0,
        catalog_timeout_seconds=10.0,
        payments_timeout_seconds=10.0,
    ) as shop:
        tea = await shop.product(stock=UNITS)
        customers = []
        for _ in range(CUSTOMERS):
            user = shop.customer()
            card = await shop.card(user)
            await shop.fill_cart(user, tea, 1)
            customers.append((user, card))

        orders = await asyncio.gather(*(checkout_and_settle(shop, u, c) for u, c in customers))

        assert len({order["id"] for order in orders}) == CUSTOMERS
        statuses = Counter(order["status"] for order in orders)
        assert statuses == {"confirmed": UNITS, "out_of_stock": CUSTOMERS - UNITS}, statuses
        product = (
            await shop.catalog.get(f"/api/catalog/products/{tea}", headers=shop.admin)
        ).json()
        assert (product["stock"], product["on_hand"], product["reserved"]) == (0, 0, 0)

        confirmed = {o["id"]: o["payment_id"] for o in orders if o["status"] == "confirmed"}
        runtime = shop.payments_server.app.state.runtime
        async with runtime.database.session() as session:
            charges = (await session.scalars(select(Payment))).all()
        assert {c.order_id: c.id for c in charges} == confirmed
        assert {c.status for c in charges} == {"succeeded"}
        assert all(c.refunded_amount == 0 for c in charges)

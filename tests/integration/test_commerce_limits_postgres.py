"""Integration tests on real PostgreSQL and MariaDB: per-user limits hold under concurrency.

A limit checked by counting rows and then inserting one lets concurrent requests all
pass the count: PostgreSQL runs each in its own transaction, and a count does not see
the others' rows until they commit. Each test fires more concurrent requests than the
limit allows, for one user, through the service's real HTTP app on a database of its
own (`mercato_test_<service>_<random>`, dropped afterwards), and counts what is
stored. Skipped without a server, failed instead under
MERCATO_REQUIRE_SERVERS=1.

- saved cards (payments, 20 a user): a count, then the provider's token, then the
  insert; now a slot is taken on the user's counter row (`take_method_slot`).
- a cart's lines (orders, 50 products): now the cart's owner row is locked first.
- the migrations that added the counter and owner rows fill them from the data
  already there (and give driven orders their deadline); the one that let orders'
  idempotency keys be 255 characters long, as payments' are, keeps every row.
- addresses (users, 10 a profile): never a count-then-insert. A PATCH replaces the
  whole list (at most 10 by its schema) and the profile's version column refuses a
  write based on a stale read (409), so the limit held already; the test confirms it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mercato.orders.cart import MAX_LINES
from mercato.orders.models import CartLine
from mercato.payments.app import create_app as create_payments
from mercato.payments.models import Method
from mercato.payments.service import MAX_METHODS
from mercato.payments.settings import load_settings as payments_settings
from mercato.users.app import create_app as create_users
from mercato.users.schemas import MAX_ADDRESSES
from mercato.users.settings import load_settings as users_settings
from tests.support.apps import running
from tests.support.migrations import (
    check_orders_key_migration,
    check_orders_migration,
    check_payments_migration,
)
from tests.support.orders import open_shop
from tests.support.servers import DATABASES, fresh_database
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration


@pytest.fixture(params=DATABASES)
def server(request: pytest.FixtureRequest) -> str:
    """The database server each test runs on: PostgreSQL, then MariaDB."""
    return str(request.param)


BEYOND = 8  # how many more requests than the limit leaves room for
CARD = {"card_number": "4242 4242 4242 4242", "exp_month": 12, "cvc": "123"}
ADDRESS: dict[str, Any] = {"name": "Ann Example", "line1": "Main St 1", "city": "Berlin"}


@pytest.fixture
async def payments(
    server: str, tokens: TokenFactory
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The payments service on a database of its own, and its client."""
    async with fresh_database(server, "payments") as url:
        app = create_payments(payments_settings(database_url=url, broker_url=""))
        async with running(app, tokens) as client:
            yield app, client


@pytest.fixture
async def users(server: str, tokens: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The users service on a database of its own."""
    async with fresh_database(server, "users") as url:
        app = create_users(users_settings(database_url=url, broker_url=""))
        async with running(app, tokens) as client:
            yield client


async def test_concurrent_card_saves_stop_at_the_limit(
    payments: tuple[FastAPI, httpx.AsyncClient], tokens: TokenFactory
) -> None:
    app, client = payments
    user_id = str(uuid.uuid4())
    user = tokens.headers(user_id, ["customer"])
    card = {**CARD, "exp_year": datetime.now(UTC).year + 2}
    saved_first = MAX_METHODS - 4
    for _ in range(saved_first):
        response = await client.post("/api/payments/methods", json=card, headers=user)
        assert response.status_code == 201, response.text

    racing = [
        client.post("/api/payments/methods", json=card, headers=user) for _ in range(4 + BEYOND)
    ]
    answers = await asyncio.gather(*racing)

    assert sorted(a.status_code for a in answers) == [201] * 4 + [409] * BEYOND
    listed = (await client.get("/api/payments/methods", headers=user)).json()["items"]
    assert len(listed) == MAX_METHODS
    async with app.state.runtime.database.session() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Method).where(Method.user_id == user_id)
        )
    assert stored == MAX_METHODS
    # A deleted card gives its slot back.
    gone = await client.delete(f"/api/payments/methods/{listed[0]['id']}", headers=user)
    assert gone.status_code == 204
    again = await client.post("/api/payments/methods", json=card, headers=user)
    assert again.status_code == 201, again.text
    assert (await client.post("/api/payments/methods", json=card, headers=user)).status_code == 409


async def test_concurrent_address_changes_never_pass_the_limit(
    users: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    user = tokens.headers(str(uuid.uuid4()), ["customer"], email="ann@example.com", name="Ann")
    first = [{**ADDRESS, "country": "DE", "label": f"a{n}"} for n in range(MAX_ADDRESSES - 1)]
    response = await users.patch("/api/users/me", json={"addresses": first}, headers=user)
    assert response.status_code == 200, response.text
    kept = response.json()["addresses"]

    # Every client read the same nine addresses and adds one of its own.
    def one_more(n: int) -> dict[str, Any]:
        mine = {**ADDRESS, "country": "FR", "label": f"new{n}"}
        return {"addresses": [*kept, mine]}

    answers = await asyncio.gather(
        *(users.patch("/api/users/me", json=one_more(n), headers=user) for n in range(BEYOND))
    )

    assert {a.status_code for a in answers} <= {200, 409}
    assert 200 in {a.status_code for a in answers}
    stored = (await users.get("/api/users/me", headers=user)).json()["addresses"]
    assert len(stored) == MAX_ADDRESSES
    assert [a["label"] for a in stored][: MAX_ADDRESSES - 1] == [f"a{n}" for n in range(9)]


async def test_concurrent_cart_additions_stop_at_the_limit(
    server: str, tmp_path: Path, tokens: TokenFactory
) -> None:
    async with (
        fresh_database(server, "orders") as url,
        open_shop(tmp_path, tokens, database_url=url, catalog_timeout_seconds=10.0) as shop,
    ):
        user_id = str(uuid.uuid4())
        user = shop.tokens.headers(user_id, ["customer"])
        answers = await shop.race_to_the_cart_limit(user, room=4, beyond=BEYOND)
        assert sorted(a.status_code for a in answers) == [200] * 4 + [422] * BEYOND
        full = [a.json() for a in answers if a.status_code == 422]
        assert all(e["errors"][0]["message"] == "the cart is full" for e in full)
        runtime = shop.orders_app.state.runtime
        async with runtime.database.session() as session:
            stored = await session.scalar(
                select(func.count()).select_from(CartLine).where(CartLine.user_id == user_id)
            )
        assert stored == MAX_LINES


async def test_the_0002_migrations_keep_the_data(server: str) -> None:
    async with fresh_database(server, "orders") as url:
        await check_orders_migration(url)
    async with fresh_database(server, "payments") as url:
        await check_payments_migration(url)


async def test_the_0003_migration_takes_longer_keys(server: str) -> None:
    async with fresh_database(server, "orders") as url:
        await check_orders_key_migration(url)

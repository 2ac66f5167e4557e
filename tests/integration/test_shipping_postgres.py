"""The shipping service on real PostgreSQL and MariaDB: migrations, seeded rates, the
shipment and return flows, and what two replicas racing on one row leave.

The service tests run on SQLite, whose writers queue on one lock; here two replicas
(two apps on one database) move one shipment and claim one order's last returnable
unit at once, which the row versions and the `FOR UPDATE` of the order's shipments
must keep to one winner. Each test has a database of its own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from mercato.shipping.app import SPEC
from mercato.shipping.models import ShippingBase
from tests.support.apps import running
from tests.support.servers import DATABASES, fresh_database
from tests.support.shipping import API, confirmed, deliver, outbox, shipping_app
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration
SHIP = {"carrier": "UPS", "tracking_number": "1Z1"}


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    async with fresh_database(request.param, "shipping") as url:
        yield url


async def test_migrations_match_the_models(database_url: str) -> None:
    assert SPEC.migrations is not None
    db = Database(database_url)
    try:
        await upgrade(db, SPEC.migrations, "shipping")

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(
                connection, opts={"version_table": "alembic_version_shipping"}
            )
            return list(compare_metadata(context, ShippingBase.metadata))

        async with db.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await db.dispose()


async def _shipment(client: httpx.AsyncClient, admin: dict[str, str], order_id: str) -> str:
    listed = await client.get(f"{API}/shipments", params={"order_id": order_id}, headers=admin)
    [shipment] = listed.json()["items"]
    shipment_id: str = shipment["id"]
    return shipment_id


async def test_quotes_shipments_and_returns(
    tmp_path: Path, database_url: str, tokens: TokenFactory
) -> None:
    app = shipping_app(tmp_path, database_url=database_url)
    admin = tokens.headers("root", ["admin"])
    async with running(app, tokens) as client:
        quotes = await client.get(
            f"{API}/quotes", params={"country": "DE", "currency": "EUR", "weight_grams": 800}
        )
        assert [(q["method"], q["price"]["amount"]) for q in quotes.json()["items"]] == [
            ("standard", 499),
            ("express", 1299),
        ]
        event = confirmed("ann", {"p1": 2})
        await deliver(app, event)
        await deliver(app, event)  # a redelivery: still one shipment
        order_id = event.data["order_id"]
        url = f"{API}/shipments/{await _shipment(client, admin, order_id)}"
        for move, body in (("pack", None), ("ship", SHIP), ("deliver", None)):
            assert (await client.post(f"{url}/{move}", json=body, headers=admin)).is_success
        ask = {"order_id": order_id, "items": [{"product_id": "p1", "quantity": 2}], "reason": "x"}
        made = await client.post(f"{API}/returns", json=ask, headers=tokens.headers("ann"))
        assert made.status_code == 201, made.text
        ret = f"{API}/returns/{made.json()['id']}"
        assert (await client.post(f"{ret}/accept", headers=admin)).is_success
        assert (await client.post(f"{ret}/receive", headers=admin)).is_success
        [received] = await outbox(app, "return.received")
        assert received["whole_order"] is True
        kinds = ["shipment.created", "shipment.shipped", "shipment.delivered", "return.requested"]
        assert [len(await outbox(app, kind)) for kind in kinds] == [1, 1, 1, 1]


async def test_replicas_racing_leave_one_winner(
    tmp_path: Path, database_url: str, tokens: TokenFactory
) -> None:
    one_app = shipping_app(tmp_path / "one", database_url=database_url)
    two_app = shipping_app(tmp_path / "two", database_url=database_url)
    admin = tokens.headers("root", ["admin"])
    async with running(one_app, tokens) as one, running(two_app, tokens) as two:
        event = confirmed("ann", {"p1": 1})
        await deliver(one_app, event)
        order_id = event.data["order_id"]
        url = f"{API}/shipments/{await _shipment(one, admin, order_id)}"
        packs = await asyncio.gather(
            *(c.post(f"{url}/pack", headers=admin) for c in (one, two, one, two))
        )
        assert sorted(p.status_code for p in packs) == [200, 409, 409, 409]
        assert (await two.post(f"{url}/ship", json=SHIP, headers=admin)).is_success
        assert (await one.post(f"{url}/deliver", headers=admin)).is_success
        assert len(await outbox(one_app, "shipment.delivered")) == 1
        ask = {"order_id": order_id, "items": [{"product_id": "p1", "quantity": 1}], "reason": "x"}
        ann = tokens.headers("ann")
        claims = await asyncio.gather(
            *(c.post(f"{API}/returns", json=ask, headers=ann) for c in (one, two, one, two))
        )
        assert sorted(c.status_code for c in claims) == [201, 409, 409, 409]

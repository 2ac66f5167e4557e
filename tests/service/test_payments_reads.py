"""Service tests of reading payments (own, paged; admins and services any) and the schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from mercato.payments.models import PaymentsBase
from tests.support.payments import API, Shop, started
from tests.support.tokens import TokenFactory


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    """The payments service with the simulated provider."""
    async with started(tmp_path, tokens) as shop:
        yield shop


async def test_customers_page_through_their_own_payments(shop: Shop) -> None:
    user_id, headers = shop.customer()
    method_id = await shop.add_card(headers)
    made = [(await shop.charge(shop.charge_body(user_id, method_id, n))).json() for n in (1, 2, 3)]
    await shop.paid()  # someone else's
    first = await shop.client.get(API, params={"limit": 2}, headers=headers)
    assert first.status_code == 200
    page = first.json()
    assert [p["id"] for p in page["items"]] == [made[2]["id"], made[1]["id"]]
    second = await shop.client.get(
        API, params={"limit": 2, "cursor": page["next_cursor"]}, headers=headers
    )
    assert [p["id"] for p in second.json()["items"]] == [made[0]["id"]]
    assert second.json()["next_cursor"] is None
    own = await shop.client.get(API, params={"user_id": user_id}, headers=headers)
    assert len(own.json()["items"]) == 3


async def test_someone_elses_payment_is_not_found(shop: Shop) -> None:
    payment = await shop.paid()
    url = f"{API}/{payment['id']}"
    _, stranger = shop.customer()
    assert (await shop.client.get(url, headers=stranger)).status_code == 404
    assert (await shop.client.get(f"{API}/nope", headers=stranger)).status_code == 404
    for headers in (shop.admin(), shop.service, shop.customer(payment["user_id"])[1]):
        response = await shop.client.get(url, headers=headers)
        assert response.status_code == 200 and response.json() == payment
    assert (await shop.client.get(url)).status_code == 401
    assert (await shop.client.get(API)).status_code == 401


async def test_admins_list_anyones_payments(shop: Shop) -> None:
    payment = await shop.paid()
    admin = shop.admin()
    assert (await shop.client.get(API, headers=admin)).json()["items"] == []  # their own
    theirs = await shop.client.get(API, params={"user_id": payment["user_id"]}, headers=admin)
    assert [p["id"] for p in theirs.json()["items"]] == [payment["id"]]
    _, stranger = shop.customer()
    denied = await shop.client.get(API, params={"user_id": payment["user_id"]}, headers=stranger)
    assert denied.status_code == 403


async def test_bad_paging_names_the_field(shop: Shop) -> None:
    _, headers = shop.customer()
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"cursor": "!!"}, "cursor"),
    ):
        response = await shop.client.get(API, params=params, headers=headers)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["field"] == field


async def test_the_migrated_schema_matches_the_models(shop: Shop) -> None:
    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"version_table": "alembic_version_payments"}
        )
        return list(compare_metadata(context, PaymentsBase.metadata))

    async with shop.app.state.runtime.database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_the_openapi_document_lists_every_route(shop: Shop) -> None:
    document = (await shop.client.get(f"{API}/openapi.json")).json()
    assert set(document["paths"]) == {
        API,
        f"{API}/charges",
        f"{API}/methods",
        f"{API}/methods/{{method_id}}",
        f"{API}/{{payment_id}}",
        f"{API}/{{payment_id}}/refunds",
    }
    assert (await shop.client.get("/health/ready")).status_code == 200


async def test_the_document_requires_an_idempotency_key_to_charge_and_refund(shop: Shop) -> None:
    """Required (a missing key is a 400), and stated once per operation."""
    paths = (await shop.client.get(f"{API}/openapi.json")).json()["paths"]
    for operation in (
        paths[f"{API}/charges"]["post"],
        paths[f"{API}/{{payment_id}}/refunds"]["post"],
    ):
        keys = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert [(k["in"], k["required"]) for k in keys] == [("header", True)]

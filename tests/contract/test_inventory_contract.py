"""Contract tests between the catalog (provider) and orders (consumer): products, reservations.

Orders looks a cart's products up and reserves, commits and releases stock with the
models of `mercato.contracts.products` and `mercato.contracts.inventory`. The
catalog's OpenAPI document states those very models for its routes, and its real
answers parse into them, holding no field they do not name.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mercato.catalog.app import create_app
from mercato.catalog.settings import load_settings
from mercato.contracts.inventory import (
    MAX_TTL_SECONDS,
    ReleaseIn,
    ReservationIn,
    ReservationItemIn,
    ReservationItemOut,
    ReservationOut,
)
from mercato.contracts.products import Money, ProductOut, ProductPage, ProductSearchPage
from tests.support.catalog_inventory import API, RESERVATIONS, make_product, service_headers
from tests.support.contracts import answer_schema, body_schema, documented, ref
from tests.support.tokens import TokenFactory


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """The catalog on SQLite in tmp_path, without a broker."""
    return create_app(load_settings(data_dir=tmp_path, broker_url=""))


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    """The catalog's OpenAPI document, as it serves it."""
    response = await client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def tea(client: httpx.AsyncClient, tokens: TokenFactory) -> AsyncIterator[str]:
    """A product with 5 units at 4.50 USD: its id."""
    admin = tokens.headers(str(uuid.uuid4()), ["admin"])
    yield await make_product(client, admin, sku="TEA", stock=5, amount=450)


def test_the_request_orders_sends_is_the_one_it_always_sent() -> None:
    request = ReservationIn(
        order_id="o-1", items=[ReservationItemIn(product_id="p", quantity=2)], ttl_seconds=900
    )
    assert request.model_dump(mode="json", exclude_unset=True) == {
        "order_id": "o-1",
        "items": [{"product_id": "p", "quantity": 2}],
        "ttl_seconds": 900,
    }


async def test_the_document_states_the_contract_models(document: dict[str, Any]) -> None:
    reservations, one = RESERVATIONS, f"{RESERVATIONS}/{{order_id}}"
    # The listing's answer is a page as orders reads it, with what facets=true adds.
    assert issubclass(ProductSearchPage, ProductPage)
    assert answer_schema(document, "get", f"{API}/products", 200) == ref(ProductSearchPage)
    assert body_schema(document, "post", reservations) == ref(ReservationIn)
    for status in (200, 201):
        assert answer_schema(document, "post", reservations, status) == ref(ReservationOut)
    assert answer_schema(document, "post", f"{one}/commit", 200) == ref(ReservationOut)
    assert answer_schema(document, "post", f"{one}/release", 200) == ref(ReservationOut)
    assert body_schema(document, "post", f"{one}/release")["anyOf"][0] == ref(ReleaseIn)
    components = document["components"]["schemas"]
    stated = {
        **documented(ProductSearchPage, "serialization"),
        **documented(ReservationOut, "serialization"),
        **documented(ReservationIn, "validation"),
        **documented(ReleaseIn, "validation"),
    }
    assert {"ProductOut", "Money", "ReservationItemIn", "ReservationItemOut"} <= set(stated)
    for name, schema in stated.items():
        assert components[name] == schema, name


async def test_a_product_lookup_parses_as_orders_reads_it(
    client: httpx.AsyncClient, tea: str
) -> None:
    response = await client.get(f"{API}/products", params={"ids": tea, "limit": 1})
    assert response.status_code == 200
    page = ProductPage.model_validate_json(response.content)
    [product] = page.items
    assert (product.id, product.title, product.stock) == (tea, "Item TEA", 5)
    assert product.price == Money(amount=450, currency="USD")
    assert set(response.json()["items"][0]) <= set(ProductOut.model_fields)


async def test_a_reservation_parses_as_orders_reads_it(
    client: httpx.AsyncClient, tokens: TokenFactory, tea: str
) -> None:
    service = service_headers(tokens)
    order_id = str(uuid.uuid4())
    request = ReservationIn(
        order_id=order_id,
        items=[ReservationItemIn(product_id=tea, quantity=2)],
        ttl_seconds=MAX_TTL_SECONDS,
    )
    body = request.model_dump(mode="json", exclude_unset=True)
    reserved = await client.post(RESERVATIONS, json=body, headers=service)
    assert reserved.status_code == 201, reserved.text
    held = ReservationOut.model_validate_json(reserved.content)
    assert set(reserved.json()) == set(ReservationOut.model_fields)
    assert (held.order_id, held.status, held.total) == (
        order_id,
        "reserved",
        Money(amount=900, currency="USD"),
    )
    unit_price = Money(amount=450, currency="USD")
    assert held.items == [ReservationItemOut(product_id=tea, quantity=2, unit_price=unit_price)]
    again = await client.post(RESERVATIONS, json=body, headers=service)
    assert again.status_code == 200
    assert ReservationOut.model_validate_json(again.content) == held

    committed = await client.post(f"{RESERVATIONS}/{order_id}/commit", headers=service)
    assert ReservationOut.model_validate_json(committed.content).status == "committed"
    released = await client.post(f"{RESERVATIONS}/{order_id}/release", headers=service)
    assert ReservationOut.model_validate_json(released.content).status == "released"

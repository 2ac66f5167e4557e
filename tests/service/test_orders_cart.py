"""Service tests of the cart: quantities here, prices live from the real catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mercato.orders.cart import MAX_LINES
from tests.support.orders import CART, Shop, open_shop, served
from tests.support.tokens import TokenFactory


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    """Catalog and payments servers, and the orders app in-process."""
    async with open_shop(tmp_path, tokens) as shop:
        yield shop


def fields(response: httpx.Response) -> list[str]:
    """The fields a problem+json validation error names."""
    assert response.headers["content-type"] == "application/problem+json"
    return [error["field"] for error in response.json()["errors"]]


async def test_add_change_remove_and_view(shop: Shop) -> None:
    user = shop.customer()
    tea = await shop.product(amount=1250, title="Tea", stock=5)
    cup = await shop.product(amount=300, title="Cup", stock=5)
    assert (await shop.orders.get(CART, headers=user)).json() == {
        "items": [],
        "total": {"amount": 0, "currency": "USD"},
        # Added with discount codes: the total before the code's part, and no code.
        "subtotal": {"amount": 0, "currency": "USD"},
        "discount": None,
        "discount_code": None,
        "discount_problem": None,
    }
    response = await shop.orders.put(f"{CART}/items/{tea}", json={"quantity": 2}, headers=user)
    assert response.status_code == 200, response.text
    await shop.fill_cart(user, cup, 1)
    await shop.fill_cart(user, tea, 3)
    cart = (await shop.orders.get(CART, headers=user)).json()
    assert [(i["product_id"], i["quantity"], i["title"]) for i in cart["items"]] == [
        (tea, 3, "Tea"),
        (cup, 1, "Cup"),
    ]
    assert cart["items"][0]["unit_price"] == {"amount": 1250, "currency": "USD"}
    assert cart["items"][0]["line_total"] == {"amount": 3750, "currency": "USD"}
    assert cart["total"] == {"amount": 4050, "currency": "USD"}
    response = await shop.orders.delete(f"{CART}/items/{tea}", headers=user)
    assert response.status_code == 200
    assert response.json()["total"] == {"amount": 300, "currency": "USD"}
    assert (await shop.orders.delete(CART, headers=user)).status_code == 204
    assert (await shop.orders.get(CART, headers=user)).json()["items"] == []


async def test_adding_an_item_asks_the_catalog_once(shop: Shop) -> None:
    # The products the addition checked also price the cart it answers.
    user = shop.customer()
    tea = await shop.product(amount=1250, title="Tea", stock=5)
    cup = await shop.product(amount=300, title="Cup", stock=5)
    await shop.fill_cart(user, cup, 1)
    [catalog] = shop.catalog_servers
    before = served(catalog.app, "GET")
    response = await shop.orders.put(f"{CART}/items/{tea}", json={"quantity": 2}, headers=user)
    assert response.status_code == 200, response.text
    assert served(catalog.app, "GET") == before + 1
    assert response.json()["total"] == {"amount": 2800, "currency": "USD"}
    assert [item["title"] for item in response.json()["items"]] == ["Cup", "Tea"]


async def test_the_answer_to_a_change_is_the_cart_as_stored(shop: Shop) -> None:
    # The answer is priced from the lines the change wrote, not read again: it must
    # still be what a read of the cart gives, a new line last, a changed one in place.
    user = shop.customer()
    tea = await shop.product(amount=1250, title="Tea", stock=9)
    cup = await shop.product(amount=300, title="Cup", stock=9)
    pot = await shop.product(amount=2000, title="Pot", stock=9)
    for product_id, quantity in ((tea, 1), (cup, 2), (tea, 4), (pot, 1), (cup, 3)):
        path = f"{CART}/items/{product_id}"
        answered = await shop.orders.put(path, json={"quantity": quantity}, headers=user)
        assert answered.status_code == 200, answered.text
        assert answered.json() == (await shop.orders.get(CART, headers=user)).json()
    items = (await shop.orders.get(CART, headers=user)).json()["items"]
    assert [(i["product_id"], i["quantity"]) for i in items] == [(tea, 4), (cup, 3), (pot, 1)]


async def test_concurrent_additions_stop_at_the_limit_on_sqlite(shop: Shop) -> None:
    # SQLite takes no row lock on the cart: its `BEGIN IMMEDIATE` serialises the
    # additions, each counting the lines the one before it committed.
    user = shop.customer()
    answers = await shop.race_to_the_cart_limit(user, room=2, beyond=3)
    assert sorted(a.status_code for a in answers) == [200] * 2 + [422] * 3
    for answer in answers:
        if answer.status_code == 422:
            assert answer.json()["errors"][0]["message"] == "the cart is full"
    stored = (await shop.orders.get(CART, headers=user)).json()["items"]
    assert len(stored) == MAX_LINES
    assert max(len(a.json()["items"]) for a in answers if a.status_code == 200) == MAX_LINES


async def test_cart_uses_current_prices(shop: Shop) -> None:
    user = shop.customer()
    tea = await shop.product(amount=1000)
    await shop.fill_cart(user, tea, 2)
    patch = {"price": {"amount": 1500, "currency": "USD"}}
    changed = await shop.catalog.patch(
        f"/api/catalog/products/{tea}", json=patch, headers=shop.admin
    )
    assert changed.status_code == 200, changed.text
    assert (await shop.orders.get(CART, headers=user)).json()["total"]["amount"] == 3000


async def test_carts_are_per_user(shop: Shop) -> None:
    ann, bob = shop.customer(), shop.customer()
    tea = await shop.product()
    await shop.fill_cart(ann, tea, 1)
    assert (await shop.orders.get(CART, headers=bob)).json()["items"] == []


@pytest.mark.parametrize("quantity", [0, -1, 11])
async def test_bad_quantities_name_the_item(shop: Shop, quantity: int) -> None:
    user = shop.customer()
    tea = await shop.product(stock=10)
    response = await shop.orders.put(
        f"{CART}/items/{tea}", json={"quantity": quantity}, headers=user
    )
    assert response.status_code == 422
    assert fields(response) == [f"items.{tea}.quantity"]


async def test_the_document_states_the_least_quantity(shop: Shop) -> None:
    """0 is refused by the cart (with its own message), and the document says so."""
    document = (await shop.orders.get("/api/orders/openapi.json")).json()
    quantity = document["components"]["schemas"]["QuantityIn"]["properties"]["quantity"]
    assert quantity["minimum"] == 1


async def test_unknown_product_is_422(shop: Shop) -> None:
    user = shop.customer()
    response = await shop.orders.put(f"{CART}/items/nope", json={"quantity": 1}, headers=user)
    assert response.status_code == 422
    assert fields(response) == ["items.nope.product_id"]


async def test_cart_needs_a_token(shop: Shop) -> None:
    assert (await shop.orders.get(CART)).status_code == 401


async def test_catalog_down_is_503(tmp_path: Path, tokens: TokenFactory) -> None:
    async with open_shop(tmp_path, tokens, catalog_url="http://127.0.0.1:9") as shop:
        user = shop.customer()
        response = await shop.orders.put(f"{CART}/items/x", json={"quantity": 1}, headers=user)
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"

"""Service tests of the one-currency cart, and of orders that fail for their real reason.

A cart holds one currency: a product priced in another is refused (422 naming it,
the cart unchanged), a line whose price later moves to another currency is left out
of the total and refused at checkout. An order whose price moved to another
currency after it was placed ends `rejected` with that reason, never `out_of_stock`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.orders import CART, ORDERS, Shop, open_shop, orders_context
from tests.support.tokens import TokenFactory


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    """Catalog and payments servers, and the orders app in-process."""
    async with open_shop(tmp_path, tokens) as shop:
        yield shop


async def put(shop: Shop, user: dict[str, str], product_id: str, quantity: int = 1) -> Any:
    """PUT a cart line; the response."""
    return await shop.orders.put(
        f"{CART}/items/{product_id}", json={"quantity": quantity}, headers=user
    )


async def test_a_product_in_another_currency_is_refused_and_the_cart_kept(shop: Shop) -> None:
    user = shop.customer()
    tea = await shop.product(amount=10000, currency="USD")
    sencha = await shop.product(amount=100, currency="JPY", title="Sencha")
    assert (await put(shop, user, tea)).status_code == 200

    response = await put(shop, user, sencha)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert "one currency" in problem["detail"] and "JPY" in problem["detail"]
    [error] = problem["errors"]
    assert error["field"] == f"items.{sencha}.product_id"
    assert error["type"] == "currency_mismatch"
    assert error["message"] == "priced in JPY, but the cart holds USD"
    cart = (await shop.orders.get(CART, headers=user)).json()
    assert [line["product_id"] for line in cart["items"]] == [tea]
    assert cart["total"] == {"amount": 10000, "currency": "USD"}

    other = shop.customer()  # an empty cart takes any currency: it becomes a yen cart
    assert (await put(shop, other, sencha, 3)).status_code == 200
    cart = (await shop.orders.get(CART, headers=other)).json()
    assert cart["total"] == {"amount": 300, "currency": "JPY"}


async def test_a_price_that_moves_to_another_currency_is_left_out_and_refused_at_checkout(
    shop: Shop,
) -> None:
    user = shop.customer()
    tea = await shop.product(amount=10000)
    cake = await shop.product(amount=250, title="Cake")
    await shop.fill_cart(user, tea, 1)
    await shop.fill_cart(user, cake, 2)
    await shop.reprice(cake, 100, "JPY")

    cart = (await shop.orders.get(CART, headers=user)).json()
    assert cart["total"] == {"amount": 10000, "currency": "USD"}  # never 10,200 of anything
    flagged = {line["product_id"]: line["currency_mismatch"] for line in cart["items"]}
    assert flagged == {tea: False, cake: True}

    checkout = await shop.checkout(user, await shop.card(user))
    assert checkout.status_code == 422, checkout.text
    [error] = checkout.json()["errors"]
    assert (error["field"], error["type"]) == (f"items.{cake}.product_id", "currency_mismatch")
    kept = (await shop.orders.get(CART, headers=user)).json()
    assert len(kept["items"]) == 2
    assert (await shop.orders.get(ORDERS, headers=user)).json()["items"] == []


async def test_a_price_moved_to_another_currency_after_placing_rejects_the_order(
    shop: Shop,
) -> None:
    placed = await shop.place_only(quantity=2, key="moved")
    await shop.reprice(placed.product_id, 100, "JPY")
    runner = orders_context(shop.orders_app.state.runtime).runner

    await runner.drive(placed.order_id, placed.owner)

    order = (await shop.orders.get(f"{ORDERS}/{placed.order_id}", headers=placed.user)).json()
    assert order["status"] == "rejected", order
    assert order["reason"].startswith("currency mismatch: the order was placed in USD")
    assert "JPY" in order["reason"]
    assert await shop.stock(placed.product_id) == 5  # reserved, then given back
    assert order["payment_id"] is None
    assert (await shop.events(placed.order_id))[-1] == "order.failed"
    refused = await shop.orders.post(f"{ORDERS}/{placed.order_id}/cancel", headers=placed.user)
    assert refused.status_code == 409  # settled: nothing to cancel


async def test_lines_the_catalog_cannot_price_together_are_rejected_not_out_of_stock(
    shop: Shop,
) -> None:
    cake = await shop.product(stock=5, amount=250, title="Cake")
    placed = await shop.place_only(quantity=1, key="two", also=[cake])
    await shop.reprice(cake, 100, "JPY")  # the catalog now prices the two in two currencies
    runner = orders_context(shop.orders_app.state.runtime).runner

    await runner.drive(placed.order_id, placed.owner)

    order = (await shop.orders.get(f"{ORDERS}/{placed.order_id}", headers=placed.user)).json()
    assert order["status"] == "rejected", order  # it used to say out_of_stock
    assert "currency" in order["reason"]
    assert await shop.stock(placed.product_id) == 5 and await shop.stock(cake) == 5

"""Service tests of free orders and of quantities beyond any stock.

A product priced 0 can be bought: an order whose total is 0 has nothing to charge,
so the saga skips the charge (saying so in the history) and confirms; cancelling
it refunds nothing. A quantity beyond any stock, however large, is a 422 naming
`quantity`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mercato.contracts.quantities import MAX_STOCK
from tests.support.orders import CART, ORDERS, Shop, open_shop
from tests.support.tokens import TokenFactory


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    """Catalog and payments servers, and the orders app in-process."""
    async with open_shop(tmp_path, tokens) as shop:
        yield shop


async def test_a_free_order_skips_the_charge_and_confirms(shop: Shop) -> None:
    user = shop.customer()
    sample = await shop.product(stock=3, amount=0, title="Sample")
    await shop.fill_cart(user, sample, 2)

    order = (await shop.checkout(user, await shop.card(user))).json()

    assert order["status"] == "confirmed", order
    assert order["total"] == {"amount": 0, "currency": "USD"}
    assert order["payment_id"] is None
    paid = [h for h in order["history"] if h["status"] == "paid"]
    assert [h["reason"] for h in paid] == ["nothing to charge: the order's total is 0"]
    assert await shop.stock(sample) == 1
    assert (await shop.payments.get("/api/payments", headers=user)).json()["items"] == []
    assert await shop.events(order["id"]) == ["order.placed", "order.confirmed"]

    cancelled = await shop.orders.post(f"{ORDERS}/{order['id']}/cancel", headers=user)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert await shop.stock(sample) == 3


async def test_a_free_line_beside_a_paid_one_is_charged_as_usual(shop: Shop) -> None:
    user = shop.customer()
    sample = await shop.product(amount=0, title="Sample")
    tea = await shop.product(amount=450)
    await shop.fill_cart(user, sample, 1)
    await shop.fill_cart(user, tea, 2)
    order = (await shop.checkout(user, await shop.card(user))).json()
    assert order["status"] == "confirmed", order
    assert order["total"]["amount"] == 900 and order["payment_id"]


@pytest.mark.parametrize("quantity", [10**20, -(10**20), 2**64 - 1, MAX_STOCK + 1])
async def test_a_quantity_beyond_any_stock_is_a_422_naming_quantity(
    shop: Shop, quantity: int
) -> None:
    user = shop.customer()
    tea = await shop.product()
    response = await shop.orders.put(
        f"{CART}/items/{tea}", json={"quantity": quantity}, headers=user
    )
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["quantity"]
    assert (await shop.orders.get(CART, headers=user)).json()["items"] == []

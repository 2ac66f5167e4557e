"""Service tests of discount codes on the cart and at checkout, against real catalog/payments."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mercato.orders import service
from mercato.orders.models import DiscountRedemption
from mercato.orders.schemas import CheckoutIn
from tests.support.discounts import (
    CART_DISCOUNT,
    DISCOUNTS,
    category,
    checkout_with,
    new_discount,
    outbox_data,
    product_in,
    uses,
)
from tests.support.orders import (
    ADDRESS,
    CARD_DECLINED,
    CART,
    ORDERS,
    Shop,
    open_shop,
    orders_context,
)
from tests.support.tokens import TokenFactory


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    """Catalog and payments servers, and the orders app in-process (no shipping charged)."""
    async with open_shop(tmp_path, tokens) as shop:
        yield shop


def problem_of(response: Any, field: str = "discount_code") -> dict[str, Any]:
    """The 422 problem of a refused code, checked to name `field`."""
    assert response.status_code == 422, response.text
    problem: dict[str, Any] = response.json()
    assert [error["field"] for error in problem["errors"]] == [field]
    return problem


async def customer_with_cart(shop: Shop, amount: int = 1000, quantity: int = 2) -> dict[str, str]:
    """A customer whose cart holds `quantity` of a new product at `amount`."""
    user = shop.customer()
    await shop.fill_cart(user, await shop.product(amount=amount), quantity)
    return user


async def test_a_code_on_the_cart_shows_and_checkout_takes_it(shop: Shop) -> None:
    discount = await new_discount(shop, value=15)
    user = await customer_with_cart(shop, amount=1000, quantity=2)
    put = await shop.orders.put(
        CART_DISCOUNT, json={"code": discount["code"].lower()}, headers=user
    )
    assert put.status_code == 200, put.text
    cart = put.json()
    assert cart["subtotal"] == {"amount": 2000, "currency": "USD"}
    assert cart["discount"] == {"amount": 300, "currency": "USD"}
    assert cart["discount_code"] == discount["code"]
    assert cart["total"] == {"amount": 1700, "currency": "USD"}
    assert cart["discount_problem"] is None
    assert (await shop.orders.get(CART, headers=user)).json() == cart

    card = await shop.card(user)
    response = await shop.checkout(user, card)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "confirmed"
    assert order["subtotal"] == {"amount": 2000, "currency": "USD"}
    assert order["discount"] == {"amount": 300, "currency": "USD"}
    assert order["discount_code"] == discount["code"]
    assert order["shipping"] == {"amount": 0, "currency": "USD"}
    assert order["total"] == {"amount": 1700, "currency": "USD"}
    payment = await shop.payments.get(f"/api/payments/{order['payment_id']}", headers=user)
    assert payment.json()["amount"] == {"amount": 1700, "currency": "USD"}
    assert await uses(shop, discount["id"]) == 1
    emptied = (await shop.orders.get(CART, headers=user)).json()
    assert emptied["discount_code"] is None and emptied["items"] == []


async def test_removing_the_code_restores_the_total(shop: Shop) -> None:
    discount = await new_discount(shop)
    user = await customer_with_cart(shop)
    await shop.orders.put(CART_DISCOUNT, json={"code": discount["code"]}, headers=user)
    removed = await shop.orders.delete(CART_DISCOUNT, headers=user)
    assert removed.status_code == 200
    assert removed.json()["discount_code"] is None
    assert removed.json()["total"] == {"amount": 2000, "currency": "USD"}
    again = await shop.orders.delete(CART_DISCOUNT, headers=user)  # none is fine
    assert again.status_code == 200


async def test_a_code_in_the_checkout_body_wins(shop: Shop) -> None:
    discount = await new_discount(shop, kind="fixed", value=250, currency="USD")
    user = await customer_with_cart(shop, amount=1000, quantity=1)
    card = await shop.card(user)
    response = await checkout_with(shop, user, card, discount_code=discount["code"].lower())
    assert response.status_code == 201, response.text
    assert response.json()["total"] == {"amount": 750, "currency": "USD"}
    assert response.json()["discount_code"] == discount["code"]


async def test_only_lines_of_the_codes_categories_are_discounted(shop: Shop) -> None:
    tea = await category(shop, "tea")
    await category(shop, "cups")
    discount = await new_discount(shop, value=50, categories=[tea])
    user = shop.customer()
    await shop.fill_cart(user, await product_in(shop, tea, amount=1000), 1)
    await shop.fill_cart(user, await product_in(shop, "cups", amount=3000), 1)
    cart = await shop.orders.put(CART_DISCOUNT, json={"code": discount["code"]}, headers=user)
    assert cart.json()["discount"]["amount"] == 500
    assert cart.json()["total"]["amount"] == 3500
    only_cups = shop.customer()
    await shop.fill_cart(only_cups, await product_in(shop, "cups", amount=3000), 1)
    refused = await shop.orders.put(
        CART_DISCOUNT, json={"code": discount["code"]}, headers=only_cups
    )
    assert "tea" in problem_of(refused)["detail"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"active": False}, "not valid"),
        ({"starts_at": "2099-01-01T00:00:00Z"}, "valid from"),
        ({"ends_at": "2020-01-01T00:00:00Z"}, "expired"),
        ({"min_order": 5000, "currency": "USD"}, "at least 50.00 USD"),
        ({"currency": "EUR"}, "EUR"),
    ],
)
async def test_codes_that_do_not_apply_are_422(
    shop: Shop, fields: dict[str, Any], words: str
) -> None:
    discount = await new_discount(shop, **fields)
    user = await customer_with_cart(shop)
    response = await shop.orders.put(CART_DISCOUNT, json={"code": discount["code"]}, headers=user)
    assert words in problem_of(response)["detail"]
    assert (await shop.orders.get(CART, headers=user)).json()["discount_code"] is None
    card = await shop.card(user)
    refused = await checkout_with(shop, user, card, discount_code=discount["code"])
    assert words in problem_of(refused)["detail"]
    assert len((await shop.orders.get(CART, headers=user)).json()["items"]) == 1  # kept


async def test_unknown_code_and_empty_cart_are_422(shop: Shop) -> None:
    user = shop.customer()
    empty = await shop.orders.put(CART_DISCOUNT, json={"code": "NOSUCHCODE"}, headers=user)
    assert "empty" in problem_of(empty)["detail"]
    await shop.fill_cart(user, await shop.product(), 1)
    unknown = await shop.orders.put(CART_DISCOUNT, json={"code": "NOSUCHCODE"}, headers=user)
    assert "not valid" in problem_of(unknown)["detail"]
    malformed = await shop.orders.put(CART_DISCOUNT, json={"code": "a b"}, headers=user)
    assert malformed.status_code == 422


async def test_a_code_that_stops_fitting_shows_why_and_is_refused_at_checkout(
    shop: Shop,
) -> None:
    discount = await new_discount(shop, min_order=1500, currency="USD")
    user = shop.customer()
    cheap = await shop.product(amount=1000)
    await shop.fill_cart(user, cheap, 2)
    await shop.orders.put(CART_DISCOUNT, json={"code": discount["code"]}, headers=user)
    await shop.fill_cart(user, cheap, 1)  # now below the minimum
    cart = (await shop.orders.get(CART, headers=user)).json()
    assert cart["discount_code"] == discount["code"]
    assert cart["discount"] == {"amount": 0, "currency": "USD"}
    assert "at least 15.00 USD" in cart["discount_problem"]
    assert cart["total"] == {"amount": 1000, "currency": "USD"}
    card = await shop.card(user)
    assert "at least 15.00 USD" in problem_of(await shop.checkout(user, card))["detail"]


async def test_uses_per_customer_and_in_all_are_limited(shop: Shop) -> None:
    discount = await new_discount(shop, max_uses=2, max_uses_per_customer=1)
    first = await customer_with_cart(shop)
    card = await shop.card(first)
    placed = await checkout_with(shop, first, card, discount_code=discount["code"])
    assert placed.status_code == 201, placed.text
    await shop.fill_cart(first, await shop.product(), 1)
    again = await checkout_with(shop, first, card, discount_code=discount["code"])
    assert "as often as it may be" in problem_of(again)["detail"]
    second = await customer_with_cart(shop)
    assert (
        await checkout_with(shop, second, await shop.card(second), discount_code=discount["code"])
    ).status_code == 201
    third = await customer_with_cart(shop)
    refused = await shop.orders.put(CART_DISCOUNT, json={"code": discount["code"]}, headers=third)
    assert "used up" in problem_of(refused)["detail"]
    assert await uses(shop, discount["id"]) == 2


async def test_a_failed_order_gives_its_use_back(shop: Shop) -> None:
    discount = await new_discount(shop, max_uses=1)
    user = await customer_with_cart(shop)
    declined = await shop.card(user, CARD_DECLINED)
    order = (await checkout_with(shop, user, declined, discount_code=discount["code"])).json()
    assert order["status"] == "payment_failed"
    assert order["discount_code"] == discount["code"]
    assert await uses(shop, discount["id"]) == 0
    other = await customer_with_cart(shop)
    placed = await checkout_with(
        shop, other, await shop.card(other), discount_code=discount["code"]
    )
    assert placed.json()["status"] == "confirmed"
    assert await uses(shop, discount["id"]) == 1


async def test_a_cancelled_order_gives_its_use_back(shop: Shop) -> None:
    discount = await new_discount(shop, max_uses=1)
    user = await customer_with_cart(shop)
    order = (
        await checkout_with(shop, user, await shop.card(user), discount_code=discount["code"])
    ).json()
    assert order["status"] == "confirmed"
    assert await uses(shop, discount["id"]) == 1
    cancelled = await shop.orders.post(f"{ORDERS}/{order['id']}/cancel", headers=user)
    assert cancelled.status_code == 200, cancelled.text
    settled = await shop.wait_for(user, order["id"], "cancelled")
    assert settled["status"] == "cancelled"
    assert await uses(shop, discount["id"]) == 0
    runtime = shop.orders_app.state.runtime
    async with runtime.database.session() as session:
        row = (
            await session.scalars(
                select(DiscountRedemption).where(DiscountRedemption.order_id == order["id"])
            )
        ).one()
    assert row.released_at is not None
    assert datetime.now(UTC) - row.released_at < timedelta(minutes=1)


async def test_customers_see_only_their_own_cart_code_and_orders(shop: Shop) -> None:
    discount = await new_discount(shop)
    owner = await customer_with_cart(shop)
    await shop.orders.put(CART_DISCOUNT, json={"code": discount["code"]}, headers=owner)
    order = (await shop.checkout(owner, await shop.card(owner))).json()
    stranger = await customer_with_cart(shop)
    assert (await shop.orders.get(CART, headers=stranger)).json()["discount_code"] is None
    assert (await shop.orders.get(f"{ORDERS}/{order['id']}", headers=stranger)).status_code == 404
    listed = (await shop.orders.get(ORDERS, headers=stranger)).json()["items"]
    assert listed == []
    assert (await shop.orders.get(DISCOUNTS, headers=stranger)).status_code == 403


async def test_the_cart_code_needs_a_token(shop: Shop) -> None:
    assert (await shop.orders.put(CART_DISCOUNT, json={"code": "ABCDEF"})).status_code == 401
    assert (await shop.orders.delete(CART_DISCOUNT)).status_code == 401
    service = shop.tokens.headers("service:web", ["service"], typ="service", aud="orders")
    refused = await shop.orders.put(CART_DISCOUNT, json={"code": "ABCDEF"}, headers=service)
    assert refused.status_code in (401, 403)


async def test_the_order_placed_event_carries_shipping_and_discount(shop: Shop) -> None:
    discount = await new_discount(shop, value=10)
    user = await customer_with_cart(shop, amount=1000, quantity=1)
    order = (
        await checkout_with(shop, user, await shop.card(user), discount_code=discount["code"])
    ).json()
    data = await outbox_data(shop, order["id"], "order.placed")
    assert data["discount"] == {"amount": 100, "currency": "USD"}
    assert data["discount_code"] == discount["code"]
    assert data["shipping"] == {"amount": 0, "currency": "USD"}
    assert data["total"] == {"amount": 900, "currency": "USD"}


async def test_concurrent_checkouts_take_the_last_use_once_on_sqlite(shop: Shop) -> None:
    discount = await new_discount(shop, max_uses=1)
    racers = []
    for _ in range(4):
        user = await customer_with_cart(shop)
        racers.append((user, await shop.card(user)))
    answers = await asyncio.gather(
        *(checkout_with(shop, user, card, discount_code=discount["code"]) for user, card in racers)
    )
    assert sorted(answer.status_code for answer in answers) == [201, 422, 422, 422]
    assert await uses(shop, discount["id"]) == 1


async def test_a_price_cut_before_the_reservation_caps_the_discount(shop: Shop) -> None:
    user_id = str(uuid.uuid4())
    user = shop.tokens.headers(user_id, ["customer"])
    tea = await shop.product(stock=5, amount=1000)
    card = await shop.card(user)
    await shop.fill_cart(user, tea, 1)
    discount = await new_discount(shop, kind="fixed", value=600, currency="USD")
    await shop.orders.put(CART_DISCOUNT, json={"code": discount["code"]}, headers=user)
    runtime = shop.orders_app.state.runtime
    body = {"payment_method_id": card, "shipping_address": ADDRESS}
    async with runtime.database.session() as session:
        placement = await service.place_order(
            session,
            outbox=runtime.outbox,
            components=orders_context(runtime),
            user_id=user_id,
            key="price-cut",
            order_in=CheckoutIn.model_validate(body),
        )
    assert placement.owner is not None
    assert (placement.order.total_amount, placement.order.discount_amount) == (400, 600)
    await shop.reprice(tea, 400, "USD")  # the catalog reserves at the new price
    await orders_context(runtime).runner.drive(placement.order.id, placement.owner)
    order = (await shop.orders.get(f"{ORDERS}/{placement.order.id}", headers=user)).json()
    assert order["status"] == "confirmed"
    assert order["subtotal"]["amount"] == 400
    assert order["discount"]["amount"] == 400  # never more than the items
    assert order["total"]["amount"] == 0
    assert order["payment_id"] is None  # nothing to charge

"""Service tests of shipping charges: orders asks a quote API over HTTP and charges its price.

Catalog and payments are the real services; the quote API is the stand-in of
`tests.support.shipping_quotes` (the shipping service is built on another branch),
served over HTTP like them, so orders' client, its token and the contract's parsing
all run for real.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mercato.contracts.shipping import DEFAULT_WEIGHT_GRAMS
from tests.support.discounts import checkout_with, new_discount, outbox_data, product_in
from tests.support.orders import ADDRESS, CART, ORDERS, Shop, open_shop
from tests.support.shipping_quotes import (
    FREE_FROM,
    QuoteServer,
    express_price,
    quote_server,
    standard_price,
)
from tests.support.tokens import TokenFactory

QUOTES = f"{CART}/shipping"


@dataclass
class Scene:
    """The shop with shipping charged, and the quote API it asks."""

    shop: Shop
    quotes: QuoteServer


@pytest.fixture
async def scene(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Scene]:
    """Catalog, payments and the quote API over HTTP; orders in-process, pointed at all."""
    async with (
        quote_server() as quotes,
        open_shop(tmp_path, tokens, shipping_url=quotes.url, shipping_timeout_seconds=1.0) as shop,
    ):
        yield Scene(shop, quotes)


def named(response: Any, field: str) -> str:
    """The detail of a 422 naming only `field`."""
    assert response.status_code == 422, response.text
    problem = response.json()
    assert [error["field"] for error in problem["errors"]] == [field]
    return str(problem["detail"])


async def heavy_cart(shop: Shop, *, amount: int = 1000, weight: int = 1250) -> dict[str, str]:
    """A customer with 2 of a product of `weight` grams and 1 of one with no weight."""
    user = shop.customer()
    await shop.fill_cart(user, await product_in(shop, None, amount=amount, weight=weight), 2)
    await shop.fill_cart(user, await product_in(shop, None, amount=amount), 1)
    return user


async def test_checkout_charges_the_cheapest_method_by_default(scene: Scene) -> None:
    shop = scene.shop
    user = await heavy_cart(shop)
    weight = 2 * 1250 + DEFAULT_WEIGHT_GRAMS
    response = await shop.checkout(user, await shop.card(user))
    assert response.status_code == 201, response.text
    order = response.json()
    price = standard_price(weight, 3000)
    assert order["status"] == "confirmed"
    assert order["shipping"] == {"amount": price, "currency": "USD"}
    assert order["shipping_method"] == "standard"
    assert order["subtotal"] == {"amount": 3000, "currency": "USD"}
    assert order["total"] == {"amount": 3000 + price, "currency": "USD"}
    asked = scene.quotes.queries[-1]
    assert (asked.country, asked.currency, asked.weight_grams, asked.subtotal) == (
        "DE",
        "USD",
        weight,
        3000,
    )
    token = scene.quotes.tokens[-1]
    assert token["aud"] == "shipping" and token["sub"] == "service:orders"
    payment = await shop.payments.get(f"/api/payments/{order['payment_id']}", headers=user)
    assert payment.json()["amount"]["amount"] == 3000 + price


async def test_the_chosen_method_is_charged_and_the_events_say_so(scene: Scene) -> None:
    shop = scene.shop
    user = await heavy_cart(shop)
    order = (
        await checkout_with(shop, user, await shop.card(user), shipping_method="express")
    ).json()
    assert order["shipping"]["amount"] == express_price()
    assert order["shipping_method"] == "express"
    placed = await outbox_data(shop, order["id"], "order.placed")
    assert placed["shipping"] == {"amount": express_price(), "currency": "USD"}
    assert placed["shipping_method"] == "express"
    confirmed = await outbox_data(shop, order["id"], "order.confirmed")
    assert confirmed["shipping_method"] == "express"
    assert confirmed["shipping_address"]["country"] == ADDRESS["country"]
    assert sorted(item["quantity"] for item in confirmed["items"]) == [1, 2]
    assert confirmed["total"]["amount"] == 3000 + express_price()


async def test_shipping_is_quoted_on_the_discounted_items(scene: Scene) -> None:
    shop = scene.shop
    discount = await new_discount(shop, value=50)
    user = shop.customer()
    await shop.fill_cart(user, await product_in(shop, None, amount=FREE_FROM, weight=100), 1)
    order = (
        await checkout_with(shop, user, await shop.card(user), discount_code=discount["code"])
    ).json()
    half = FREE_FROM // 2
    assert scene.quotes.queries[-1].subtotal == half  # below the free-shipping threshold
    assert order["shipping"]["amount"] == standard_price(100, half) > 0
    assert order["total"]["amount"] == FREE_FROM - half + order["shipping"]["amount"]


async def test_a_method_not_offered_is_422_naming_it(scene: Scene) -> None:
    shop = scene.shop
    user = await heavy_cart(shop)
    card = await shop.card(user)
    to_france = {**ADDRESS, "country": "FR"}
    refused = await checkout_with(
        shop, user, card, shipping_method="express", shipping_address=to_france
    )
    assert "express" in named(refused, "shipping_method")
    unknown = await checkout_with(shop, user, card, shipping_method="pigeon")
    assert "standard" in named(unknown, "shipping_method")
    malformed = await checkout_with(shop, user, card, shipping_method="Not A Code")
    assert malformed.status_code == 422
    assert len((await shop.orders.get(CART, headers=user)).json()["items"]) == 2  # kept
    assert (await shop.orders.get(ORDERS, headers=user)).json()["items"] == []


async def test_a_country_nobody_ships_to_is_422_naming_it(scene: Scene) -> None:
    shop = scene.shop
    user = await heavy_cart(shop)
    nowhere = {**ADDRESS, "country": "AQ"}
    refused = await checkout_with(shop, user, await shop.card(user), shipping_address=nowhere)
    assert "AQ" in named(refused, "shipping_address.country")


async def test_shipping_down_is_503_and_nothing_is_placed(scene: Scene) -> None:
    shop = scene.shop
    user = await heavy_cart(shop)
    card = await shop.card(user)
    await scene.quotes.server.stop()
    response = await shop.checkout(user, card)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await shop.orders.get(ORDERS, headers=user)).json()["items"] == []
    quotes = await shop.orders.get(f"{QUOTES}?country=DE", headers=user)
    assert quotes.status_code == 503


async def test_an_answer_outside_the_contract_is_502(scene: Scene) -> None:
    shop = scene.shop
    user = await heavy_cart(shop)
    scene.quotes.broken = True
    response = await shop.checkout(user, await shop.card(user))
    assert response.status_code == 502, response.text


async def test_the_cart_quotes_for_a_country(scene: Scene) -> None:
    shop = scene.shop
    user = await heavy_cart(shop)
    response = await shop.orders.get(f"{QUOTES}?country=GB", headers=user)
    assert response.status_code == 200, response.text
    body = response.json()
    weight = 2 * 1250 + DEFAULT_WEIGHT_GRAMS
    assert body["weight_grams"] == weight and body["charged"] is True
    assert [(q["method"], q["price"]["amount"]) for q in body["items"]] == [
        ("standard", standard_price(weight, 3000)),
        ("express", express_price()),
    ]
    nowhere = await shop.orders.get(f"{QUOTES}?country=AQ", headers=user)
    assert nowhere.json()["items"] == []


async def test_cart_quotes_refusals(scene: Scene) -> None:
    shop = scene.shop
    user = await heavy_cart(shop)
    assert (await shop.orders.get(f"{QUOTES}?country=DE")).status_code == 401
    assert (await shop.orders.get(QUOTES, headers=user)).status_code == 422
    assert (await shop.orders.get(f"{QUOTES}?country=germany", headers=user)).status_code == 422
    empty = await shop.orders.get(f"{QUOTES}?country=DE", headers=shop.customer())
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"] == "cart"


async def test_without_a_shipping_service_nothing_is_charged(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with open_shop(tmp_path, tokens) as shop:
        user = await heavy_cart(shop)
        quotes = (await shop.orders.get(f"{QUOTES}?country=DE", headers=user)).json()
        assert quotes["charged"] is False and quotes["items"] == []
        order = (
            await checkout_with(shop, user, await shop.card(user), shipping_method="express")
        ).json()
        assert order["shipping"] == {"amount": 0, "currency": "USD"}
        assert order["shipping_method"] is None
        assert order["total"] == order["subtotal"] == {"amount": 3000, "currency": "USD"}


async def test_a_replayed_checkout_answers_the_same_order(scene: Scene) -> None:
    shop = scene.shop
    user = await heavy_cart(shop)
    card = await shop.card(user)
    key = uuid.uuid4().hex
    first = await shop.checkout(user, card, key=key)
    again = await shop.checkout(user, card, key=key)
    assert first.status_code == 201 and again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["shipping"] == first.json()["shipping"]

"""Service tests of a visitor's cart: kept in their session, handed to orders at sign-in.

Against real services (`tests.support.shop_pages`), one set per module: the first add
starts the session (no token, but it must prove it is this site's), later posts need
the session's token, the stock bounds what is kept, and signing in or creating an
account hands the lines to the account's cart at orders, naming what could not stay.
An attacker's tries: a first add from another site or from nowhere, a later add
without the token, another visitor's cart, stored lines that are not lines.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mercato.web.forms import REFUSED
from mercato.web.models import SessionRecord
from mercato.web.sessions import COOKIE, hash_id
from tests.support.shop_pages import (
    SAME_SITE,
    ShopPages,
    module_shop,  # noqa: F401 (the fixture `shop`)
)
from tests.support.web import PASSWORD, page_form, submit

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _badge(html: str) -> str | None:
    found = re.search(r'class="cart-link">Cart <span class="badge">(\d+)', html)
    return found.group(1) if found else None


async def _first_add(
    visitor: httpx.AsyncClient, product_id: str, quantity: str = "1"
) -> httpx.Response:
    """A visitor's add without a session: the product page's form has no token."""
    page = await visitor.get(f"/product/{product_id}")
    assert "csrf_token" not in page_form(page.text, "add-to-cart")
    fields = {"product_id": product_id, "quantity": quantity}
    return await visitor.post("/cart/items", data=fields, headers=SAME_SITE)


async def _add(visitor: httpx.AsyncClient, product_id: str, quantity: str) -> httpx.Response:
    fields = {"product_id": product_id, "quantity": quantity}
    return await submit(visitor, "/cart/items", fields, page=f"/product/{product_id}")


async def _stored_cart(shop: ShopPages, visitor: httpx.AsyncClient) -> Any:
    async with shop.app.state.runtime.database.session() as db:
        record = await db.scalar(
            select(SessionRecord).where(SessionRecord.id_hash == hash_id(visitor.cookies[COOKIE]))
        )
    assert record is not None
    return json.loads(record.cart) if record.cart else None


async def _account_cart(shop: ShopPages, email: str) -> dict[str, int]:
    cart = await shop.api(shop.orders, "GET", "/api/orders/cart", headers=await shop.token(email))
    return {item["product_id"]: item["quantity"] for item in cart["items"]}


async def test_a_visitors_first_add_starts_a_session_that_holds_their_cart(
    shop: ShopPages,
) -> None:
    tea = await shop.product(title="Darjeeling", amount=800)
    visitor = shop.browser()

    answer = await _first_add(visitor, tea["id"], "3")

    assert answer.status_code == 303 and answer.headers["location"] == f"/product/{tea['id']}"
    assert f"{COOKIE}=" in answer.headers["set-cookie"]
    page = await visitor.get(answer.headers["location"])
    assert "Added 3 × Darjeeling to your cart." in page.text and _badge(page.text) == "3"
    cart = await visitor.get("/cart")
    assert "Darjeeling" in cart.text and "$24.00" in cart.text and 'value="3"' in cart.text
    assert "You will log in or create an account first" in cart.text
    assert await _stored_cart(shop, visitor) == {tea["id"]: 3}
    other = await shop.browser().get("/cart")  # another visitor: their own, empty cart
    assert "Your cart is empty" in other.text and "Darjeeling" not in other.text


@pytest.mark.parametrize(
    "headers",
    [
        {},  # says nothing of where it comes from
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
    ],
)
async def test_a_first_add_that_is_not_this_sites_is_refused(
    shop: ShopPages, headers: dict[str, str]
) -> None:
    tea = await shop.product()
    visitor = shop.browser()

    answer = await visitor.post(
        "/cart/items", data={"product_id": tea["id"], "quantity": "1"}, headers=headers
    )

    assert answer.status_code == 403 and REFUSED.split(":")[0] in answer.text
    assert "set-cookie" not in answer.headers  # no session was started for it
    assert "Darjeeling" not in (await visitor.get("/cart")).text


async def test_once_a_visitor_has_a_session_an_add_needs_its_token(shop: ShopPages) -> None:
    tea = await shop.product(title="Oolong", stock=10)
    visitor = shop.browser()
    await _first_add(visitor, tea["id"], "1")

    forged = await visitor.post(
        "/cart/items", data={"product_id": tea["id"], "quantity": "5"}, headers=SAME_SITE
    )
    added = await _add(visitor, tea["id"], "2")

    assert forged.status_code == 403
    assert added.status_code == 303
    assert await _stored_cart(shop, visitor) == {tea["id"]: 3}  # 1 + 2, not the forged 5


async def test_a_visitor_cannot_hold_more_than_the_stock(shop: ShopPages) -> None:
    tea = await shop.product(title="Sencha", stock=4)
    visitor = shop.browser()
    await _first_add(visitor, tea["id"], "3")

    answer = await _add(visitor, tea["id"], "2")

    assert answer.status_code == 422
    assert "Only 4 of Sencha are available. Your cart already holds 3." in answer.text
    assert 'aria-invalid="true"' in answer.text and 'value="2"' in answer.text
    assert await _stored_cart(shop, visitor) == {tea["id"]: 3}
    bad = await _add(visitor, tea["id"], "lots")
    assert bad.status_code == 422 and 'value="lots"' in bad.text


async def test_a_visitor_changes_and_removes_lines(shop: ShopPages) -> None:
    tea = await shop.product(title="Genmaicha", stock=5)
    mug = await shop.product(title="Mug", stock=5)
    visitor = shop.browser()
    await _first_add(visitor, tea["id"], "1")
    await _add(visitor, mug["id"], "1")

    changed = await submit(visitor, f"/cart/items/{tea['id']}", {"quantity": "4"}, page="/cart")
    too_many = await submit(visitor, f"/cart/items/{tea['id']}", {"quantity": "6"}, page="/cart")
    not_a_number = await submit(
        visitor, f"/cart/items/{tea['id']}", {"quantity": "-1"}, page="/cart"
    )
    removed = await submit(visitor, f"/cart/items/{mug['id']}/remove", {}, page="/cart")
    page = await visitor.get("/cart")
    assert "Removed Mug from your cart." in page.text and _badge(page.text) == "4"
    stranger = await submit(visitor, "/cart/items/not-in-the-cart", {"quantity": "2"}, page="/cart")

    assert changed.status_code == 303 and removed.status_code == 303
    assert too_many.status_code == 422 and "Only 5 of Genmaicha are available." in too_many.text
    assert not_a_number.status_code == 422 and "whole number" in not_a_number.text
    assert stranger.status_code == 303  # nothing of theirs: no line is made
    assert await _stored_cart(shop, visitor) == {tea["id"]: 4}
    zero = await submit(visitor, f"/cart/items/{tea['id']}", {"quantity": "0"}, page="/cart")
    assert zero.status_code == 303 and await _stored_cart(shop, visitor) is None


async def test_logging_in_hands_the_visitors_cart_to_their_account(shop: ShopPages) -> None:
    tea = await shop.product(title="Rooibos", stock=10)
    mug = await shop.product(title="Cup", stock=10)
    customer, email = await shop.customer()
    await submit(
        customer,
        "/cart/items",
        {"product_id": tea["id"], "quantity": "1"},
        page=f"/product/{tea['id']}",
    )
    await submit(customer, "/logout", {}, page="/")
    visitor = shop.browser()
    await _first_add(visitor, tea["id"], "2")
    await _add(visitor, mug["id"], "1")

    checkout = await visitor.get("/checkout")
    assert checkout.status_code == 303 and checkout.headers["location"].startswith("/login")
    logged_in = await submit(
        visitor,
        "/login?next=/checkout",
        {"email": email, "password": PASSWORD, "next": "/checkout"},
    )

    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/checkout"
    assert await _account_cart(shop, email) == {tea["id"]: 3, mug["id"]: 1}
    page = await visitor.get("/cart")
    assert _badge(page.text) == "4" and "could not stay" not in page.text


async def test_creating_an_account_keeps_the_cart_and_names_what_could_not_stay(
    shop: ShopPages,
) -> None:
    scarce = await shop.product(title="Rare tea", stock=2)
    plenty = await shop.product(title="Common tea", stock=10)
    visitor = shop.browser()
    await _first_add(visitor, scarce["id"], "2")
    await _add(visitor, plenty["id"], "1")
    await shop.api(  # meanwhile someone else's order takes the scarce tea's stock
        shop.catalog, "PATCH", f"/api/catalog/products/{scarce['id']}", json={"stock": 1}
    )

    email, answer = await shop.register(visitor)

    assert answer.status_code == 303
    assert await _account_cart(shop, email) == {plenty["id"]: 1}
    home = await visitor.get("/")
    assert "Your account is ready." in home.text
    assert "1 of the products you added could not stay in your cart" in home.text


async def test_stored_lines_that_are_not_lines_are_dropped(shop: ShopPages) -> None:
    tea = await shop.product(title="Matcha", stock=10)
    visitor = shop.browser()
    await _first_add(visitor, tea["id"], "1")
    planted = {tea["id"]: 2, "x" * 65: 1, "neg": -3, "flag": True, "text": "9"}
    async with shop.app.state.runtime.database.session() as db:
        record = await db.scalar(
            select(SessionRecord).where(SessionRecord.id_hash == hash_id(visitor.cookies[COOKIE]))
        )
        assert record is not None
        record.cart = json.dumps(planted)
        await db.commit()

    page = await visitor.get("/cart")

    assert page.status_code == 200 and _badge(page.text) == "2"
    assert page.text.count('class="quantity-form"') == 1

"""Service tests of the discount code on the cart and of the delivery choice at checkout.

Against real services (`tests.support.shop_pages`) with orders asking for shipping quotes
over HTTP (`tests.support.shipping_quotes`: standard to DE, GB and FR at 400 + 10 per
started 100 g, free from $100; express to DE and GB at $15; nothing to AQ). What a
shopper can get wrong comes back beside its field; what an attacker tries (no form
token, a visitor's post, a method never offered) is refused and orders nothing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.support.shipping_quotes import EXPRESS_PRICE, standard_price
from tests.support.shop_pages import (
    CARD_OK,
    SAME_SITE,
    ShopPages,
    checkout_fields,
    expiry,
    open_shop_pages,
    order_path,
)
from tests.support.tokens import TokenFactory
from tests.support.web import submit

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module", name="shop")
async def shop_that_ships(
    tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[ShopPages]:
    from tests.support.shipping_quotes import quote_server  # noqa: PLC0415

    async with (
        quote_server() as quotes,
        open_shop_pages(tmp_path_factory.mktemp("shop"), tokens, shipping_url=quotes.url) as shop,
    ):
        yield shop


async def _code(shop: ShopPages, code: str, **fields: Any) -> dict[str, Any]:
    body = {"code": code, "kind": "percent", "value": 10, **fields}
    made: dict[str, Any] = await shop.api(
        shop.orders, "POST", "/api/orders/discounts", json=body, headers=shop.admin
    )
    return made


async def _in_cart(shop: ShopPages, browser: httpx.AsyncClient, **product: Any) -> dict[str, Any]:
    made = await shop.product(**product)
    fields = {"product_id": made["id"], "quantity": "1"}
    added = await submit(browser, "/cart/items", fields, page=f"/product/{made['id']}")
    assert added.status_code == 303, added.text
    return made


def _card(**address: str) -> dict[str, str]:
    where = {"name": "Ann Shopper", "line1": "Main St 1", "city": "Berlin", "country": "DE"}
    card = {"payment": "new", "card_number": CARD_OK, "expiry": expiry(), "cvc": "123"}
    return {**where, **address, **card}


def _methods(html: str) -> dict[str, bool]:
    """The delivery radio buttons: method -> checked."""
    found = re.findall(r'<input type="radio" id="ship-\d+" name="shipping_method" value="([^"]+)"'
                       r'( checked)?', html)  # fmt: skip
    return {method: bool(checked) for method, checked in found}


async def _orders(shop: ShopPages, email: str) -> list[dict[str, Any]]:
    headers = await shop.token(email)
    body = await shop.api(shop.orders, "GET", "/api/orders", headers=headers)
    return list(body["items"])


async def test_a_code_on_the_cart_shows_what_it_takes_off_and_can_be_removed(
    shop: ShopPages,
) -> None:
    await _code(shop, "TEN-OFF")
    browser, _ = await shop.customer()
    await _in_cart(shop, browser, amount=2000)

    applied = await submit(browser, "/cart/discount", {"code": "ten-off"}, page="/cart")
    assert applied.status_code == 303 and applied.headers["location"] == "/cart"
    cart = (await browser.get("/cart")).text
    assert "The code TEN-OFF is on your cart." in cart
    assert "Discount (TEN-OFF)" in cart and "-$2.00" in cart
    assert '<td class="total" colspan="2">$18.00</td>' in cart

    removed = await submit(browser, "/cart/discount/remove", {}, page="/cart")
    assert removed.status_code == 303
    again = (await browser.get("/cart")).text
    assert "Discount (TEN-OFF)" not in again
    assert '<td class="total" colspan="2">$20.00</td>' in again
    assert 'id="discount-code"' in again  # the form is back


async def test_a_code_refused_comes_back_beside_the_field_with_why(shop: ShopPages) -> None:
    await _code(shop, "BIG-SPENDER", min_order=100_000, currency="USD")
    browser, _ = await shop.customer()
    await _in_cart(shop, browser, amount=1000)

    unknown = await submit(browser, "/cart/discount", {"code": "NO-SUCH"}, page="/cart")
    assert unknown.status_code == 422
    assert 'id="discount-code" name="code"' in unknown.text and 'value="NO-SUCH"' in unknown.text
    assert 'aria-invalid="true" aria-describedby="discount-code-error"' in unknown.text
    small = await submit(browser, "/cart/discount", {"code": "big-spender"}, page="/cart")
    assert small.status_code == 422 and 'id="discount-code-error"' in small.text
    assert "at least 1,000.00 USD" in small.text  # in major units, never "minor units"
    empty = await submit(browser, "/cart/discount", {"code": "  "}, page="/cart")
    assert empty.status_code == 422 and "Type a discount code." in empty.text
    assert "is on your cart" not in (await browser.get("/cart")).text


async def test_a_code_post_without_the_form_token_or_from_a_visitor_changes_nothing(
    shop: ShopPages,
) -> None:
    await _code(shop, "SNEAKY")
    browser, _ = await shop.customer()
    await _in_cart(shop, browser)

    forged = await browser.post("/cart/discount", data={"code": "SNEAKY"}, headers=SAME_SITE)
    assert forged.status_code == 403
    assert "is on your cart" not in (await browser.get("/cart")).text
    visitor = shop.browser()
    tea = await shop.product()  # a visitor's cart, kept in their session
    first_add = {"product_id": tea["id"], "quantity": "1"}
    assert (await visitor.post("/cart/items", data=first_add, headers=SAME_SITE)).is_redirect
    asked = await submit(visitor, "/cart/discount", {"code": "SNEAKY"}, page="/cart")
    assert asked.status_code == 303 and asked.headers["location"].startswith("/login")
    assert "use it once you log in" in (await visitor.get("/cart")).text


async def test_checkout_offers_the_methods_for_the_country_and_charges_the_one_chosen(
    shop: ShopPages,
) -> None:
    await _code(shop, "TENNER", kind="fixed", value=1000, currency="USD")
    browser, email = await shop.customer()
    await _in_cart(shop, browser, amount=5000, attributes={"weight_grams": 1200})
    assert (await submit(browser, "/cart/discount", {"code": "TENNER"}, page="/cart")).is_redirect

    form = await _form(browser)
    assert "The cheapest delivery to your country is added" in (await browser.get("/checkout")).text
    # A form back for a mistake is priced for the country typed: Germany's methods.
    first = await browser.post("/checkout", data={**form, **_card(), "city": ""}, headers=SAME_SITE)
    assert first.status_code == 422 and "City is required." in first.text
    methods = _methods(first.text)
    assert methods == {"standard": True, "express": False}  # cheapest first, and checked
    standard = standard_price(1200, 4000)
    assert f"Standard delivery: ${standard / 100:.2f} (3-5 working days)" in first.text
    # The country changed after the methods were priced: choose again, nothing ordered.
    moved = {**checkout_fields(first.text), **_card(country="GB")}
    again = await browser.post("/checkout", data=moved, headers=SAME_SITE)
    assert again.status_code == 200
    assert "Here is how we can deliver to GB: choose one, then place the order." in again.text
    assert 'name="quoted_country" value="GB"' in again.text
    assert not await _orders(shop, email)

    first = again
    fields = {**checkout_fields(first.text), **_card(country="GB"), "shipping_method": "express"}
    placed = await browser.post("/checkout", data=fields, headers=SAME_SITE)
    page = await browser.get(order_path(placed))
    (order,) = await _orders(shop, email)
    assert order["shipping_method"] == "express" and order["shipping"]["amount"] == EXPRESS_PRICE
    assert order["discount"]["amount"] == 1000
    assert order["total"]["amount"] == 5000 - 1000 + EXPRESS_PRICE
    assert "Delivery (express)" in page.text and "Discount (TENNER)" in page.text
    assert f"${(5000 - 1000 + EXPRESS_PRICE) / 100:.2f}" in page.text


async def test_a_form_that_showed_no_methods_orders_the_cheapest_delivery(
    shop: ShopPages,
) -> None:
    browser, email = await shop.customer()
    await _in_cart(shop, browser, amount=2000)
    form = await _form(browser)
    assert 'name="quoted_country" value=""' in (await browser.get("/checkout")).text

    placed = await browser.post("/checkout", data={**form, **_card()}, headers=SAME_SITE)
    page = await browser.get(order_path(placed))
    (order,) = await _orders(shop, email)
    assert order["shipping_method"] == "standard"
    assert order["shipping"]["amount"] == standard_price(500, 2000)  # no weight: 500 g
    assert "Delivery (standard)" in page.text


async def test_a_country_not_shipped_to_or_a_method_not_offered_is_refused_beside_it(
    shop: ShopPages,
) -> None:
    browser, email = await shop.customer()
    await _in_cart(shop, browser)
    form = await _form(browser)

    nowhere = await browser.post(
        "/checkout", data={**form, **_card(country="AQ"), "quoted_country": "AQ"}, headers=SAME_SITE
    )
    assert nowhere.status_code == 422 and "We do not deliver to AQ." in nowhere.text
    fr = await browser.post(
        "/checkout", data={**form, **_card(country="FR"), "quoted_country": "FR"}, headers=SAME_SITE
    )
    assert fr.status_code == 303, re.findall(r"(?:field|form)-error[^>]*>([^<]*)", fr.text)
    # standard is offered to France: placed with it
    browser2, email2 = await shop.customer()
    await _in_cart(shop, browser2)
    form2 = await _form(browser2)
    teleport = {
        **form2,
        **_card(country="FR"),
        "quoted_country": "FR",
        "shipping_method": "express",
    }
    refused = await browser2.post("/checkout", data=teleport, headers=SAME_SITE)
    assert refused.status_code == 422 and 'id="shipping-error"' in refused.text
    assert "Choose one of the delivery options shown." in refused.text
    assert not await _orders(shop, email2)
    (order,) = await _orders(shop, email)
    assert order["shipping_method"] == "standard"


async def _form(browser: httpx.AsyncClient) -> dict[str, str]:
    page = await browser.get("/checkout")
    assert page.status_code == 200, page.text
    return checkout_fields(page.text)

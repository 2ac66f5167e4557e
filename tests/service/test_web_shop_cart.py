"""Service tests of the cart: adding from a product page, changing, removing, refusals.

Against real services (`tests.support.shop_pages`), one set per module, and as an
attacker would try: a post without the form's token, from another site, another
shopper's line, a quantity that is not one.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.support.shop_pages import (
    SAME_SITE,
    ShopPages,
    module_shop,  # noqa: F401 (the fixture `shop`)
)
from tests.support.tokens import TokenFactory
from tests.support.web import csrf_token, open_storefront, submit

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _add(
    browser: httpx.AsyncClient, product_id: str, quantity: str = "1", **headers: str
) -> httpx.Response:
    fields = {"product_id": product_id, "quantity": quantity}
    return await submit(
        browser, "/cart/items", fields, page=f"/product/{product_id}", headers=headers
    )


def _badge(html: str) -> str | None:
    found = re.search(r'class="cart-link">Cart <span class="badge">(\d+)', html)
    return found.group(1) if found else None


async def test_adding_puts_the_quantity_in_the_cart_and_counts_it_in_the_header(
    shop: ShopPages,
) -> None:
    tea = await shop.product(title="Assam")
    browser, _ = await shop.customer()

    added = await _add(browser, tea["id"], "2")
    assert added.status_code == 303 and added.headers["location"] == f"/product/{tea['id']}"
    again = await _add(browser, tea["id"], "1")
    page = await browser.get(again.headers["location"])

    assert "Added 1 × Assam to your cart." in page.text
    assert _badge(page.text) == "3"
    cart = await browser.get("/cart")
    assert 'value="3"' in cart.text and "$37.50" in cart.text  # 3 × $12.50


async def test_the_enhanced_add_answers_json_for_the_script(shop: ShopPages) -> None:
    tea = await shop.product(title="Darjeeling")
    browser, _ = await shop.customer()

    answer = await _add(browser, tea["id"], "2", Accept="application/json")

    assert answer.status_code == 200
    assert answer.json() == {"message": "Added 2 × Darjeeling to your cart.", "count": 2}


async def test_more_than_the_stock_is_refused_beside_the_quantity(shop: ShopPages) -> None:
    tea = await shop.product(title="Rare tea", stock=2)
    browser, _ = await shop.customer()
    await _add(browser, tea["id"], "1")

    answer = await _add(browser, tea["id"], "5")

    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert re.search(
        r'aria-invalid="true" aria-describedby="add-quantity-error">\s*'
        r'<p class="field-error" id="add-quantity-error">Only 2 of Rare tea are available\. '
        r"Your cart already holds 1\.</p>",
        answer.text,
    )
    assert 'value="5"' in answer.text  # what was typed, kept


@pytest.mark.parametrize("typed", ["0", "-1", "two", "1.5", "100", "²"])
async def test_a_quantity_that_is_not_one_is_refused(shop: ShopPages, typed: str) -> None:
    tea = await shop.product()
    browser, _ = await shop.customer()

    answer = await _add(browser, tea["id"], typed)

    assert answer.status_code == 422
    assert "Quantity must be a whole number from 1 to 99." in answer.text
    assert "Your cart is empty" in (await browser.get("/cart")).text


async def test_an_add_without_the_token_or_from_another_site_is_refused(shop: ShopPages) -> None:
    tea = await shop.product()
    browser, _ = await shop.customer()
    fields = {"product_id": tea["id"], "quantity": "1"}

    no_token = await browser.post("/cart/items", data=fields, headers=SAME_SITE)
    token = await csrf_token(browser, f"/product/{tea['id']}")
    cross_site = await browser.post(
        "/cart/items",
        data={**fields, "csrf_token": token},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )

    for answer in (no_token, cross_site):
        assert answer.status_code == 403
        assert "We could not accept this form" in answer.text
    assert "Your cart is empty" in (await browser.get("/cart")).text


async def test_a_line_is_changed_then_removed_from_the_cart_page(shop: ShopPages) -> None:
    tea, mug = await shop.product(title="Genmaicha"), await shop.product(title="Mug", amount=800)
    browser, _ = await shop.customer()
    await _add(browser, tea["id"], "1")
    await _add(browser, mug["id"], "1")

    changed = await submit(browser, f"/cart/items/{tea['id']}", {"quantity": "4"}, page="/cart")
    assert changed.status_code == 303 and changed.headers["location"] == "/cart"
    cart = (await browser.get("/cart")).text
    assert "Updated the quantity of Genmaicha." in cart and "$58.00" in cart  # 4 × 12.50 + 8

    removed = await submit(browser, f"/cart/items/{mug['id']}/remove", {}, page="/cart")
    cart = (await browser.get(removed.headers["location"])).text
    assert "Removed Mug from your cart." in cart and ">Mug</a>" not in cart
    zero = await submit(browser, f"/cart/items/{tea['id']}", {"quantity": "0"}, page="/cart")
    assert "Your cart is empty" in (await browser.get(zero.headers["location"])).text


async def test_a_bad_quantity_on_the_cart_page_is_shown_beside_its_line(shop: ShopPages) -> None:
    tea = await shop.product(title="Hojicha", stock=3)
    browser, _ = await shop.customer()
    await _add(browser, tea["id"], "1")

    typo = await submit(browser, f"/cart/items/{tea['id']}", {"quantity": "x"}, page="/cart")
    too_many = await submit(browser, f"/cart/items/{tea['id']}", {"quantity": "9"}, page="/cart")

    assert typo.status_code == 422 and too_many.status_code == 422
    assert "Quantity must be a whole number (0 removes the item)." in typo.text
    assert 'id="qty-0-error">Only 3 of Hojicha are available.</p>' in too_many.text
    assert 'value="9"' in too_many.text


async def test_a_cart_change_without_the_token_is_refused(shop: ShopPages) -> None:
    tea = await shop.product()
    browser, _ = await shop.customer()
    await _add(browser, tea["id"], "2")

    forged = await browser.post(f"/cart/items/{tea['id']}/remove", data={}, headers=SAME_SITE)

    assert forged.status_code == 403
    assert 'value="2"' in (await browser.get("/cart")).text


async def test_orders_down_is_the_page_that_says_so(tmp_path: Path, tokens: TokenFactory) -> None:
    async with open_storefront(tmp_path, tokens) as down:  # orders is not running
        browser = down.browser()
        await down.register(browser)

        answer = await browser.get("/cart")

    assert answer.status_code == 503
    assert "Cart and orders is unavailable" in answer.text

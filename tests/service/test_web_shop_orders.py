"""Service tests of the shopper's orders: the history, an order's page and status, cancelling.

Against real services (`tests.support.shop_pages`), one set per module.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.shop_pages import (
    ADDRESS,
    CARD_DECLINED,
    CARD_OK,
    SAME_SITE,
    ShopPages,
    checkout_fields,
    expiry,
    module_shop,  # noqa: F401 (the fixture `shop`)
    order_path,
)
from tests.support.web import submit

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _order(
    shop: ShopPages, browser: httpx.AsyncClient, card: str = CARD_OK, *, stock: int = 5
) -> tuple[str, dict[str, str]]:
    """An order of one new product, placed through the pages and settled: its path, product."""
    tea = await shop.product(stock=stock)
    await submit(
        browser,
        "/cart/items",
        {"product_id": tea["id"], "quantity": "1"},
        page=f"/product/{tea['id']}",
    )
    page = await browser.get("/checkout")
    fields = {
        **checkout_fields(page.text),
        **ADDRESS,
        "payment": "new",
        "card_number": card,
        "expiry": expiry(),
        "cvc": "123",
    }
    placed = await browser.post("/checkout", data=fields, headers=SAME_SITE)
    path = order_path(placed)
    await shop.wait_settled(browser, path)
    return path, tea


async def test_the_history_lists_the_orders_newest_first_with_their_status(shop: ShopPages) -> None:
    browser, _ = await shop.customer()
    first, _ = await _order(shop, browser)
    second, _ = await _order(shop, browser, CARD_DECLINED)

    html = (await browser.get("/orders")).text

    links = re.findall(r'<a href="(/orders/[0-9a-f-]{36})">Order [0-9A-F-]{8}</a>', html)
    assert links == [second, first]
    words = re.findall(r"<td>(Confirmed|Payment failed)</td>", html)
    assert words == ["Payment failed", "Confirmed"]
    assert '<a href="/orders">Orders</a>' in html  # the header's link


async def test_a_history_link_that_no_longer_works_starts_from_the_newest(shop: ShopPages) -> None:
    browser, _ = await shop.customer()
    answer = await browser.get("/orders", params={"after": "garbage"})
    assert answer.status_code == 303 and answer.headers["location"] == "/orders"
    empty = await browser.get("/orders")
    assert "You have no orders yet." in empty.text


async def test_the_status_answers_what_the_pages_script_swaps_in(shop: ShopPages) -> None:
    browser, _ = await shop.customer()
    path, _ = await _order(shop, browser)

    status = (await browser.get(f"{path}/status")).json()

    assert status["status"] == "confirmed" and status["done"] is True
    assert '<strong class="status-word">Confirmed</strong>' in status["live"]
    assert ">Cancel order</button>" in status["more"]
    page = (await browser.get(path)).text
    assert "data-follow" not in page  # settled: nothing to follow
    assert 'role="status" aria-live="polite"' in page


async def test_a_confirmed_order_is_cancelled_and_its_stock_comes_back(shop: ShopPages) -> None:
    browser, _ = await shop.customer()
    path, tea = await _order(shop, browser, stock=4)
    assert await shop.stock(tea["id"]) == 3

    answer = await submit(browser, f"{path}/cancel", {}, page=path)

    assert answer.status_code == 303 and answer.headers["location"] == path
    status = await shop.wait_settled(browser, path)
    assert status["word"] == "Cancelled"
    page = (await browser.get(path)).text
    assert "Your order is being cancelled. Any payment will be refunded." in page  # once
    assert '<strong class="status-word">Cancelled</strong>' in page
    assert "Cancel order" not in page
    assert await shop.stock(tea["id"]) == 4


async def test_an_order_that_failed_cannot_be_cancelled_and_says_why(shop: ShopPages) -> None:
    browser, _ = await shop.customer()
    path, _ = await _order(shop, browser, CARD_DECLINED)
    token = re.search(r'name="csrf_token" value="([^"]+)"', (await browser.get(path)).text)
    assert token is not None

    answer = await browser.post(
        f"{path}/cancel", data={"csrf_token": token.group(1)}, headers=SAME_SITE
    )

    page = await browser.get(answer.headers["location"])
    assert "there is nothing to cancel" in page.text
    assert "Payment failed" in page.text


async def test_a_cancel_without_the_token_is_refused(shop: ShopPages) -> None:
    browser, _ = await shop.customer()
    path, _ = await _order(shop, browser)

    answer = await browser.post(f"{path}/cancel", data={}, headers=SAME_SITE)

    page = await browser.get(answer.headers["location"])
    assert "We could not accept this form" in page.text
    assert (await browser.get(f"{path}/status")).json()["status"] == "confirmed"


async def test_someone_elses_or_an_unknown_order_is_the_404_page(shop: ShopPages) -> None:
    ann, _ = await shop.customer()
    bob, _ = await shop.customer()
    path, _ = await _order(shop, ann)

    for answer in (
        await bob.get(path),
        await bob.get(f"{path}/status"),
        await ann.get("/orders/00000000-0000-0000-0000-000000000000"),
        await submit(bob, f"{path}/cancel", {}, page="/orders"),
    ):
        assert answer.status_code == 404
        assert "Page not found" in answer.text
    assert (await ann.get(f"{path}/status")).json()["status"] == "confirmed"


async def test_a_visitor_is_sent_to_log_in_and_back(shop: ShopPages) -> None:
    visitor = shop.browser()
    for path in ("/orders", "/orders/x"):
        answer = await visitor.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/login?next={path.replace('/', '%2F')}"

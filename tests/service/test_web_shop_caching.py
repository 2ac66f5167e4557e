"""Service tests of what the storefront keeps a few seconds: the catalog's answers, visitors' pages.

With `MERCATO_WEB_CATALOG_CACHE_SECONDS` at 1 (`tests.support.shop_pages`, real
services): a change at the catalog shows once its answer has run out; one catalog
call serves many shoppers; and a kept page is only ever a visitor's, never one with
a shopper's name, message or form in it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.orders import served
from tests.support.shop_pages import ShopPages, open_shop_pages
from tests.support.tokens import TokenFactory
from tests.support.web import submit

TTL = 1.0


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[ShopPages]:
    async with open_shop_pages(tmp_path, tokens, catalog_cache_seconds=TTL) as shop:
        yield shop


async def _reprice(shop: ShopPages, product_id: str, amount: int) -> None:
    body = {"price": {"amount": amount, "currency": "USD"}}
    await shop.api(shop.catalog, "PATCH", f"/api/catalog/products/{product_id}", json=body)


async def test_a_price_change_shows_once_the_kept_answer_runs_out(shop: ShopPages) -> None:
    tea = await shop.product(amount=1250)
    visitor = shop.browser()
    assert "$12.50" in (await visitor.get(f"/product/{tea['id']}")).text

    await _reprice(shop, tea["id"], 1490)

    assert "$12.50" in (await visitor.get(f"/product/{tea['id']}")).text  # kept
    await asyncio.sleep(TTL + 0.2)
    assert "$14.90" in (await visitor.get(f"/product/{tea['id']}")).text


async def test_shoppers_asking_for_one_page_at_once_cost_one_catalog_call(
    shop: ShopPages,
) -> None:
    tea = await shop.product()
    assert shop.catalog is not None
    before = served(shop.catalog.app)

    pages = await asyncio.gather(*(shop.browser().get(f"/product/{tea['id']}") for _ in range(20)))

    assert all(p.status_code == 200 for p in pages)
    assert served(shop.catalog.app) - before <= 2  # the product (and the categories)


async def test_a_kept_page_is_never_a_shoppers_own(shop: ShopPages) -> None:
    tea = await shop.product(title="Assam")
    browser, _ = await shop.customer()
    await submit(
        browser,
        "/cart/items",
        {"product_id": tea["id"], "quantity": "2"},
        page=f"/product/{tea['id']}",
    )
    own = await browser.get(f"/product/{tea['id']}")
    assert "Added 2 × Assam to your cart." in own.text and "Ann Shopper" in own.text

    visitor = await shop.browser().get(f"/product/{tea['id']}")

    assert "Ann Shopper" not in visitor.text and "Added 2" not in visitor.text
    assert "csrf_token" not in visitor.text and 'class="badge"' not in visitor.text
    again = await browser.get(f"/product/{tea['id']}")  # the shopper's, rendered for them
    assert "Ann Shopper" in again.text and "csrf_token" in again.text
    assert "Added 2" not in again.text  # a message shows once


async def test_a_visitor_with_a_message_gets_it_and_others_do_not(shop: ShopPages) -> None:
    leaving, _ = await shop.customer()
    await submit(leaving, "/logout", {}, page="/")
    bystander = shop.browser()
    assert "You have logged out." not in (await bystander.get("/")).text  # kept without it

    home = await leaving.get("/")

    assert "You have logged out." in home.text  # a session's page is rendered for it
    assert "You have logged out." not in (await bystander.get("/")).text

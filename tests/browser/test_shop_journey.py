"""The shopper's journey in a real browser, through the gateway of the whole system.

Register, search (with a typo, when the catalog corrects them), narrow the results
with a facet, add two products, check out with the success card and see the order
`Confirmed`; again with the declined card and see `Payment failed` and the stock
back. Every page on the way is audited by axe-core, and pictured.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.client import System
from tests.support.browser import ON_NATS, Screenshots, audit, new_customer, register
from tests.support.shop_browser import (
    CARD_DECLINED,
    add_to_cart,
    checkout,
    expect_status,
    products_in_stock,
    stock_of,
    wait_for_stock,
)

pytestmark = ON_NATS


def _buy_two_then_fail_one(page: Page, system: System, screenshots: Screenshots) -> None:
    """Two products bought with the success card, then one refused with the declined card."""
    laptop, headphones = (
        products_in_stock(system, "laptop", count=1)[0],
        products_in_stock(system, "headphones", count=1)[0],
    )
    add_to_cart(page, laptop)
    audit(page)
    screenshots.take(page, "shop-product")
    add_to_cart(page, headphones, 2)
    page.get_by_role("link", name=re.compile(r"^Cart")).click()
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
    expect(page.get_by_role("link", name=laptop["title"])).to_be_visible()
    expect(page.get_by_role("link", name=headphones["title"])).to_be_visible()
    audit(page)
    screenshots.take(page, "shop-cart")

    checkout(page)
    expect_status(page, "Confirmed")
    audit(page)
    screenshots.take(page, "shop-order")

    stocked = products_in_stock(system, "laptop", count=1)[0]
    before = stock_of(system, stocked["id"])
    add_to_cart(page, stocked)
    checkout(page, CARD_DECLINED)
    expect_status(page, "Payment failed")
    expect(page.locator("#order-live")).to_contain_text("the card was declined")
    assert wait_for_stock(system, stocked["id"], before) == before  # the stock is back
    page.goto("/orders")
    expect(page.get_by_role("cell", name="Payment failed")).to_be_visible()
    expect(page.get_by_role("cell", name="Confirmed")).to_be_visible()
    audit(page)


def test_the_whole_shopper_journey(page: Page, system: System, screenshots: Screenshots) -> None:
    register(page, new_customer("Ada Journey"))
    search = page.get_by_role("search").get_by_label("Search")
    search.fill("labtop")
    search.press("Enter")

    expect(page.get_by_text("Showing results for “laptop”")).to_be_visible()
    filters = page.get_by_role("navigation", name="Filters")
    brand = filters.get_by_role("link").filter(has_text=re.compile(r"\(\d+\)")).first
    chosen = brand.inner_text().split(" (")[0]
    brand.click()
    expect(page.get_by_role("link", name=re.compile(f"Brand: {re.escape(chosen)}"))).to_be_visible()
    for card in page.locator(".product-card .brand-name").all():
        expect(card).to_have_text(chosen)
    audit(page)
    screenshots.take(page, "shop-search")

    _buy_two_then_fail_one(page, system, screenshots)


def test_a_customer_buys_two_products_and_a_declined_card_gives_the_stock_back(
    page: Page, system: System, screenshots: Screenshots
) -> None:
    register(page, new_customer("Ada Buyer"))
    page.goto("/")
    expect(page.get_by_role("heading", name="Categories")).to_be_visible()
    audit(page)
    screenshots.take(page, "shop-home")
    search = page.get_by_role("search").get_by_label("Search")
    search.fill("laptop")
    search.press("Enter")
    expect(page.get_by_role("heading", name="Results for “laptop”")).to_be_visible()
    page.get_by_label("Sort by").select_option("price_asc")
    page.get_by_role("button", name="Sort").click()
    prices = page.locator(".product-card .price").all_inner_texts()
    amounts = [float(p.strip("$").replace(",", "")) for p in prices]
    assert amounts == sorted(amounts) and amounts
    audit(page)

    _buy_two_then_fail_one(page, system, screenshots)

"""Every page of the shop audited by axe-core in a real browser: no serious or critical
violation, for a visitor and for a customer, with and without errors on the page.

Each page is also pictured (`docs/screenshots/` under MERCATO_SCREENSHOTS=1).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.client import System
from tests.support.browser import ON_NATS, Screenshots, audit, new_customer, register
from tests.support.shop_browser import add_to_cart, checkout, expect_status, products_in_stock

pytestmark = ON_NATS


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/", "Welcome to Mercato"),
        ("/category/laptops", "Laptops"),
        ("/search?q=laptop&sort=price_desc", "Results for “laptop”"),
        ("/search?q=qqqqzzzz", "Results for “qqqqzzzz”"),
        ("/search", "All products"),
        ("/cart", "Your cart"),
        ("/product/no-such-product", "Page not found"),
        ("/search?q=tea&after=garbage", "That request could not be understood"),
    ],
)
def test_a_visitors_page_has_no_serious_violation(
    page: Page, path: str, heading: str, screenshots: Screenshots
) -> None:
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    audit(page)
    if path == "/category/laptops":
        screenshots.take(page, "shop-category")


def test_a_product_page_in_and_out_of_stock(page: Page, system: System) -> None:
    product = products_in_stock(system, "laptop", count=1)[0]
    page.goto(f"/product/{product['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(product["title"])
    picture = page.locator(".gallery img").first  # the product's, or the placeholder's box
    expect(picture).to_have_attribute("width", "600")
    expect(picture).to_have_attribute("height", "600")
    audit(page)
    page.goto("/search?q=earbuds")
    sold_out = page.locator(".product-card").filter(has_text="Out of stock").first
    if sold_out.count():
        sold_out.get_by_role("link").click()
        expect(page.get_by_text("This product is out of stock at the moment.")).to_be_visible()
        audit(page)


def test_a_customers_pages_have_no_serious_violation(
    page: Page, system: System, screenshots: Screenshots
) -> None:
    register(page, new_customer("Ada Audit"))
    add_to_cart(page, products_in_stock(system, "speaker", count=1)[0])
    audit(page)
    page.goto("/cart")
    audit(page)
    page.goto("/checkout")
    audit(page)
    screenshots.take(page, "shop-checkout")
    page.get_by_role("button", name="Place order").click()  # nothing filled in
    expect(page.get_by_text("Card number is required.")).to_be_visible()
    audit(page)
    screenshots.take(page, "shop-checkout-errors")

    checkout(page)
    expect_status(page, "Confirmed")
    audit(page)
    page.goto("/orders")
    expect(page.get_by_role("heading", name="Your orders")).to_be_visible()
    audit(page)
    screenshots.take(page, "shop-orders")

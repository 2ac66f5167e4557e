"""A delivered order's return, and the shopper's mails, in a real browser.

Through the gateway of the whole system (`mercato up`, whose simulated carrier packs,
ships and delivers every shipment 20 s after its last move), by label and button
name, with axe on the order's page and the mails page.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from tests.e2e.client import System
from tests.support.browser import ON_NATS, audit, new_customer, register
from tests.support.shop_browser import (
    add_to_cart,
    expect_status,
    fill_checkout,
    products_in_stock,
)

pytestmark = ON_NATS
DELIVERY_SECONDS = 150  # three moves of the simulated carrier, and the events after them


def _checkout(page: Page) -> str:
    """Check the cart out; the order page's path. The delivery options may come once the
    country is posted (the form in two steps): the first one is then chosen."""
    page.goto("/checkout")
    fill_checkout(page)
    page.get_by_role("button", name="Place order").click()
    page.wait_for_load_state()
    if not re.search(r"/orders/[0-9a-f-]{36}$", page.url):
        expect(page.get_by_text(re.compile(r"Here is how we can deliver to"))).to_be_visible()
        page.get_by_role("group", name="Delivery").get_by_role("radio").first.check()
        fill_checkout(page)  # the card's fields are never kept
        page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    return "/orders/" + page.url.rsplit("/", 1)[1]


def _until_delivered(page: Page, order: str) -> None:
    """Show the order again until its lines may be returned (no script needed)."""
    deadline = time.monotonic() + DELIVERY_SECONDS
    form = page.get_by_role("form", name="Return items")
    while True:
        page.goto(order)
        if form.count() or time.monotonic() > deadline:
            break
        time.sleep(3)
    expect(form).to_be_visible()


def test_a_delivered_line_is_returned_and_the_mails_are_listed(page: Page, system: System) -> None:
    register(page, new_customer("Ada Returns"))
    product = products_in_stock(system, "speaker", count=1)[0]
    add_to_cart(page, product, 2)
    order = _checkout(page)
    expect_status(page, "Confirmed")

    _until_delivered(page, order)
    expect(page.get_by_text("Delivery status: Delivered")).to_be_visible()
    expect(page.get_by_role("heading", name="Shipment 1: Delivered")).to_be_visible()
    audit(page)

    page.get_by_label(f"How many of {product['title']} to return").fill("1")
    page.get_by_label("Reason").fill("It rattles")
    page.get_by_role("button", name="Return items").click()

    expect(page.get_by_text("Your return is requested.")).to_be_visible()
    expect(page.get_by_text("Reason: It rattles")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Requested: we will tell you"))).to_be_visible()
    expect(page.get_by_text("From 0 to 1.")).to_be_visible()

    page.goto("/account")
    page.get_by_role("link", name="Your mails").click()
    expect(page.get_by_role("heading", name="Your mails", level=1)).to_be_visible()
    expect(page.get_by_role("checkbox", name="Welcome to your account")).to_be_disabled()
    expect(page.get_by_role("cell", name="Order delivered").first).to_be_visible(timeout=20_000)
    audit(page)
    page.get_by_role("checkbox", name="Order shipped").uncheck()
    page.get_by_role("button", name="Save mail preferences").click()
    expect(page.get_by_text("Your mail preferences are saved.")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Order shipped")).not_to_be_checked()

"""Checkout in a real browser, as people actually do it: twice at once, by keyboard, without
JavaScript; and the page's enhancements: suggestions as you type; a visitor's cart.

Through the gateway of the whole system (`mercato up`), by label and button name.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from tests.e2e.client import System
from tests.support.browser import ON_NATS, audit, new_customer, register
from tests.support.shop_browser import (
    ADDRESS,
    CARD_OK,
    add_to_cart,
    expect_status,
    expiry,
    fill_checkout,
    products_in_stock,
    stock_of,
    tab_to,
    wait_for_stock,
)

pytestmark = ON_NATS


def _order_rows(page: Page) -> int:
    page.goto("/orders")
    return page.locator("table.orders tbody tr").count()


def test_a_double_click_and_a_resubmit_of_checkout_place_one_order(
    page_nojs: Page, system: System
) -> None:
    page = page_nojs  # no script to disable the button: both clicks post the form
    register(page, new_customer("Ada Double"))
    product = products_in_stock(system, "earbuds", count=1)[0]
    before = stock_of(system, product["id"])
    add_to_cart(page, product)
    page.goto("/checkout")
    fill_checkout(page)

    page.get_by_role("button", name="Place order").dblclick()
    page.wait_for_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    order = urlsplit(page.url).path
    page.reload()  # the order's page again (the post was answered with a redirect)
    assert urlsplit(page.url).path == order

    assert _order_rows(page) == 1
    assert wait_for_stock(system, product["id"], before - 1) == before - 1


def test_checkout_with_the_keyboard_alone(page: Page, system: System) -> None:
    register(page, new_customer("Ada Keys"))
    product = products_in_stock(system, "speaker", count=1)[0]
    page.goto(f"/product/{product['id']}")
    add = page.get_by_role("button", name="Add to cart")
    tab_to(page, add)
    page.keyboard.press("Enter")
    expect(page.get_by_text(re.compile(r"Added 1 × .+ to your cart\."))).to_be_visible()

    cart = page.get_by_role("link", name=re.compile(r"^Cart"))
    tab_to(page, cart, backwards=True)  # the focus stayed on the button: back to the header
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
    tab_to(page, page.get_by_role("button", name="Checkout"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Checkout", exact=True)).to_be_visible()
    for label, value in ADDRESS.items():
        tab_to(page, page.get_by_label(label, exact=True))
        page.keyboard.press("Control+A")
        page.keyboard.type(value)
    new_card = page.get_by_role("radio", name="A new card")
    if new_card.count():  # a radio group is one stop of the Tab key; arrows choose in it
        tab_to(page, page.get_by_role("radio", checked=True))
        for _ in range(10):
            if new_card.is_checked():
                break
            page.keyboard.press("ArrowDown")
        expect(new_card).to_be_checked()
    for label, value in (("Card number", CARD_OK), ("Expiry", expiry()), ("CVC", "123")):
        tab_to(page, page.get_by_label(label))
        page.keyboard.type(value)
    tab_to(page, page.get_by_role("button", name="Place order"))
    page.keyboard.press("Enter")

    expect_status(page, "Confirmed")


def test_a_shopper_without_javascript_buys_and_follows_the_order(
    page_nojs: Page, system: System
) -> None:
    page = page_nojs
    register(page, new_customer("Ada Plain"))
    search = page.get_by_role("search").get_by_label("Search")
    search.fill("headphones")
    page.get_by_role("search").get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="Results for “headphones”")).to_be_visible()
    product = products_in_stock(system, "headphones", count=1)[0]
    page.get_by_role("link", name=product["title"]).first.click()
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_text(re.compile(r"Added 2 × .+ to your cart\."))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^Cart 2 items"))).to_be_visible()

    page.get_by_role("link", name=re.compile(r"^Cart")).click()
    page.get_by_role("button", name="Checkout").click()
    fill_checkout(page)
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/orders/[0-9a-f-]{36}$"))

    for _ in range(40):  # no script follows the status: the link shows it again
        if page.locator("#order-live .status-word").inner_text() == "Confirmed":
            break
        page.get_by_role("link", name="Show the latest status").click()
        page.wait_for_timeout(500)
    expect_status(page, "Confirmed")  # (axe needs scripts: the pages are audited with them)


def test_bad_input_at_checkout_is_shown_beside_each_field(page: Page, system: System) -> None:
    register(page, new_customer("Ada Typo"))
    add_to_cart(page, products_in_stock(system, "earbuds", count=1)[0])
    page.goto("/checkout")
    fill_checkout(page)
    page.get_by_label("Country", exact=True).fill("G1")
    page.get_by_label("Expiry").fill("13/99")

    page.get_by_role("button", name="Place order").click()

    country = page.get_by_label("Country", exact=True)
    expect(country).to_have_attribute("aria-invalid", "true")
    expect(country).to_be_focused()  # the first field in error takes the focus
    expect(
        page.get_by_text("Country must be a two-letter code, such as GB, DE or US.")
    ).to_be_visible()
    expect(page.get_by_text("Expiry must be a month from 01 to 12")).to_be_visible()
    expect(page.get_by_label("Card number")).to_have_value(CARD_OK)
    expect(page.get_by_label("CVC")).to_have_value("")
    audit(page)


def test_the_search_box_suggests_products_as_you_type(page: Page, system: System) -> None:
    page.goto("/")
    search = page.get_by_role("combobox", name="Search")

    search.press_sequentially("headphones", delay=40)

    listbox = page.get_by_role("listbox", name="Suggestions")
    expect(listbox.get_by_role("option").first).to_be_visible()
    expect(search).to_have_attribute("aria-expanded", "true")
    first = listbox.get_by_role("option").first.inner_text()
    search.press("ArrowDown")
    expect(listbox.get_by_role("option").first).to_have_attribute("aria-selected", "true")
    audit(page)
    search.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(first)


def test_a_visitors_cart_comes_with_them_when_they_log_in(page: Page, system: System) -> None:
    customer = new_customer("Ada Later")
    register(page, customer)
    page.get_by_role("button", name="Log out").click()
    product = products_in_stock(system, "speaker", count=1)[0]
    page.goto(f"/product/{product['id']}")
    page.get_by_label("Quantity").fill("2")

    page.get_by_role("button", name="Add to cart").click()

    expect(page.get_by_role("link", name=re.compile(r"^Cart 2 items"))).to_be_visible()
    page.get_by_role("link", name=re.compile(r"^Cart")).click()
    expect(page.get_by_role("link", name=product["title"])).to_be_visible()
    audit(page)
    page.get_by_role("button", name="Checkout").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(customer.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Checkout", level=1)).to_be_visible()
    expect(page.get_by_text(f"2 × {product['title']}")).to_be_visible()

"""A shopper's steps through the shop's pages in a real browser, and the catalog behind them.

The steps go by label and button name, as a person does (`add_to_cart`, `checkout`,
`expect_status`); `tab_to` reaches an element with the Tab key alone, failing if the
keyboard cannot get there. The catalog is read through the gateway's public API to
choose products that have stock (`products_in_stock`) and to see the stock change
(`stock_of`, `wait_for_stock`).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.e2e.client import System

CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0002"
ADDRESS = {
    "Name": "Ada Browser",
    "Address": "1 Analytical Row",
    "City": "London",
    "Postal code": "N1 9GU",
    "Country": "GB",
}
SETTLE_MS = 20_000  # a saga settles in about a second; a busy machine takes longer


def expiry() -> str:
    """An expiry a few years ahead, as a shopper types it: `MM/YY`."""
    return f"12/{(datetime.now(UTC).year + 3) % 100:02d}"


def _api(system: System) -> httpx.Client:
    return httpx.Client(base_url=system.base_url, timeout=10, trust_env=False)


def products_in_stock(
    system: System, q: str, *, count: int, minimum: int = 5
) -> list[dict[str, Any]]:
    """`count` products matching `q` with at least `minimum` in stock, the most stocked first."""
    with _api(system) as api:
        found = api.get("/api/catalog/products", params={"q": q, "limit": 100}).json()["items"]
    stocked = sorted((p for p in found if p["stock"] >= minimum), key=lambda p: -p["stock"])
    assert len(stocked) >= count, f"fewer than {count} products for {q!r} have stock"
    return stocked[:count]


def stock_of(system: System, product_id: str) -> int:
    """A product's available stock, as the catalog says now."""
    with _api(system) as api:
        return int(api.get(f"/api/catalog/products/{product_id}").json()["stock"])


def wait_for_stock(system: System, product_id: str, expected: int, seconds: float = 20) -> int:
    """The product's stock once it is `expected` (or as it is after `seconds`)."""
    deadline = time.monotonic() + seconds
    while True:
        stock = stock_of(system, product_id)
        if stock == expected or time.monotonic() > deadline:
            return stock
        time.sleep(0.2)


def add_to_cart(page: Page, product: dict[str, Any], quantity: int = 1) -> None:
    """Open the product's page and add `quantity` of it; the shop then says it was added."""
    page.goto(f"/product/{product['id']}")
    page.get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_text(re.compile(rf"Added {quantity} × .+ to your cart\."))).to_be_visible()


def fill_checkout(page: Page, card: str = CARD_OK) -> None:
    """On the checkout page: the address, then a new card."""
    for label, value in ADDRESS.items():
        page.get_by_label(label, exact=True).fill(value)
    new_card = page.get_by_role("radio", name="A new card")
    if new_card.count():
        new_card.check()
    page.get_by_label("Card number").fill(card)
    page.get_by_label("Expiry").fill(expiry())
    page.get_by_label("CVC").fill("123")


def checkout(page: Page, card: str = CARD_OK) -> str:
    """From the cart, check out with a new card; the order page's path."""
    page.goto("/cart")
    page.get_by_role("button", name="Checkout").click()
    expect(page.get_by_role("heading", name="Checkout", exact=True)).to_be_visible()
    fill_checkout(page, card)
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/orders/[0-9a-f-]{36}$"))
    return urlsplit(page.url).path


def status_word(page: Page) -> Locator:
    """Where the order page shows its status as a word."""
    return page.locator("#order-live .status-word")


def expect_status(page: Page, word: str) -> None:
    """The order page shows `word` (followed live by its script)."""
    expect(status_word(page)).to_have_text(word, timeout=SETTLE_MS)


def tab_to(page: Page, target: Locator, *, presses: int = 80, backwards: bool = False) -> None:
    """Press Tab (Shift+Tab) until `target` has the focus; fail if the keyboard cannot."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(presses):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{target} cannot be reached with the {key} key")

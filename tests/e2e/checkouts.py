"""Customers checking out through the gateway while a test takes part of the system away.

`prepare_shoppers` makes new customers, each with a card and one unit of a product
(`well_stocked_product`) in the cart; `post_checkout` posts one's checkout on a
connection of its own (from a thread: the fault tests post them all at once) and
records what the gateway answered in its `Attempt`; `order_of` waits (bounded) for
an order to settle. Shared by the fault tests (`test_faults.py`, `test_broker_pause.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.client import (
    ADDRESS,
    TERMINAL,
    Account,
    Shop,
    add_card,
    eventually,
    fill_cart,
    products_in_stock,
)
from tests.e2e.invariants import SETTLE_TIMEOUT, get_json

__all__ = [
    "GOOD_CARD",
    "POST_TIMEOUT",
    "Attempt",
    "Shopper",
    "order_of",
    "post_checkout",
    "prepare_shoppers",
    "well_stocked_product",
]

GOOD_CARD = "4242424242424242"
POST_TIMEOUT = 30.0  # one checkout through the gateway (the saga waits up to 8 s)


@dataclass
class Shopper:
    """A customer with a saved card and one unit of the product in the cart."""

    account: Account
    method_id: str


@dataclass
class Attempt:
    """One checkout POST: the customer, its idempotency key and what the gateway said."""

    shopper: Shopper
    key: str
    status: int | None = None
    order_id: str | None = None
    error: str | None = None


def well_stocked_product(shop: Shop, at_least: int) -> dict[str, Any]:
    """A demo product with at least `at_least` units available, the most stocked first."""
    product: dict[str, Any] = max(products_in_stock(shop), key=lambda p: int(p["stock"]))
    assert product["stock"] >= at_least, f"no demo product has {at_least} units: {product}"
    return product


def prepare_shoppers(shop: Shop, product_id: str, count: int) -> list[Shopper]:
    """`count` new customers, each with a card and one unit of the product in the cart."""
    shoppers = []
    for _ in range(count):
        account = shop.new_customer()
        method_id = add_card(shop, account, GOOD_CARD)
        fill_cart(shop, account, product_id, 1)
        shoppers.append(Shopper(account, method_id))
    return shoppers


def post_checkout(base_url: str, attempt: Attempt) -> Attempt:
    """POST /api/orders for one shopper on its own connection; records the outcome."""
    headers = {**attempt.shopper.account.headers, "Idempotency-Key": attempt.key}
    body = {"payment_method_id": attempt.shopper.method_id, "shipping_address": ADDRESS}
    try:
        with httpx.Client(base_url=base_url, timeout=POST_TIMEOUT, trust_env=False) as http:
            response = http.post("/api/orders", json=body, headers=headers)
    except httpx.HTTPError as exc:
        attempt.error = repr(exc)
        return attempt
    attempt.status = response.status_code
    if response.status_code == 201:
        attempt.order_id = str(response.json()["id"])
    else:
        attempt.error = response.text[:300]
    return attempt


def order_of(shop: Shop, account: Account, order_id: str) -> dict[str, Any]:
    """One order, once it is settled (bounded wait)."""

    def probe() -> dict[str, Any] | None:
        order = get_json(shop, f"/api/orders/{order_id}", account.headers)
        return order if order is not None and order["status"] in TERMINAL else None

    found: dict[str, Any] = eventually(probe, timeout=SETTLE_TIMEOUT, interval=0.5)
    return found

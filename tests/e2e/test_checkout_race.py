"""The last units end to end: 50 customers check out at once for 10 units, through the gateway.

An admin creates a product with 10 units; 50 new customers each put one in their
cart and all post `POST /api/orders` at the same moment (one thread and connection
each). Exactly 10 orders are confirmed and 40 are out of stock, the product has
nothing left on hand or reserved, and payments holds exactly 10 successful charges,
each the payment of one of the confirmed orders (no charge without an order).

A checkout answered 409/502/503/504 while the saga still runs, or 429 (the gateway
rate-limits per client address, and every thread here is 127.0.0.1; the e2e system's
limits are set high, a deployment's may not be) is posted again with the same
idempotency key, which cannot make a second order.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.checkouts import POST_TIMEOUT, Attempt, Shopper, post_checkout, prepare_shoppers
from tests.e2e.client import Account, Shop, System
from tests.e2e.invariants import admin_product, payments_of, settled_orders

pytestmark = pytest.mark.e2e

UNITS = 10
CUSTOMERS = 50
AGAIN_STATUSES = {409, 429, 502, 503, 504}  # the checkout may be posted again, same key
ANSWER_TIMEOUT = 60.0  # how long one customer keeps posting their checkout


def new_product(shop: Shop, admin: Account, stock: int) -> str:
    """A product created by the admin with `stock` units; its id."""
    body = {
        "sku": f"RACE-{uuid.uuid4().hex[:12]}",
        "title": "The last units",
        "price": {"amount": 1999, "currency": "USD"},
        "stock": stock,
    }
    response = shop.http.post("/api/catalog/products", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def checkout_until_answered(base_url: str, shopper: Shopper) -> Attempt:
    """Post one customer's checkout until it is accepted (201), always with the same key."""
    attempt = Attempt(shopper, str(uuid.uuid4()))
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while True:
        post_checkout(base_url, attempt)
        again = attempt.status in AGAIN_STATUSES or attempt.status is None
        if not again or time.monotonic() >= deadline:
            return attempt
        time.sleep(0.5)


def test_fifty_concurrent_checkouts_for_the_last_ten_units_confirm_exactly_ten(
    shop: Shop, system: System, admin: Account
) -> None:
    product_id = new_product(shop, admin, UNITS)
    shoppers = prepare_shoppers(shop, product_id, CUSTOMERS)

    with ThreadPoolExecutor(max_workers=CUSTOMERS) as pool:
        futures = [pool.submit(checkout_until_answered, system.base_url, s) for s in shoppers]
        attempts = [f.result(timeout=ANSWER_TIMEOUT + POST_TIMEOUT) for f in futures]

    refused = [(a.status, a.error) for a in attempts if a.status != 201]
    assert not refused, refused
    orders = settled_orders(shop, [shopper.account for shopper in shoppers])
    assert all(len(mine) == 1 for mine in orders.values()), orders
    final = {mine[0]["id"]: mine[0] for mine in orders.values()}
    assert set(final) == {a.order_id for a in attempts}
    statuses = Counter(order["status"] for order in final.values())
    assert statuses == {"confirmed": UNITS, "out_of_stock": CUSTOMERS - UNITS}, statuses

    product = admin_product(shop, admin.headers, product_id)
    assert (product["stock"], product["on_hand"], product["reserved"]) == (0, 0, 0), product

    charges: list[dict[str, Any]] = []
    for shopper in shoppers:
        charges += payments_of(shop, admin.headers, shopper.account.id)
    succeeded = [c for c in charges if c["status"] == "succeeded"]
    assert len(succeeded) == UNITS, charges
    confirmed = {o["id"]: o["payment_id"] for o in final.values() if o["status"] == "confirmed"}
    assert {c["order_id"]: c["id"] for c in succeeded} == confirmed
    assert all(c["refunded_amount"]["amount"] == 0 for c in succeeded), succeeded
    assert len(charges) == UNITS, charges  # an order out of stock never reached payments

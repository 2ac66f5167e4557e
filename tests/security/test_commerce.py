"""Commerce rules a customer could abuse or trip over, tried through the real gateway.

One test per item of the hardening issue that shows at the edge (`mercato up`, the
e2e fixtures): a cart that would add yen to dollars (15), an order that could not be
cancelled once refunded (16), a free product that could not be bought and a quantity
answered as malformed JSON (17), a provider timeout recorded as a failure although
the money may have moved, and concurrent card saves that passed the per-user limit.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.client import (
    ADDRESS,
    TERMINAL,
    Account,
    Shop,
    System,
    add_card,
    eventually,
    fill_cart,
)
from tests.e2e.invariants import admin_product, assert_no_order_overdue, payments_of

# The rules hold whatever the broker: the e2e checkout suites run on both, these on NATS.
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["nats"], indirect=True)]

GOOD_CARD = "4242424242424242"
TIMEOUT_CARD = "4000000000000119"
MAX_METHODS = 20  # payments' limit of saved cards per customer
SETTLE = 30.0
# A timed-out charge is looked up at the provider once its attempt is older than
# payments' lease (the e2e system's CHARGE_LEASE_SECONDS); orders then learns the
# outcome at its next try. A bound, not an expectation: it takes seconds.
RECONCILED = 90.0


def new_product(shop: Shop, admin: Account, *, amount: int, currency: str, stock: int = 5) -> str:
    """A product an admin creates through the gateway; its id."""
    body = {
        "sku": f"SEC-{uuid.uuid4().hex[:12]}",
        "title": f"Security {currency} {amount}",
        "price": {"amount": amount, "currency": currency},
        "stock": stock,
    }
    response = shop.http.post("/api/catalog/products", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def put_line(shop: Shop, customer: Account, product_id: str, quantity: Any) -> httpx.Response:
    """PUT a cart line through the gateway."""
    path = f"/api/orders/cart/items/{product_id}"
    return shop.http.put(path, json={"quantity": quantity}, headers=customer.headers)


def place(shop: Shop, customer: Account, method_id: str) -> httpx.Response:
    """POST /api/orders with a fresh key."""
    return shop.http.post(
        "/api/orders",
        json={"payment_method_id": method_id, "shipping_address": ADDRESS},
        headers={**customer.headers, "Idempotency-Key": str(uuid.uuid4())},
    )


def settled(shop: Shop, customer: Account, order_id: str, timeout: float = SETTLE) -> Any:
    """The order once it is settled (bounded wait)."""

    def probe() -> Any:
        order = shop.http.get(f"/api/orders/{order_id}", headers=customer.headers).json()
        return order if order["status"] in TERMINAL else None

    return eventually(probe, timeout=timeout, interval=0.5)


def test_15_a_cart_holds_one_currency(shop: Shop, customer: Account, admin: Account) -> None:
    dollars = new_product(shop, admin, amount=10000, currency="USD")
    yen = new_product(shop, admin, amount=100, currency="JPY")
    assert put_line(shop, customer, dollars, 1).status_code == 200

    refused = put_line(shop, customer, yen, 1)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    [error] = refused.json()["errors"]
    assert (error["field"], error["type"]) == (f"items.{yen}.product_id", "currency_mismatch")
    cart = shop.http.get("/api/orders/cart", headers=customer.headers).json()
    assert cart["total"] == {"amount": 10000, "currency": "USD"}  # not "10,100 JPY"
    assert [line["product_id"] for line in cart["items"]] == [dollars]

    # A price moved to another currency after it was added: out of the total, and
    # checkout refuses it with a 422 naming it (it used to end out_of_stock).
    cake = new_product(shop, admin, amount=500, currency="USD")
    assert put_line(shop, customer, cake, 1).status_code == 200
    moved = shop.http.patch(
        f"/api/catalog/products/{cake}",
        json={"price": {"amount": 50, "currency": "JPY"}},
        headers=admin.headers,
    )
    assert moved.status_code == 200, moved.text
    cart = shop.http.get("/api/orders/cart", headers=customer.headers).json()
    assert cart["total"] == {"amount": 10000, "currency": "USD"}
    checkout = place(shop, customer, add_card(shop, customer, GOOD_CARD))
    assert checkout.status_code == 422, checkout.text
    assert [e["field"] for e in checkout.json()["errors"]] == [f"items.{cake}.product_id"]


def test_16_an_order_refunded_in_full_can_still_be_cancelled(
    shop: Shop, customer: Account, admin: Account
) -> None:
    product = new_product(shop, admin, amount=1500, currency="USD", stock=4)
    before = admin_product(shop, admin.headers, product)
    fill_cart(shop, customer, product, 2)
    placed = place(shop, customer, add_card(shop, customer, GOOD_CARD))
    assert placed.status_code == 201, placed.text
    order = settled(shop, customer, placed.json()["id"])
    assert order["status"] == "confirmed", order
    refund = shop.http.post(
        f"/api/payments/{order['payment_id']}/refunds",
        json={"reason": "goodwill"},
        headers={**admin.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert refund.status_code == 201, refund.text

    cancel = shop.http.post(f"/api/orders/{order['id']}/cancel", headers=customer.headers)

    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["status"] == "cancelled", cancel.json()  # it stayed cancelling
    now = admin_product(shop, admin.headers, product)
    assert (now["on_hand"], now["reserved"]) == (before["on_hand"], before["reserved"])
    [payment] = [p for p in payments_of(shop, admin.headers, customer.id)]
    assert payment["refunded_amount"] == payment["amount"]
    refunds = shop.http.get(f"/api/payments/{payment['id']}/refunds", headers=admin.headers)
    assert [r["reason"] for r in refunds.json()["items"]] == ["goodwill"]  # no second refund
    assert_no_order_overdue(shop, [customer])


def test_17_a_free_product_can_be_bought(shop: Shop, customer: Account, admin: Account) -> None:
    free = new_product(shop, admin, amount=0, currency="USD")
    fill_cart(shop, customer, free, 1)

    placed = place(shop, customer, add_card(shop, customer, GOOD_CARD))

    assert placed.status_code == 201, placed.text
    order = settled(shop, customer, placed.json()["id"])
    assert order["status"] == "confirmed", order  # it was payment_failed: "amount"
    # The item costs nothing; the delivery is what is charged (a zero total, charged
    # nothing at all, is tests/service/test_orders_free.py's, where no delivery is).
    assert order["subtotal"]["amount"] == 0 and order["shipping"]["amount"] > 0
    assert order["total"] == order["shipping"]
    [payment] = payments_of(shop, admin.headers, customer.id)
    assert payment["id"] == order["payment_id"] and payment["amount"] == order["total"]


@pytest.mark.parametrize("quantity", [10**20, 2**64])
def test_17_a_huge_quantity_is_a_422_naming_quantity(
    shop: Shop, customer: Account, admin: Account, quantity: int
) -> None:
    product = new_product(shop, admin, amount=100, currency="USD")
    response = put_line(shop, customer, product, quantity)
    assert response.status_code == 422, response.text  # it was a 400 "bad request"
    assert [e["field"] for e in response.json()["errors"]] == ["quantity"]


def test_a_provider_timeout_is_not_a_failure_until_the_provider_is_asked(
    shop: Shop, customer: Account, admin: Account
) -> None:
    product = new_product(shop, admin, amount=700, currency="USD", stock=3)
    fill_cart(shop, customer, product, 1)

    placed = place(shop, customer, add_card(shop, customer, TIMEOUT_CARD))

    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] == "charging", placed.json()  # it was payment_failed at once
    [payment] = payments_of(shop, admin.headers, customer.id)
    assert (payment["status"], payment["reason"]) == ("unknown", "provider_timeout")
    assert admin_product(shop, admin.headers, product)["reserved"] == 1  # still held
    # Reconciled: the simulated provider holds no charge of the timeout card.
    order = settled(shop, customer, placed.json()["id"], timeout=RECONCILED)
    assert order["status"] == "payment_failed" and "provider_timeout" in order["reason"]
    [payment] = payments_of(shop, admin.headers, customer.id)
    assert (payment["status"], payment["reason"]) == ("failed", "provider_timeout")
    assert admin_product(shop, admin.headers, product)["reserved"] == 0


def test_concurrent_card_saves_stop_at_the_limit(system: System, customer: Account) -> None:
    card = {"card_number": GOOD_CARD, "exp_month": 12, "exp_year": 2035, "cvc": "123"}
    first = MAX_METHODS - 4
    racing = 4 + 8

    def save(_: int) -> int:
        with httpx.Client(base_url=system.base_url, timeout=15.0, trust_env=False) as http:
            response = http.post("/api/payments/methods", json=card, headers=customer.headers)
            return response.status_code

    with httpx.Client(base_url=system.base_url, timeout=15.0, trust_env=False) as http:
        for _ in range(first):
            response = http.post("/api/payments/methods", json=card, headers=customer.headers)
            assert response.status_code == 201, response.text
        with ThreadPoolExecutor(max_workers=racing) as pool:
            statuses = sorted(pool.map(save, range(racing)))
        saved = http.get("/api/payments/methods", headers=customer.headers).json()["items"]

    assert statuses == [201] * 4 + [409] * (racing - 4), statuses
    assert len(saved) == MAX_METHODS

"""The commerce flow end to end, through the gateway only: cart, card, checkout, cancel, audit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

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
from tests.e2e.invariants import assert_no_order_overdue

pytestmark = pytest.mark.e2e


def stocked_product(shop: Shop, at_least: int) -> dict[str, Any]:
    """A demo product with at least `at_least` units available."""
    product: dict[str, Any] = next(p for p in products_in_stock(shop) if p["stock"] >= at_least)
    return product


def stock_of(shop: Shop, product_id: str) -> int:
    """The available stock of a product, as the public catalog shows it."""
    return int(shop.http.get(f"/api/catalog/products/{product_id}").json()["stock"])


def checkout(shop: Shop, customer: Account, method_id: str, key: str) -> Any:
    """Place the order and wait for its saga to end; the final order."""
    response = shop.http.post(
        "/api/orders",
        json={"payment_method_id": method_id, "shipping_address": ADDRESS},
        headers={**customer.headers, "Idempotency-Key": key},
    )
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]

    def finished() -> Any:
        order = shop.http.get(f"/api/orders/{order_id}", headers=customer.headers).json()
        return order if order["status"] in TERMINAL else None

    return eventually(finished, timeout=20)


def audit_types(shop: Shop, admin: Account, order_id: str, expected: set[str]) -> list[str]:
    """The event types the audit log holds for an order, once all `expected` are in."""

    def probe() -> list[str] | None:
        response = shop.http.get(
            "/api/logs/events", params={"order_id": order_id, "limit": 100}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        types = [item["type"] for item in response.json()["items"]]
        return types if expected <= set(types) else None

    return eventually(probe, timeout=20)


def test_a_customer_checks_out_and_the_audit_log_tells_the_story(
    shop: Shop, customer: Account, admin: Account
) -> None:
    product = stocked_product(shop, 3)
    before = stock_of(shop, product["id"])
    method = add_card(shop, customer, "4242424242424242")
    fill_cart(shop, customer, product["id"], 2)
    cart = shop.http.get("/api/orders/cart", headers=customer.headers).json()
    assert cart["total"]["amount"] == 2 * product["price"]["amount"]

    key = str(uuid.uuid4())
    order = checkout(shop, customer, method, key)

    assert order["status"] == "confirmed", order
    assert order["subtotal"]["amount"] == 2 * product["price"]["amount"]
    # The cheapest delivery is charged on top (shipping's quote; no code here).
    assert order["shipping"]["amount"] > 0 and order["discount"]["amount"] == 0
    assert order["total"]["amount"] == order["subtotal"]["amount"] + order["shipping"]["amount"]
    assert [h["status"] for h in order["history"]][-1] == "confirmed"
    assert stock_of(shop, product["id"]) == before - 2
    again = shop.http.post(
        "/api/orders",
        json={"payment_method_id": method, "shipping_address": ADDRESS},
        headers={**customer.headers, "Idempotency-Key": key},
    )
    assert again.status_code == 201 and again.json()["id"] == order["id"]
    expected = {"order.placed", "inventory.reserved", "payment.succeeded", "order.confirmed"}
    story = audit_types(shop, admin, order["id"], expected)
    assert all(story.count(event_type) == 1 for event_type in expected), story
    assert story.index("order.placed") < story.index("payment.succeeded")
    assert story.index("payment.succeeded") < story.index("order.confirmed")
    assert_no_order_overdue(shop, [customer])


def test_a_declined_card_fails_the_order_and_releases_the_stock(
    shop: Shop, customer: Account
) -> None:
    product = stocked_product(shop, 2)
    before = stock_of(shop, product["id"])
    method = add_card(shop, customer, "4000000000000002")
    fill_cart(shop, customer, product["id"], 1)

    order = checkout(shop, customer, method, str(uuid.uuid4()))

    assert order["status"] == "payment_failed", order
    assert eventually(lambda: True if stock_of(shop, product["id"]) == before else None)
    assert_no_order_overdue(shop, [customer])


def test_cancelling_a_confirmed_order_refunds_and_restocks(
    shop: Shop, customer: Account, admin: Account
) -> None:
    product = stocked_product(shop, 2)
    before = stock_of(shop, product["id"])
    method = add_card(shop, customer, "4242424242424242")
    fill_cart(shop, customer, product["id"], 1)
    order = checkout(shop, customer, method, str(uuid.uuid4()))
    assert order["status"] == "confirmed", order

    response = shop.http.post(f"/api/orders/{order['id']}/cancel", headers=customer.headers)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert stock_of(shop, product["id"]) == before
    audit_types(shop, admin, order["id"], {"payment.refunded", "order.cancelled"})
    assert_no_order_overdue(shop, [customer])


def test_another_customers_order_and_card_are_not_found(shop: Shop, customer: Account) -> None:
    product = stocked_product(shop, 1)
    method = add_card(shop, customer, "4242424242424242")
    fill_cart(shop, customer, product["id"], 1)
    order = checkout(shop, customer, method, str(uuid.uuid4()))
    stranger = shop.new_customer("Eve")

    assert shop.http.get(f"/api/orders/{order['id']}", headers=stranger.headers).status_code == 404
    own_methods = shop.http.get(f"/api/payments/methods/{method}", headers=stranger.headers)
    assert own_methods.status_code == 404
    empty = shop.http.post(
        "/api/orders",
        json={"payment_method_id": method, "shipping_address": ADDRESS},
        headers={**stranger.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert empty.status_code == 422
    assert_no_order_overdue(shop, [customer, stranger])

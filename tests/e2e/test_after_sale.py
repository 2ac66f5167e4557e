"""After the checkout, end to end through the gateway: a checkout with a discount code and
express delivery, shipped with tracking, delivered, returned whole and refunded, and the
mails each step sent, read from the development mail sink.

The services meet only through the gateway and the broker here: orders prices the
delivery from shipping's quotes and the code from its own table; shipping makes the
shipment from `order.confirmed`; the admin moves it; the customer's return, once
received, is refunded by orders' return saga (items less the code's share, plus the
delivery, since the whole order came back) and its stock put back; notifications mails
the customer at each step. Runs on the NATS system (the broker does not change what it
proves; the other e2e tests run both).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.client import (
    ADDRESS,
    Account,
    Shop,
    System,
    add_card,
    eventually,
    fill_cart,
    products_in_stock,
)
from tests.e2e.test_notification_delivery import sunk

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["nats"], indirect=True)]

STORY = [
    "order.placed",
    "order.confirmed",
    "shipment.created",
    "shipment.shipped",
    "shipment.delivered",
    "return.requested",
    "return.accepted",
    "return.received",
    "order.returned",
]


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _stock(shop: Shop, product_id: str) -> int:
    return int(_ok(shop.http.get(f"/api/catalog/products/{product_id}"))["stock"])


def _placed(shop: Shop, customer: Account, admin: Account) -> tuple[dict[str, Any], str, int]:
    """An order of two units with a 10 % code and express delivery; its product, stock."""
    code = f"E2E{uuid.uuid4().hex[:6].upper()}"
    made = {"code": code, "kind": "percent", "value": 10}
    _ok(shop.http.post("/api/orders/discounts", json=made, headers=admin.headers), 201)
    product = next(p for p in products_in_stock(shop) if p["stock"] >= 3)
    method = add_card(shop, customer, "4242424242424242")
    fill_cart(shop, customer, product["id"], 2)
    quotes = _ok(
        shop.http.get(
            "/api/orders/cart/shipping", params={"country": "GB"}, headers=customer.headers
        )
    )
    assert quotes["charged"] is True
    express = next(q for q in quotes["items"] if q["method"] == "express")
    stock = _stock(shop, product["id"])
    body = {
        "payment_method_id": method,
        "shipping_address": ADDRESS,
        "shipping_method": "express",
        "discount_code": code.lower(),
    }
    headers = {**customer.headers, "Idempotency-Key": str(uuid.uuid4())}
    order = _ok(shop.http.post("/api/orders", json=body, headers=headers), 201)
    items = 2 * product["price"]["amount"]
    discount = (items + 5) // 10  # 10 %, rounded half up to the cent
    assert order["subtotal"]["amount"] == items and order["discount"]["amount"] == discount
    assert order["shipping"]["amount"] == express["price"]["amount"]
    assert order["total"]["amount"] == items - discount + express["price"]["amount"]
    return order, product["id"], stock


def _order(shop: Shop, customer: Account, order_id: str) -> dict[str, Any]:
    return _ok(shop.http.get(f"/api/orders/{order_id}", headers=customer.headers))


def _when(
    shop: Shop, customer: Account, order_id: str, key: str, value: str, *, timeout: float = 20
) -> dict[str, Any]:
    """The order once its `key` is `value`."""

    def probe() -> dict[str, Any] | None:
        order = _order(shop, customer, order_id)
        return order if order[key] == value else None

    return eventually(probe, timeout=timeout)


def test_an_order_is_shipped_delivered_returned_and_refunded_with_a_mail_at_each_step(
    system: System, shop: Shop, customer: Account, admin: Account
) -> None:
    order, product_id, stock = _placed(shop, customer, admin)
    order_id = order["id"]
    confirmed = _when(shop, customer, order_id, "status", "confirmed")
    assert _stock(shop, product_id) == stock - 2

    def shipment() -> dict[str, Any] | None:
        listed = _ok(
            shop.http.get(
                "/api/shipping/shipments", params={"order_id": order_id}, headers=customer.headers
            )
        )
        return listed["items"][0] if listed["items"] else None

    made = eventually(shipment, timeout=20)
    url = f"/api/shipping/shipments/{made['id']}"
    tracking = f"1Z{uuid.uuid4().hex[:10].upper()}"
    _ok(shop.http.post(f"{url}/pack", headers=admin.headers))
    _ok(
        shop.http.post(
            f"{url}/ship",
            json={"carrier": "Mercato Post", "tracking_number": tracking},
            headers=admin.headers,
        )
    )
    # Shipped: the order says so, and can no longer be cancelled.
    _when(shop, customer, order_id, "fulfilment", "shipped")
    cancel = shop.http.post(f"/api/orders/{order_id}/cancel", headers=customer.headers)
    assert cancel.status_code == 409, cancel.text
    _ok(shop.http.post(f"{url}/deliver", headers=admin.headers))

    asked = {
        "order_id": order_id,
        "items": [{"product_id": product_id, "quantity": 2}],
        "reason": "Not as pictured.",
    }
    back = _ok(shop.http.post("/api/shipping/returns", json=asked, headers=customer.headers), 201)
    for move in ("accept", "receive"):
        _ok(shop.http.post(f"/api/shipping/returns/{back['id']}/{move}", headers=admin.headers))

    returned = _when(shop, customer, order_id, "fulfilment", "returned", timeout=30)
    assert returned["status"] == "confirmed"
    payment = _ok(
        shop.http.get(f"/api/payments/{confirmed['payment_id']}", headers=customer.headers)
    )
    assert payment["refunded_amount"] == order["total"]  # the whole order, delivery too
    assert _stock(shop, product_id) == stock

    def refunded() -> dict[str, Any] | None:
        path = f"/api/shipping/returns/{back['id']}"
        found = _ok(shop.http.get(path, headers=customer.headers))
        return found if found["status"] == "refunded" else None

    eventually(refunded, timeout=20)  # shipping learnt it from `order.returned`

    def story() -> list[str] | None:
        found = _ok(
            shop.http.get(
                "/api/logs/events",
                params={"order_id": order_id, "limit": 100},
                headers=admin.headers,
            )
        )
        types = [e["type"] for e in found["items"]]
        return types if set(types) >= set(STORY) else None

    assert set(eventually(story, timeout=20)) >= set(STORY)

    kinds = {
        "is confirmed": order_id,
        "is on its way": tracking,
        "was delivered": order_id,
        "refund": order_id,
    }

    def mails() -> dict[str, str] | None:
        bodies = {}
        for mail in sunk(system, customer.email):
            text = mail.get_body(preferencelist=("plain",))
            assert text is not None
            bodies[str(mail["Subject"])] = text.get_content()
        found = {k: next((b for s, b in bodies.items() if k in s.lower()), None) for k in kinds}
        return {k: v for k, v in found.items() if v} if all(found.values()) else None

    arrived = eventually(mails, timeout=40)
    for kind, needle in kinds.items():
        assert needle in arrived[kind], (kind, arrived[kind])

"""A customer's journey through the compose stack, only through the published port.

Register, log in, browse and search the catalog, save a card, fill the cart, check
out, and the administrator reads the audit log: the same calls a browser's
JavaScript or a mobile app makes, through HAProxy and the two gateway replicas to
every service, on PostgreSQL, Redis and the NATS cluster. It ends with the e2e
suite's invariants (`tests.e2e.invariants`).
"""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.checkouts import GOOD_CARD
from tests.e2e.client import ADDRESS, Account, Shop, add_card, eventually, fill_cart
from tests.e2e.invariants import admin_product, check_invariants, get_json

pytestmark = pytest.mark.container


def test_register_log_in_browse_check_out_and_read_the_audit_log(
    shop: Shop, admin: Account
) -> None:
    customer = shop.new_customer(name="Grace Container")
    me = shop.http.get("/api/users/me", headers=customer.headers)
    assert me.status_code == 200 and me.json()["email"] == customer.email, me.text

    page = shop.http.get("/api/catalog/products", params={"limit": 5, "in_stock": "true"})
    assert page.status_code == 200, page.text
    product = page.json()["items"][0]
    detail = shop.http.get(f"/api/catalog/products/{product['id']}")
    assert detail.status_code == 200 and detail.json()["sku"] == product["sku"]
    word = product["title"].split()[0]
    found = shop.http.get("/api/catalog/products", params={"q": word, "limit": 50})
    assert found.status_code == 200, found.text
    assert product["id"] in {p["id"] for p in found.json()["items"]}, word
    storefront = shop.http.get("/")
    assert storefront.status_code == 200 and "text/html" in storefront.headers["content-type"]

    before = admin_product(shop, admin.headers, product["id"])
    method = add_card(shop, customer, GOOD_CARD)
    fill_cart(shop, customer, product["id"], 2)
    placed = shop.http.post(
        "/api/orders",
        json={"payment_method_id": method, "shipping_address": ADDRESS},
        headers={**customer.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    order = eventually(
        lambda: (
            o
            if (o := get_json(shop, f"/api/orders/{order_id}", customer.headers))
            and o["status"] == "confirmed"
            else None
        ),
        timeout=30,
        interval=0.5,
    )
    assert [item["quantity"] for item in order["items"]] == [2]

    # The customer may not read the audit log; the administrator reads the order's story.
    refused = shop.http.get("/api/logs/events", headers=customer.headers)
    assert refused.status_code == 403, refused.text
    events = eventually(
        lambda: (
            e
            if len(
                e := (
                    get_json(shop, "/api/logs/events", admin.headers, order_id=order_id)
                    or {"items": []}
                )["items"]
            )
            >= 5
            else None
        ),
        timeout=30,
        interval=0.5,
    )
    assert {"order.placed", "inventory.reserved", "payment.succeeded", "order.confirmed"} <= {
        e["type"] for e in events
    }
    check_invariants(shop, admin, [customer], stock={product["id"]: before})

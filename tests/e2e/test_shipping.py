"""Shipping end to end, through the gateway only: quotes, then a checkout's shipment
packed, shipped and delivered by an admin, and a return of it accepted and received,
every step in the audit log.

Runs on the NATS system only: what it proves (the events between orders, shipping and
the audit log) does not depend on the broker, which the other e2e tests cover twice.
Under `mercato up` the simulated carrier moves a shipment 20 s after its last move;
the admin's moves here each come well within that, so the carrier never races them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.client import Account, Shop, confirmed_checkout, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["nats"], indirect=True)]

API = "/api/shipping"
STORY = {
    "order.confirmed",
    "shipment.created",
    "shipment.shipped",
    "shipment.delivered",
    "return.requested",
    "return.accepted",
    "return.received",
}


def audit(shop: Shop, admin: Account, order_id: str) -> list[dict[str, Any]]:
    """The audit log's events of an order."""
    response = shop.http.get(
        "/api/logs/events", params={"order_id": order_id, "limit": 100}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["items"]
    return events


def test_quotes_through_the_gateway(shop: Shop) -> None:
    params: dict[str, str | int] = {
        "country": "GB",
        "currency": "USD",
        "weight_grams": 1500,
        "subtotal": 2000,
    }
    quotes = shop.http.get(f"{API}/quotes", params=params)
    assert quotes.status_code == 200, quotes.text
    assert [q["method"] for q in quotes.json()["items"]] == ["standard", "express"]
    bad = shop.http.get(f"{API}/quotes", params={**params, "weight_grams": -1})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


def test_a_checkout_is_shipped_delivered_and_returned(
    shop: Shop, customer: Account, admin: Account
) -> None:
    order = confirmed_checkout(shop, customer)
    order_id = order["id"]
    confirmation = eventually(
        lambda: next(
            (e for e in audit(shop, admin, order_id) if e["type"] == "order.confirmed"), None
        ),
        timeout=20,
    )
    assert confirmation["data"]["items"], confirmation  # what shipping makes the shipment of

    def shipment() -> dict[str, Any] | None:
        listed = shop.http.get(
            f"{API}/shipments", params={"order_id": order_id}, headers=customer.headers
        )
        assert listed.status_code == 200, listed.text
        items: list[dict[str, Any]] = listed.json()["items"]
        return items[0] if items else None

    made = eventually(shipment, timeout=20)
    assert made["status"] == "pending"
    assert sum(line["quantity"] for line in made["items"]) == 1
    url = f"{API}/shipments/{made['id']}"
    stranger = shop.new_customer()
    assert shop.http.get(url, headers=stranger.headers).status_code == 404
    assert shop.http.post(f"{url}/pack", headers=customer.headers).status_code == 403
    ship = {"carrier": "UPS", "tracking_number": "1ZE2E"}
    for move, body in (("pack", None), ("ship", ship), ("deliver", None)):
        moved = shop.http.post(f"{url}/{move}", json=body, headers=admin.headers)
        assert moved.status_code == 200, moved.text
    assert shop.http.get(url, headers=customer.headers).json()["status"] == "delivered"

    product_id = made["items"][0]["product_id"]
    ask = {"order_id": order_id, "items": [{"product_id": product_id, "quantity": 1}]}
    refused = shop.http.post(
        f"{API}/returns", json={**ask, "reason": "x"}, headers=stranger.headers
    )
    assert refused.status_code == 404
    requested = shop.http.post(
        f"{API}/returns", json={**ask, "reason": "Not as pictured."}, headers=customer.headers
    )
    assert requested.status_code == 201, requested.text
    again = shop.http.post(f"{API}/returns", json={**ask, "reason": "x"}, headers=customer.headers)
    assert again.status_code == 409
    ret = f"{API}/returns/{requested.json()['id']}"
    for move in ("accept", "receive"):
        moved = shop.http.post(f"{ret}/{move}", headers=admin.headers)
        assert moved.status_code == 200, moved.text

    def told() -> list[dict[str, Any]] | None:
        events = audit(shop, admin, order_id)
        return events if {e["type"] for e in events} >= STORY else None

    events = eventually(told, timeout=20)
    [received] = [e for e in events if e["type"] == "return.received"]
    assert received["data"]["whole_order"] is True

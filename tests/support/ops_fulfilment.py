"""Shipments, returns and mails for the console's tests, made without a broker.

The console's shipping service gets `order.confirmed` handed to its handler (as its
consumer would, `tests.support.shipping.deliver`) and moves on through its admin API;
the notifications service gets its events through the chassis consumer over its own
handlers (`tests.support.notifications.consumer`), mailing the test SMTP server.
Tokens are real ones from auth: the services verify them with auth's keys.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from tests.support import notifications
from tests.support.console import Console
from tests.support.shipping import confirmed, deliver

__all__ = ["SHIP", "ask_return", "mail", "moved", "shipment", "user_of"]

SHIP = {"carrier": "UPS", "tracking_number": "1Z999"}


def user_of(headers: dict[str, str]) -> str:
    """The user id (`sub`) of bearer headers (the token's payload, read, not verified)."""
    payload = headers["Authorization"].removeprefix("Bearer ").split(".")[1]
    claims: dict[str, Any] = orjson.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return str(claims["sub"])


async def shipment(console: Console, user_id: str, items: dict[str, int]) -> tuple[str, str]:
    """An order of `user_id` confirmed, so shipping made its shipment: (order id, shipment id)."""
    event = confirmed(user_id, items)
    await deliver(console.app_of("shipping"), event)
    order_id = str(event.data["order_id"])
    listed = await console.http("shipping").get(
        "/api/shipping/shipments", params={"order_id": order_id}, headers=await console.admin_api()
    )
    assert listed.status_code == 200, listed.text
    [made] = listed.json()["items"]
    return order_id, str(made["id"])


async def moved(console: Console, shipment_id: str, *moves: str) -> dict[str, Any]:
    """The shipment moved on by the administrator at the API (`pack`, `ship`, `deliver`)."""
    body: dict[str, Any] = {}
    for move in moves:
        answer = await console.http("shipping").post(
            f"/api/shipping/shipments/{shipment_id}/{move}",
            json=SHIP if move == "ship" else None,
            headers=await console.admin_api(),
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
    return body


async def ask_return(console: Console, email: str, product: str = "p1") -> tuple[str, str]:
    """A customer's delivered order and the return they asked for: (order id, return id)."""
    headers = await console.api(email)
    order_id, shipment_id = await shipment(console, user_of(headers), {product: 2})
    await moved(console, shipment_id, "pack", "ship", "deliver")
    body = {
        "order_id": order_id,
        "items": [{"product_id": product, "quantity": 1}],
        "reason": "too small",
    }
    answer = await console.http("shipping").post(
        "/api/shipping/returns", json=body, headers=headers
    )
    assert answer.status_code == 201, answer.text
    return order_id, str(answer.json()["id"])


async def mail(console: Console, user_id: str, email: str, order_id: str | None = None) -> None:
    """The welcome mail of `user_id`, and an order confirmation when `order_id` is given."""
    handle = notifications.consumer(console.app_of("notifications")).handle
    await handle(notifications.registered(user_id, email))
    if order_id is not None:
        await handle(notifications.confirmed(user_id, order_id))

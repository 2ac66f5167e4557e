"""Helpers of the discount and shipping tests of orders: codes, categories, checkouts."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from tests.support.orders import ADDRESS, ORDERS, Shop

__all__ = [
    "CART_DISCOUNT",
    "DISCOUNTS",
    "category",
    "checkout_with",
    "new_code",
    "new_discount",
    "outbox_data",
    "product_in",
    "uses",
]

DISCOUNTS = "/api/orders/discounts"
CART_DISCOUNT = "/api/orders/cart/discount"


def new_code() -> str:
    """A fresh discount code (lower-case: codes are case-insensitive)."""
    return f"save-{uuid.uuid4().hex[:10]}"


async def new_discount(shop: Shop, **fields: Any) -> dict[str, Any]:
    """A discount created by the admin (10% off everything unless `fields` say otherwise)."""
    body: dict[str, Any] = {"code": new_code(), "kind": "percent", "value": 10, **fields}
    response = await shop.orders.post(DISCOUNTS, json=body, headers=shop.admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def uses(shop: Shop, discount_id: str) -> int:
    """How many live uses the admin sees on a discount."""
    response = await shop.orders.get(f"{DISCOUNTS}/{discount_id}", headers=shop.admin)
    assert response.status_code == 200, response.text
    return int(response.json()["uses"])


async def category(shop: Shop, slug: str) -> str:
    """A catalog category (created if absent); its slug."""
    response = await shop.catalog.post(
        "/api/catalog/categories", json={"slug": slug, "name": slug.title()}, headers=shop.admin
    )
    assert response.status_code in (201, 409), response.text
    return slug


async def product_in(
    shop: Shop, slug: str | None, *, amount: int, weight: int | None = None, stock: int = 10
) -> str:
    """A product of a category (or none) and a weight attribute (or none); its id."""
    attributes = {} if weight is None else {"weight_grams": weight}
    body: dict[str, Any] = {
        "sku": f"SKU-{uuid.uuid4().hex[:12]}",
        "title": f"Product {slug or 'plain'}",
        "price": {"amount": amount, "currency": "USD"},
        "stock": stock,
        "attributes": attributes,
    }
    if slug is not None:
        body["category"] = slug
    response = await shop.catalog.post("/api/catalog/products", json=body, headers=shop.admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def checkout_with(
    shop: Shop, user: dict[str, str], card: str, **fields: Any
) -> httpx.Response:
    """POST /api/orders with a fresh key and extra body fields (`shipping_method`...)."""
    body = {"payment_method_id": card, "shipping_address": ADDRESS, **fields}
    headers = {**user, "Idempotency-Key": uuid.uuid4().hex}
    return await shop.orders.post(ORDERS, json=body, headers=headers)


async def outbox_data(shop: Shop, order_id: str, event_type: str) -> dict[str, Any]:
    """The data of the event of `event_type` that orders wrote to its outbox for an order."""
    runtime = shop.orders_app.state.runtime
    outbox = runtime.spec.event_tables.outbox
    async with runtime.database.session() as session:
        payload = await session.scalar(
            select(outbox.c.payload).where(
                outbox.c.subject == order_id, outbox.c.type == event_type
            )
        )
    assert payload is not None, f"no {event_type} for {order_id}"
    envelope: dict[str, Any] = json.loads(payload)
    data: dict[str, Any] = envelope.get("data", envelope)
    return data

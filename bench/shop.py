"""The client steps of the checkout benchmark, on one aiohttp session through the gateway.

`Shop` registers and logs in customers, adds their card, restocks products as the
admin, and checks a cart out: `PUT` a cart item, `POST /api/orders` with a fresh
`Idempotency-Key`, then `GET /api/orders/{id}` until the order is in a terminal
state (the `POST` answers with the end state itself when the saga was quick).
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

__all__ = ["ADDRESS", "TERMINAL", "Checkout", "Customer", "Shop", "ShopError"]

ADDRESS = {"name": "Bench Shopper", "line1": "1 Main Street", "city": "London", "country": "GB"}
# The end states of a checkout (`confirmed` can still be cancelled, but the saga is over).
TERMINAL = frozenset(
    {"confirmed", "payment_failed", "out_of_stock", "rejected", "cancelled", "needs_attention"}
)
GOOD_CARD = "4242424242424242"
RETRIES_AFTER_429 = 30


class ShopError(Exception):
    """A step was answered with an unexpected status."""


@dataclass
class Customer:
    """A registered, logged-in customer with a card."""

    user_id: str
    email: str
    token: str
    method_id: str = ""

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header."""
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Checkout:
    """One finished checkout as the client saw it."""

    order_id: str
    status: str
    seconds: float  # from sending the POST to seeing a terminal state
    created_at: str  # the order's `created_at`, as the service answered it
    polls: int  # how many GETs it took after the POST (0: the POST answered the end state)


class Shop:
    """The benchmark's steps against the gateway at `base`."""

    def __init__(self, session: aiohttp.ClientSession, base: str, poll: float = 0.02) -> None:
        self.session = session
        self.base = base
        self.poll = poll

    async def call(
        self,
        method: str,
        path: str,
        *,
        expect: int = 200,
        token: str = "",
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """Send one request; its JSON body, or ShopError when the status is not `expect`.

        A 429 is waited out as its `Retry-After` says, as a well-behaved client does: the
        gateway lets one address have only a few logins and registrations under way.
        """
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        for _ in range(RETRIES_AFTER_429):
            async with self.session.request(
                method, self.base + path, json=json, headers=all_headers, params=params
            ) as response:
                body = await response.read()
                if response.status == 429 and "Retry-After" in response.headers:
                    await asyncio.sleep(float(response.headers["Retry-After"]))
                    continue
                if response.status != expect:
                    raise ShopError(f"{method} {path}: {response.status} {body[:300]!r}")
                return await response.json() if body else None
        raise ShopError(f"{method} {path}: still 429 after {RETRIES_AFTER_429} tries")

    async def login(self, email: str, password: str) -> str:
        """An access token for `email`."""
        tokens = await self.call(
            "POST", "/api/auth/login", json={"email": email, "password": password}
        )
        return str(tokens["access_token"])

    async def new_customer(self) -> Customer:
        """Register, log in and add the card that always succeeds."""
        email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
        password = "Bench-" + secrets.token_hex(8)
        user = await self.call(
            "POST",
            "/api/auth/register",
            expect=201,
            json={"email": email, "password": password, "name": "Bench Shopper"},
        )
        customer = Customer(str(user["id"]), email, await self.login(email, password))
        card = {"card_number": GOOD_CARD, "exp_month": 12, "exp_year": 2035, "cvc": "123"}
        method = await self.call(
            "POST", "/api/payments/methods", expect=201, token=customer.token, json=card
        )
        customer.method_id = str(method["id"])
        return customer

    async def product_ids(self, count: int) -> list[str]:
        """The ids of the first `count` products of the public catalog."""
        page = await self.call("GET", "/api/catalog/products", params={"limit": str(count)})
        return [str(item["id"]) for item in page["items"]]

    async def restock(self, admin_token: str, product_id: str, delta: int) -> None:
        """Add `delta` units on hand (admin)."""
        await self.call(
            "POST",
            f"/api/catalog/products/{product_id}/stock",
            token=admin_token,
            json={"delta": delta},
        )

    async def order(self, customer: Customer, order_id: str) -> Any:
        """One of the customer's orders."""
        return await self.call("GET", f"/api/orders/{order_id}", token=customer.token)

    async def checkout(
        self,
        customer: Customer,
        product_id: str,
        *,
        timeout: float = 30.0,
        on_sent: Callable[[], None] | None = None,
        extras: dict[str, str] | None = None,
    ) -> Checkout:
        """Put one unit in the cart, place the order and wait for its end state.

        `on_sent` is called just before the order is sent; `extras` are more fields of
        the order (a `shipping_method`, a `discount_code`).
        """
        await self.call(
            "PUT",
            f"/api/orders/cart/items/{product_id}",
            token=customer.token,
            json={"quantity": 1},
        )
        if on_sent is not None:
            on_sent()
        started = time.perf_counter()
        order = await self.call(
            "POST",
            "/api/orders",
            expect=201,
            token=customer.token,
            json={
                "payment_method_id": customer.method_id,
                "shipping_address": ADDRESS,
                **(extras or {}),
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        polls = 0
        async with asyncio.timeout(timeout):
            while order["status"] not in TERMINAL:
                await asyncio.sleep(self.poll)
                order = await self.order(customer, order["id"])
                polls += 1
        return Checkout(
            str(order["id"]),
            str(order["status"]),
            time.perf_counter() - started,
            str(order["created_at"]),
            polls,
        )

    async def audit_events(self, admin_token: str, **filters: str) -> list[Any]:
        """The audit log's first page of events matching `filters` (admin)."""
        page = await self.call(
            "GET", "/api/logs/events", token=admin_token, params={"limit": "10", **filters}
        )
        return list(page["items"])

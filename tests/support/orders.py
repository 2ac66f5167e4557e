"""The shop the orders service tests run against: real catalog and payments servers.

The catalog and payments apps run under uvicorn on free 127.0.0.1 ports (SQLite in
tmp_path unless a test gives another database, no broker); the orders app runs
in-process and calls them over HTTP with service tokens minted by the test key. The
catalog may run as several instances on one database, as replicas do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

from mercato.catalog.app import create_app as create_catalog
from mercato.catalog.settings import load_settings as catalog_settings
from mercato.chassis.data.database import Database
from mercato.orders import service
from mercato.orders.app import create_app as create_orders
from mercato.orders.cart import MAX_LINES
from mercato.orders.context import OrdersContext, OrdersRuntime
from mercato.orders.schemas import CheckoutIn
from mercato.orders.settings import load_settings as orders_settings
from mercato.orders.states import ACTIVE, Status
from mercato.payments.app import create_app as create_payments
from mercato.payments.provider import PaymentProvider
from mercato.payments.settings import load_settings as payments_settings
from tests.support.apps import running
from tests.support.tokens import TokenFactory

CART = "/api/orders/cart"
ORDERS = "/api/orders"
ADDRESS: dict[str, Any] = {
    "name": "Ann Example",
    "line1": "Main St 1",
    "city": "Berlin",
    "country": "DE",
}
CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0002"


@dataclass(frozen=True)
class Placed:
    """An order placed through the service layer, its saga not started: who, what, the lease."""

    user: dict[str, str]
    product_id: str
    order_id: str
    owner: str


class Server:
    """One app served by uvicorn on a local port (a free one unless given), in a task."""

    def __init__(self, app: FastAPI, port: int = 0) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_config=None, lifespan="on", ws="none")
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve until `stop`; returns once the server listens."""
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Shut the server down (its port then refuses connections)."""
        if self.task is not None and not self.task.done():
            self.server.should_exit = True
            await self.task
        self.sock.close()


@dataclass
class Shop:
    """The three services and helpers to set the scene of a test."""

    orders: httpx.AsyncClient
    orders_app: FastAPI
    catalog: httpx.AsyncClient
    payments: httpx.AsyncClient
    catalog_servers: list[Server]
    payments_server: Server
    tokens: TokenFactory
    admin: dict[str, str] = field(default_factory=dict)
    servers: list[Server] = field(default_factory=list)  # every server open_shop stops

    async def restart_payments(self) -> None:
        """Stop payments if it runs, then serve a new app of it on its port and database.

        What a restarted payments process is: the same settings, the same data.
        """
        old = self.payments_server
        await old.stop()
        app = create_payments(old.app.state.runtime.settings)
        app.state.runtime.verifier.keys = self.tokens.keys
        server = Server(app, port=int(old.url.rsplit(":", 1)[1]))
        await server.start()
        self.servers[self.servers.index(old)] = server
        self.payments_server = server

    def customer(self) -> dict[str, str]:
        """Headers of a new customer."""
        return self.tokens.headers(str(uuid.uuid4()), ["customer"])

    async def product(
        self, *, stock: int = 10, amount: int = 1250, title: str = "Tea", currency: str = "USD"
    ) -> str:
        """A new product in the catalog; its id."""
        body = {
            "sku": f"SKU-{uuid.uuid4().hex[:12]}",
            "title": title,
            "price": {"amount": amount, "currency": currency},
            "stock": stock,
        }
        response = await self.catalog.post("/api/catalog/products", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def reprice(self, product_id: str, amount: int, currency: str) -> None:
        """Change a product's price (an admin's PATCH at the catalog)."""
        response = await self.catalog.patch(
            f"/api/catalog/products/{product_id}",
            json={"price": {"amount": amount, "currency": currency}},
            headers=self.admin,
        )
        assert response.status_code == 200, response.text

    async def place_only(
        self, *, quantity: int, key: str, amount: int = 100, also: Sequence[str] = ()
    ) -> Placed:
        """Place an order of `quantity` units of a new product (5 in stock), and as many of
        each product in `also`; no worker drives it.

        The order is `reserving` (placed through `pending`), its lease held by the
        returned owner.
        """
        user_id = str(uuid.uuid4())
        user = self.tokens.headers(user_id, ["customer"])
        tea = await self.product(stock=5, amount=amount)
        card = await self.card(user)
        for product_id in (tea, *also):
            await self.fill_cart(user, product_id, quantity)
        runtime = self.orders_app.state.runtime
        body = {"payment_method_id": card, "shipping_address": ADDRESS}
        async with runtime.database.session() as session:
            placement = await service.place_order(
                session,
                outbox=runtime.outbox,
                components=orders_context(runtime),
                user_id=user_id,
                key=key,
                order_in=CheckoutIn.model_validate(body),
            )
        assert placement.owner is not None
        return Placed(user, tea, placement.order.id, placement.owner)

    async def stock(self, product_id: str) -> int:
        """The product's available stock at the catalog."""
        response = await self.catalog.get(f"/api/catalog/products/{product_id}")
        assert response.status_code == 200, response.text
        return int(response.json()["stock"])

    async def card(self, user: dict[str, str], number: str = CARD_OK) -> str:
        """A saved card of `user` at payments; its id."""
        body = {
            "card_number": number,
            "exp_month": 12,
            "exp_year": datetime.now(UTC).year + 3,
            "cvc": "123",
        }
        response = await self.payments.post("/api/payments/methods", json=body, headers=user)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def fill_cart(self, user: dict[str, str], product_id: str, quantity: int) -> None:
        """Put `quantity` of a product in the user's cart."""
        response = await self.orders.put(
            f"{CART}/items/{product_id}", json={"quantity": quantity}, headers=user
        )
        assert response.status_code == 200, response.text

    async def race_to_the_cart_limit(
        self, user: dict[str, str], *, room: int, beyond: int
    ) -> list[httpx.Response]:
        """Fill the user's cart to `room` lines short of its limit, then add `room +
        beyond` more products at once: the answers to those additions."""
        products = [await self.product(stock=5) for _ in range(MAX_LINES + beyond)]
        for product_id in products[: MAX_LINES - room]:
            await self.fill_cart(user, product_id, 1)
        return await asyncio.gather(
            *(
                self.orders.put(f"{CART}/items/{product_id}", json={"quantity": 1}, headers=user)
                for product_id in products[MAX_LINES - room :]
            )
        )

    async def checkout(
        self, user: dict[str, str], method_id: str, key: str | None = None
    ) -> httpx.Response:
        """POST /api/orders with a fresh (or the given) idempotency key."""
        headers = {**user, "Idempotency-Key": key or uuid.uuid4().hex}
        body = {"payment_method_id": method_id, "shipping_address": ADDRESS}
        return await self.orders.post(ORDERS, json=body, headers=headers)

    async def events(self, order_id: str) -> list[str]:
        """Types of the events the orders service wrote to its outbox for an order."""
        runtime = self.orders_app.state.runtime
        outbox = runtime.spec.event_tables.outbox
        async with runtime.database.session() as session:
            rows = await session.execute(
                select(outbox.c.type)
                .where(outbox.c.subject == order_id)
                .order_by(outbox.c.created_at)
            )
        return [str(row[0]) for row in rows]

    async def wait_for(
        self, user: dict[str, str], order_id: str, status: str, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Poll the order until it reaches `status`; its body."""
        return await self._poll(user, order_id, lambda now: now == status, timeout)

    async def settled(
        self, user: dict[str, str], order_id: str, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Poll the order until its saga has nothing left to do; its body."""
        return await self._poll(user, order_id, lambda now: Status(now) not in ACTIVE, timeout)

    async def _poll(
        self, user: dict[str, str], order_id: str, done: Callable[[str], bool], timeout: float
    ) -> dict[str, Any]:
        """The order once `done(status)` holds, or as it is at `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            body: dict[str, Any] = (
                await self.orders.get(f"{ORDERS}/{order_id}", headers=user)
            ).json()
            if done(body["status"]) or loop.time() > deadline:
                return body
            await asyncio.sleep(0.05)


def orders_context(runtime: OrdersRuntime) -> OrdersContext:
    """The running orders app's context: its clients, saga and runner."""
    return runtime.context


def served(app: FastAPI, method: str | None = None, route: str | None = None) -> int:
    """How many API requests an app answered (any status), from its own metrics.

    `method` and `route` (a route template) narrow the count; health probes and
    `/metrics` are never counted.
    """
    total = 0.0
    for metric in app.state.metrics.registry.collect():
        for sample in metric.samples:
            labels = sample.labels
            if (
                sample.name == "http_requests_total"
                and labels.get("route", "").startswith("/api/")
                and method in (None, labels.get("method"))
                and route in (None, labels.get("route"))
            ):
                total += sample.value
    return int(total)


@contextlib.asynccontextmanager
async def open_shop(
    tmp_path: Path,
    tokens: TokenFactory,
    *,
    payments: Mapping[str, object] | None = None,
    catalog: Mapping[str, object] | None = None,
    catalog_replicas: int = 1,
    more_catalog_urls: Sequence[str] = (),
    client_timeout: float = 5.0,
    payments_provider: Callable[[Database], PaymentProvider] | None = None,
    **orders: object,
) -> AsyncIterator[Shop]:
    """Start catalog and payments servers and the orders app pointed at them.

    `payments`, `catalog` and `orders` override those services' settings;
    `catalog_replicas` catalog instances share one database and orders is given all
    of them, then `more_catalog_urls`; `client_timeout` is the test's own HTTP
    clients' timeout towards catalog and payments; `payments_provider` makes the
    provider payments uses from its database (the simulated one by default).
    """
    catalog_apps = [
        create_catalog(
            catalog_settings(data_dir=tmp_path / "catalog", broker_url="", **(catalog or {}))
        )
        for _ in range(catalog_replicas)
    ]
    payments_overrides: dict[str, object] = {
        "provider_timeout_seconds": 0.5,
        "charge_lease_seconds": 2.0,
        **(payments or {}),
    }
    # `environ=os.environ` is the default, named so that mypy knows no override is it.
    payments_app = create_payments(
        payments_settings(
            environ=os.environ, data_dir=tmp_path / "payments", broker_url="", **payments_overrides
        ),
        provider=payments_provider,
    )
    catalog_servers = [Server(app) for app in catalog_apps]
    payments_server = Server(payments_app)
    servers = [*catalog_servers, payments_server]
    for server in servers:
        server.app.state.runtime.verifier.keys = tokens.keys
    settings: dict[str, object] = {
        "data_dir": tmp_path / "orders",
        "broker_url": "",
        "catalog_url": ",".join([*(server.url for server in catalog_servers), *more_catalog_urls]),
        "payments_url": payments_server.url,
        "catalog_timeout_seconds": 2.0,
        "payments_timeout_seconds": 2.0,
        "checkout_timeout_seconds": 5.0,
        "sweep_interval_seconds": 0.1,
        "stale_after_seconds": 0.3,
        "lease_seconds": 5.0,
        **orders,
    }
    orders_app = create_orders(orders_settings(environ=os.environ, **settings))

    async def mint(audience: str) -> str:
        return tokens.token("service:orders", ["service"], typ="service", aud=audience)

    orders_app.state.runtime.http.token_provider = mint
    try:
        for server in servers:
            await server.start()
        async with (
            running(orders_app, tokens) as orders_client,
            httpx.AsyncClient(
                base_url=catalog_servers[0].url, timeout=client_timeout
            ) as catalog_client,
            httpx.AsyncClient(
                base_url=payments_server.url, timeout=client_timeout
            ) as payments_client,
        ):
            yield Shop(
                orders=orders_client,
                orders_app=orders_app,
                catalog=catalog_client,
                payments=payments_client,
                catalog_servers=catalog_servers,
                payments_server=payments_server,
                tokens=tokens,
                admin=tokens.headers("admin-1", ["admin"]),
                servers=servers,
            )
    finally:
        for server in reversed(servers):
            await server.stop()

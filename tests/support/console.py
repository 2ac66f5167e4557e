"""The operations console's service tests: the web app in-process, the real services behind it.

`open_console` serves auth (with its administrator, `ADMIN_EMAIL`), users, catalog,
payments, logs and orders under uvicorn on free local ports (SQLite in the test's
directory, no broker: the logs service is handed events with `deliver`), each
verifying tokens with auth's real keys and orders calling catalog and payments with
real service tokens, and runs the web app in-process pointed at them, as in
production. `Console` is `tests.support.web.Storefront` with the servers by name,
and the steps of an administrator and of a customer through the pages: `admin()`
and `customer()` are signed-in browsers (httpx clients keeping cookies), `api(email)`
the bearer headers of an account for calls straight to a service. With no broker,
`relay()` hands the events the services wrote to their outboxes to the audit log,
as the relay and the broker would. `shipping=True` serves the shipping service too,
`mail=` (a test SMTP server) the notifications service mailing through it; neither
runs unless asked (`tests/support/ops_fulfilment.py` feeds them events).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update

from mercato.catalog.app import create_app as create_catalog
from mercato.catalog.settings import load_settings as catalog_settings
from mercato.chassis.events import Event
from mercato.logs.app import create_app as create_logs
from mercato.logs.settings import load_settings as logs_settings
from mercato.notifications.app import create_app as create_notifications
from mercato.notifications.settings import load_settings as notifications_settings
from mercato.orders.app import create_app as create_orders
from mercato.orders.settings import load_settings as orders_settings
from mercato.payments.app import create_app as create_payments
from mercato.payments.settings import load_settings as payments_settings
from mercato.shipping.app import create_app as create_shipping
from mercato.shipping.settings import load_settings as shipping_settings
from mercato.users.app import create_app as create_users
from mercato.users.settings import load_settings as users_settings
from mercato.web.app import create_app as create_web
from mercato.web.settings import load_settings as web_settings
from tests.support.apps import running
from tests.support.auth import ADMIN_EMAIL, ADMIN_PASSWORD, auth_app
from tests.support.logs import deliver
from tests.support.mail_server import MailServer
from tests.support.orders import ADDRESS, Server
from tests.support.servers import closed_port
from tests.support.tokens import TokenFactory
from tests.support.web import PASSWORD, WEB_SECRET, Storefront

ORDERS_SECRET = "orders-test-client-secret"
SERVICES = ("users", "catalog", "payments", "logs", "orders")
CARD_OK = "4242 4242 4242 4242"


@dataclass
class Console(Storefront):
    """The storefront with every service running, and an administrator's steps."""

    servers: dict[str, Server] = field(default_factory=dict)

    def app_of(self, name: str) -> Any:
        """The app of service `name` (to reach its runtime)."""
        return self.servers[name].app

    def http(self, name: str) -> httpx.AsyncClient:
        """A client straight to service `name` (as another client of the API would be)."""
        client = httpx.AsyncClient(base_url=self.servers[name].url, timeout=10.0)
        self.clients.append(client)
        return client

    async def admin(self) -> httpx.AsyncClient:
        """A browser signed in as the administrator."""
        client = self.browser()
        answer = await self.login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert answer.status_code == 303, answer.text
        return client

    async def customer(self) -> tuple[httpx.AsyncClient, str]:
        """A browser signed in as a new customer, and the customer's email."""
        client = self.browser()
        email, answer = await self.register(client)
        assert answer.status_code == 303, answer.text
        return client, email

    async def api(self, email: str, password: str = PASSWORD) -> dict[str, str]:
        """The bearer headers of an account, from a login at auth."""
        answer = await self.http("auth").post(
            "/api/auth/login", json={"email": email, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    async def relay(self) -> int:
        """Deliver every unpublished event of every service's outbox to logs; how many."""
        delivered = 0
        for name, server in self.servers.items():
            runtime = server.app.state.runtime
            tables = runtime.spec.event_tables
            if name == "logs" or tables is None:
                continue
            outbox = tables.outbox
            async with runtime.database.session() as session:
                rows = (
                    await session.execute(
                        select(outbox.c.id, outbox.c.payload)
                        .where(outbox.c.published_at.is_(None))
                        .order_by(outbox.c.created_at)
                    )
                ).all()
                events = [Event.from_bytes(payload) for _, payload in rows]
                await deliver(self.servers["logs"].app, *events)
                await session.execute(
                    update(outbox)
                    .where(outbox.c.id.in_([row_id for row_id, _ in rows]))
                    .values(published_at=datetime.now(UTC))
                )
                await session.commit()
            delivered += len(rows)
        return delivered

    async def admin_api(self) -> dict[str, str]:
        """The administrator's bearer headers."""
        return await self.api(ADMIN_EMAIL, ADMIN_PASSWORD)

    async def product(self, *, stock: int = 10, title: str = "Green tea", amount: int = 450) -> str:
        """A new product in the catalog (created by the administrator at the API); its id."""
        body = {
            "sku": f"SKU-{uuid.uuid4().hex[:10]}",
            "title": title,
            "price": {"amount": amount, "currency": "USD"},
            "stock": stock,
        }
        answer = await self.http("catalog").post(
            "/api/catalog/products", json=body, headers=await self.admin_api()
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def order(self, email: str, product_id: str, quantity: int = 1) -> dict[str, Any]:
        """A checkout of `quantity` of a product by the customer `email`; the order placed."""
        headers = await self.api(email)
        card = {
            "card_number": CARD_OK,
            "exp_month": 12,
            "exp_year": datetime.now(UTC).year + 2,
            "cvc": "123",
        }
        method = await self.http("payments").post(
            "/api/payments/methods", json=card, headers=headers
        )
        assert method.status_code == 201, method.text
        cart = await self.http("orders").put(
            f"/api/orders/cart/items/{product_id}", json={"quantity": quantity}, headers=headers
        )
        assert cart.status_code == 200, cart.text
        body = {"payment_method_id": method.json()["id"], "shipping_address": ADDRESS}
        placed = await self.http("orders").post(
            "/api/orders", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
        )
        assert placed.status_code == 201, placed.text
        order: dict[str, Any] = placed.json()
        return order


def _optional_apps(
    tmp_path: Path, auth_url: str, shipping: bool, mail: MailServer | None
) -> dict[str, Any]:
    """The shipping and notifications services, when a test asks for them."""
    common: dict[str, Any] = {"broker_url": "", "auth_url": auth_url}
    apps: dict[str, Any] = {}
    if shipping:
        apps["shipping"] = create_shipping(
            shipping_settings({}, data_dir=tmp_path / "shipping", **common)
        )
    if mail is not None:
        settings = notifications_settings(
            {},
            data_dir=tmp_path / "notifications",
            smtp_url=mail.url,
            smtp_timeout_seconds=3.0,
            shop_url="https://shop.example.com",
            **common,
        )
        apps["notifications"] = create_notifications(settings)
    return apps


def _service_apps(tmp_path: Path, auth_url: str, logs: Mapping[str, Any]) -> dict[str, Any]:
    common: dict[str, Any] = {"broker_url": "", "auth_url": auth_url}
    return {
        "users": create_users(users_settings({}, data_dir=tmp_path / "users", **common)),
        "catalog": create_catalog(
            catalog_settings(data_dir=tmp_path / "catalog", demo_data=False, **common)
        ),
        "payments": create_payments(
            payments_settings({}, data_dir=tmp_path / "payments", **common)
        ),
        "logs": create_logs(logs_settings({}, data_dir=tmp_path / "logs", **common, **logs)),
    }


@asynccontextmanager
async def open_console(
    tmp_path: Path,
    tokens: TokenFactory,
    *,
    logs: Mapping[str, Any] | None = None,
    down: Sequence[str] = (),
    shipping: bool = False,
    mail: MailServer | None = None,
    **web: Any,
) -> AsyncIterator[Console]:
    """The web app in-process with every service served for real; `web` overrides settings.

    `logs` overrides the logs service's settings; a service named in `down` is not
    started (the web service is given a closed port for it). `shipping` serves the
    shipping service, `mail` the notifications service mailing through that server.
    """
    auth = Server(auth_app(tmp_path / "auth", clients={"web": WEB_SECRET, "orders": ORDERS_SECRET}))
    await auth.start()
    servers: dict[str, Server] = {"auth": auth}
    try:
        for name, app in _service_apps(tmp_path, auth.url, logs or {}).items():
            if name not in down:
                servers[name] = Server(app)
                await servers[name].start()
        if "orders" not in down:
            orders = create_orders(
                orders_settings(
                    {},
                    data_dir=tmp_path / "orders",
                    broker_url="",
                    auth_url=auth.url,
                    client_secret=ORDERS_SECRET,
                    catalog_url=_url(servers, "catalog"),
                    payments_url=_url(servers, "payments"),
                    catalog_timeout_seconds=3.0,
                    payments_timeout_seconds=3.0,
                )
            )
            servers["orders"] = Server(orders)
            await servers["orders"].start()
        optional = _optional_apps(tmp_path, auth.url, shipping, mail)
        for name, app in optional.items():
            servers[name] = Server(app)
            await servers[name].start()
        settings = web_settings(
            {},
            data_dir=tmp_path / "web",
            auth_url=auth.url,
            client_secret=WEB_SECRET,
            **{f"{name}_url": _url(servers, name) for name in SERVICES},
            **{f"{name}_url": servers[name].url for name in optional},
            **web,
        )
        app = create_web(settings)
        console = Console(app, auth, servers.get("users") or auth, tokens, servers=servers)
        try:
            async with running(app, tokens):
                yield console
        finally:
            for client in console.clients:
                await client.aclose()
    finally:
        for server in reversed(servers.values()):
            await server.stop()


def _url(servers: Mapping[str, Server], name: str) -> str:
    """The URL of a running service, or of a closed port for one that is down."""
    server = servers.get(name)
    return server.url if server is not None else f"http://127.0.0.1:{closed_port()}"

"""The shop pages' service tests: the web app in-process in front of every service it calls.

`open_shop_pages` serves auth, users, catalog, payments and orders under uvicorn on
free local ports (SQLite in the test's directory, no broker), each verifying tokens
from auth's JWKS as in production, and orders calling catalog and payments with its
own client credentials at auth. The web app runs in-process on its own SQLite file,
its public catalog reads kept for `catalog_cache_seconds` (0 unless a test says).
`ShopPages` is a `tests.support.web.Storefront` (its `browser()`, `register`,
`login`) with the other servers and what a test sets the scene with: a product made
by the administrator, its stock, a saved card, a checkout through the form.
`checkout_fields` reads the checkout form's fields as a browser would post them.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from mercato.catalog.app import create_app as create_catalog
from mercato.catalog.settings import load_settings as catalog_settings
from mercato.chassis.data.database import Database
from mercato.notifications.app import create_app as create_notifications
from mercato.notifications.settings import load_settings as notifications_settings
from mercato.orders.app import create_app as create_orders
from mercato.orders.settings import load_settings as orders_settings
from mercato.payments.app import create_app as create_payments
from mercato.payments.provider import PaymentProvider
from mercato.payments.settings import load_settings as payments_settings
from mercato.shipping.app import create_app as create_shipping
from mercato.shipping.settings import load_settings as shipping_settings
from mercato.users.app import create_app as create_users
from mercato.users.settings import load_settings as users_settings
from mercato.web.app import create_app as create_web
from mercato.web.settings import load_settings as web_settings
from tests.support.apps import running
from tests.support.auth import ADMIN, auth_app
from tests.support.mail_server import MailServer
from tests.support.orders import Server
from tests.support.tokens import TokenFactory
from tests.support.web import PASSWORD, WEB_SECRET, Storefront, page_form

ORDERS_SECRET = "orders-test-client-secret"
CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0002"
ADDRESS = {"name": "Ann Shopper", "line1": "Main St 1", "city": "Berlin", "country": "DE"}
# What a browser sends with a form posted from the shop's own page.
SAME_SITE = {"Origin": "http://shop.test", "Sec-Fetch-Site": "same-origin"}
# Where the storefront finds a service a test does not serve: a port nothing listens on.
NOWHERE = "http://127.0.0.1:9"
_ORDER_PATH = re.compile(r"^/orders/([0-9a-f-]{36})$")


def _port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def expiry() -> str:
    """An expiry a few years ahead, as typed: `MM/YY`."""
    return f"12/{(datetime.now(UTC).year + 3) % 100:02d}"


@dataclass
class ShopPages(Storefront):
    """The storefront and every service behind it."""

    catalog: Server | None = None
    orders: Server | None = None
    payments: Server | None = None
    shipping: Server | None = None  # with `open_shop_pages(..., shipping=True)`
    notifications: Server | None = None  # with `open_shop_pages(..., mail_server=...)`
    admin: dict[str, str] = field(default_factory=dict)
    servers: list[Server] = field(default_factory=list)  # every server to stop at the end

    async def restart_orders(self) -> None:
        """Serve orders again (stopped or not): the same settings, the same data and port."""
        old = self.orders
        assert old is not None
        await old.stop()
        server = Server(create_orders(old.app.state.runtime.settings), port=_port(old))
        await server.start()
        self.servers.append(server)
        self.orders = server

    async def restart_shipping(self) -> None:
        """Serve shipping again: the same settings, the same data and port."""
        old = self.shipping
        assert old is not None
        await old.stop()
        server = Server(create_shipping(old.app.state.runtime.settings), port=_port(old))
        await server.start()
        self.servers.append(server)
        self.shipping = server

    async def token(self, email: str) -> dict[str, str]:
        """The Authorization header of a customer, logged in at auth."""
        async with httpx.AsyncClient(base_url=self.auth.url) as client:
            login = await client.post(
                "/api/auth/login", json={"email": email, "password": PASSWORD}
            )
        assert login.status_code == 200, login.text
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    async def api(self, server: Server | None, method: str, path: str, **kwargs: Any) -> Any:
        """Call a service directly (as the administrator unless `headers` are given)."""
        assert server is not None
        kwargs.setdefault("headers", self.admin)
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            answer = await client.request(method, path, **kwargs)
        assert answer.status_code < 400, answer.text
        return answer.json() if answer.content else None

    async def product(
        self,
        *,
        title: str = "Green tea",
        stock: int = 10,
        amount: int = 1250,
        brand: str | None = "Leafwell",
        category: str | None = None,
        **more: Any,
    ) -> dict[str, Any]:
        """A new product in the catalog; its body."""
        body = {
            "sku": f"SKU-{uuid.uuid4().hex[:12]}",
            "title": title,
            "price": {"amount": amount, "currency": "USD"},
            "stock": stock,
            "brand": brand,
            "category": category,
            **more,
        }
        product: dict[str, Any] = await self.api(
            self.catalog, "POST", "/api/catalog/products", json=body
        )
        return product

    async def category(self, slug: str, name: str) -> None:
        """A new category."""
        await self.api(
            self.catalog, "POST", "/api/catalog/categories", json={"slug": slug, "name": name}
        )

    async def stock(self, product_id: str) -> int:
        """A product's available stock at the catalog."""
        body = await self.api(self.catalog, "GET", f"/api/catalog/products/{product_id}")
        return int(body["stock"])

    async def customer(self) -> tuple[httpx.AsyncClient, str]:
        """A browser with a new customer signed in; the customer's email."""
        browser = self.browser()
        email, answer = await self.register(browser)
        assert answer.status_code == 303, answer.text
        return browser, email

    async def wait_settled(
        self, browser: httpx.AsyncClient, order_path: str, timeout: float = 10.0
    ) -> dict[str, Any]:
        """The order page's status JSON once the checkout has settled."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            status: dict[str, Any] = (await browser.get(f"{order_path}/status")).json()
            if status["done"] or loop.time() > deadline:
                return status
            await asyncio.sleep(0.1)


@pytest_asyncio.fixture(loop_scope="module", scope="module", name="shop")
async def module_shop(
    tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[ShopPages]:
    """Fixture `shop`: one set of services and storefront for a whole test module.

    A module imports it (`from tests.support.shop_pages import module_shop`) and its
    tests ask for `shop`; each test makes its own shopper, so they do not interfere.
    """
    async with open_shop_pages(tmp_path_factory.mktemp("shop"), tokens) as shop:
        yield shop


def order_path(answer: httpx.Response) -> str:
    """The order page a checkout's answer sends the browser to."""
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert _ORDER_PATH.match(location), location
    return location


def checkout_fields(html: str) -> dict[str, str]:
    """The checkout form's fields as a browser posts them (the radio checked, if any)."""
    fields = page_form(html, "checkout")
    checked = re.search(r'<input type="radio"[^>]*name="payment" value="([^"]+)"[^>]*checked', html)
    if checked:
        fields["payment"] = checked.group(1)
    return fields


async def _admin_headers(auth: Server) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=auth.url) as client:
        tokens = (await client.post("/api/auth/login", json=ADMIN)).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _services(
    tmp_path: Path,
    auth_url: str,
    catalog: Mapping[str, Any],
    provider: Callable[[Database], PaymentProvider] | None,
) -> list[Server]:
    """Users, catalog and payments: the services orders and the web app call."""
    common: dict[str, Any] = {"broker_url": "", "auth_url": auth_url}
    return [
        Server(create_users(users_settings({}, data_dir=tmp_path / "users", **common))),
        Server(
            create_catalog(catalog_settings(data_dir=tmp_path / "catalog", **common, **catalog))
        ),
        Server(
            create_payments(
                payments_settings(
                    environ=os.environ,
                    data_dir=tmp_path / "payments",
                    provider_timeout_seconds=0.5,
                    **common,
                ),
                provider=provider,
            )
        ),
    ]


def _orders(
    tmp_path: Path, auth_url: str, catalog_url: str, payments_url: str, shipping_url: str
) -> Server:
    """Orders, calling catalog, payments (and shipping's quotes, when given) with its own
    client credentials."""
    settings = orders_settings(
        environ=os.environ,
        data_dir=tmp_path / "orders",
        broker_url="",
        auth_url=auth_url,
        catalog_url=catalog_url,
        payments_url=payments_url,
        shipping_url=shipping_url,
        client_secret=ORDERS_SECRET,
        sweep_interval_seconds=0.2,
        stale_after_seconds=0.5,
    )
    return Server(create_orders(settings))


def _extra(
    tmp_path: Path, auth_url: str, *, shipping: bool, mail_server: MailServer | None
) -> dict[str, Server]:
    """Shipping and notifications, when a test asks for them (by name)."""
    common: dict[str, Any] = {"broker_url": "", "auth_url": auth_url}
    servers: dict[str, Server] = {}
    if shipping:
        settings = shipping_settings({}, data_dir=tmp_path / "shipping", **common)
        servers["shipping"] = Server(create_shipping(settings))
    if mail_server is not None:
        mail = notifications_settings(
            {},
            data_dir=tmp_path / "notifications",
            smtp_url=mail_server.url,
            smtp_timeout_seconds=3.0,
            **common,
        )
        servers["notifications"] = Server(create_notifications(mail))
    return servers


@asynccontextmanager
async def open_shop_pages(
    tmp_path: Path,
    tokens: TokenFactory,
    *,
    catalog: Mapping[str, Any] | None = None,
    payments_provider: Callable[[Database], PaymentProvider] | None = None,
    shipping_url: str = "",
    shipping: bool = False,
    mail_server: MailServer | None = None,
    **web: Any,
) -> AsyncIterator[ShopPages]:
    """The storefront in-process with every service on a local port; `web` overrides settings.

    `catalog` overrides the catalog's settings; `payments_provider` makes the payment
    provider from payments' database (the simulated one by default); `shipping_url`
    is where orders asks for shipping quotes (none: no shipping is charged).
    `shipping` serves the shipping service to the storefront (its returns);
    `mail_server` serves notifications mailing through it. A service not served is a
    closed port to the storefront (`NOWHERE`): its pages meet a service that is down.
    """
    auth = Server(auth_app(tmp_path / "auth", clients={"web": WEB_SECRET, "orders": ORDERS_SECRET}))
    started: list[Server] = []
    try:
        await auth.start()
        started.append(auth)
        users, catalog_server, payments = _services(
            tmp_path, auth.url, catalog or {}, payments_provider
        )
        for server in (users, catalog_server, payments):
            await server.start()
            started.append(server)
        orders = _orders(tmp_path, auth.url, catalog_server.url, payments.url, shipping_url)
        await orders.start()
        started.append(orders)
        extra = _extra(tmp_path, auth.url, shipping=shipping, mail_server=mail_server)
        for server in extra.values():
            await server.start()
            started.append(server)
        settings = web_settings(
            {},
            data_dir=tmp_path / "web",
            auth_url=auth.url,
            users_url=users.url,
            catalog_url=catalog_server.url,
            orders_url=orders.url,
            payments_url=payments.url,
            logs_url=payments.url,  # no shop page reads the audit log
            shipping_url=extra["shipping"].url if "shipping" in extra else NOWHERE,
            notifications_url=(extra["notifications"].url if "notifications" in extra else NOWHERE),
            client_secret=WEB_SECRET,
            **{"catalog_cache_seconds": 0.0, **web},
        )
        app = create_web(settings)
        shop = ShopPages(
            app,
            auth,
            users,
            tokens,
            catalog=catalog_server,
            orders=orders,
            payments=payments,
            shipping=extra.get("shipping"),
            notifications=extra.get("notifications"),
            admin=await _admin_headers(auth),
            servers=started,
        )
        async with running(app):
            try:
                yield shop
            finally:
                for client in shop.clients:
                    await client.aclose()
    finally:
        for server in reversed(started):
            await server.stop()

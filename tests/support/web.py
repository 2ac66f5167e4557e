"""The storefront's service tests: the web app in-process, real auth and users behind it.

`open_storefront` serves auth (cheap password hashing, a client secret for `web`) and
users under uvicorn on free local ports, with SQLite in the test's directory and no
broker, and runs the web app in-process on its own SQLite file, calling them over
HTTP as it does in production; orders is not running (the cart badge is then
hidden). Its `Storefront.browser()` is an httpx client on the web app that keeps
cookies, as one browser does; `page_form` reads a form's CSRF token and fields from
a page, and `submit` posts a form the way a browser would (from this site's origin).
`gateway_headers` are what the gateway adds in front of a shopper at `address`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from mercato.chassis.security.client_addresses import PROXY_TOKEN_HEADER
from mercato.users.app import create_app as create_users
from mercato.users.settings import load_settings as users_settings
from mercato.web.app import create_app as create_web
from mercato.web.settings import load_settings as web_settings
from tests.support.apps import running
from tests.support.auth import auth_app
from tests.support.orders import Server
from tests.support.servers import closed_port
from tests.support.tokens import TokenFactory

WEB_SECRET = "web-test-client-secret"
SHOP = "http://shop.test"
PASSWORD = "Corr3ct-horse-battery"
_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r'(\w[\w-]*)="([^"]*)"')


@dataclass
class Storefront:
    """The web app and the real services it calls."""

    app: FastAPI
    auth: Server
    users: Server
    tokens: TokenFactory
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def browser(
        self, headers: Mapping[str, str] | None = None, *, https: bool = False
    ) -> httpx.AsyncClient:
        """A new client on the storefront that keeps its cookies, as one browser does.

        `https`: it speaks to `https://shop.test` (so it sends back a Secure cookie).
        """
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=SHOP.replace("http:", "https:") if https else SHOP,
            headers=dict(headers or {}),
        )
        self.clients.append(client)
        return client

    def gateway_headers(self, address: str) -> dict[str, str]:
        """What the gateway sends in front of a shopper at `address`: the chain, its proof."""
        proof = self.tokens.token("service:gateway", [], aud="web", typ="service")
        return {"X-Forwarded-For": address, PROXY_TOKEN_HEADER: proof}

    async def register(
        self, client: httpx.AsyncClient, *, name: str = "Ann Shopper", email: str | None = None
    ) -> tuple[str, httpx.Response]:
        """Create an account through the register form (signed in after); its email."""
        email = email or f"ann-{uuid.uuid4().hex[:10]}@example.com"
        fields = {"name": name, "email": email, "password": PASSWORD}
        answer = await submit(client, "/register", fields)
        return email, answer

    async def login(
        self, client: httpx.AsyncClient, email: str, password: str = PASSWORD
    ) -> httpx.Response:
        """Log in through the login form."""
        return await submit(client, "/login", {"email": email, "password": password})


def page_form(html: str, form_id: str | None = None) -> dict[str, str]:
    """The named fields of a page's form (its hidden ones too), with their values."""
    if form_id is not None:
        start = html.index(f'<form id="{form_id}"')
        html = html[start : html.index("</form>", start)]
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(html):
        attributes = dict(_ATTRIBUTE.findall(tag))
        if "name" in attributes:
            fields[attributes["name"]] = unescape(attributes.get("value", ""))
    return fields


async def csrf_token(client: httpx.AsyncClient, page: str) -> str:
    """The CSRF token the forms of `page` carry for this client's session."""
    answer = await client.get(page)
    return page_form(answer.text)["csrf_token"]


async def submit(
    client: httpx.AsyncClient,
    action: str,
    fields: Mapping[str, str],
    *,
    page: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Post `fields` to `action` with the token of the form on `page` (default: `action`)."""
    body = {"csrf_token": await csrf_token(client, page or action), **fields}
    origin = f"{client.base_url.scheme}://{client.base_url.netloc.decode()}"
    sent = {"Origin": origin, "Sec-Fetch-Site": "same-origin", **(headers or {})}
    return await client.post(action, data=body, headers=sent)


@asynccontextmanager
async def open_storefront(
    tmp_path: Path, tokens: TokenFactory, **web: Any
) -> AsyncIterator[Storefront]:
    """The storefront in-process with real auth and users servers; `web` overrides settings."""
    auth = Server(auth_app(tmp_path / "auth", clients={"web": WEB_SECRET}))
    await auth.start()
    users = Server(
        create_users(
            users_settings({}, data_dir=tmp_path / "users", broker_url="", auth_url=auth.url)
        )
    )
    await users.start()
    down = f"http://127.0.0.1:{closed_port()}"
    settings = web_settings(
        {},
        data_dir=tmp_path / "web",
        auth_url=auth.url,
        users_url=users.url,
        catalog_url=down,
        orders_url=down,
        payments_url=down,
        logs_url=down,
        client_secret=WEB_SECRET,
        **web,
    )
    app = create_web(settings)
    shop = Storefront(app, auth, users, tokens)
    try:
        async with running(app, tokens):
            yield shop
    finally:
        for client in shop.clients:
            await client.aclose()
        await users.stop()
        await auth.stop()

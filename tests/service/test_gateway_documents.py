"""Service tests of the documents the gateway serves: AsyncAPI, and the services' docs.

`/asyncapi.json` is the gateway's own, generated in its bus namespace; a service's
OpenAPI document, docs pages and their assets are the service's, forwarded. All are
served by the rule of the API docs (`gateway.operator`): on the operator port, to an
administrator's token, or to anyone when the docs are public (development); anyone
else gets the 404 of a path that is not served, and the service is not asked.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mercato.catalog.app import create_app as create_catalog
from mercato.catalog.settings import load_settings as catalog_settings
from mercato.chassis.events.asyncapi import asyncapi_document
from tests.support.documents import CONTENT_TYPES, references
from tests.support.gateway import gateway, upstreams
from tests.support.orders import Server
from tests.support.tokens import TokenFactory

PRODUCTION: dict[str, Any] = {"env": "production", "client_secret": secrets.token_urlsafe(32)}
ASYNCAPI = "/asyncapi.json"


async def test_the_asyncapi_document_is_served_in_the_systems_namespace(
    tokens: TokenFactory,
) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}, bus_namespace="SHOP_7") as (http, _),
    ):
        answer = await http.get(ASYNCAPI)
        head = await http.head(ASYNCAPI)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == asyncapi_document("SHOP_7")
    assert answer.json()["channels"]["order_placed"]["address"] == "shop_7.events.order.placed"
    assert head.status_code == 200 and not head.content
    assert catalog.hits == []  # the gateway's own document, no service asked


async def test_the_asyncapi_document_is_for_operators_in_production(
    tokens: TokenFactory,
) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}, **PRODUCTION) as (http, _),
    ):
        anonymous = await http.get(ASYNCAPI)
        customer = await http.get(ASYNCAPI, headers=tokens.headers(roles=["customer"]))
        forged = await http.get(ASYNCAPI, headers={"Authorization": "Bearer not-a-token"})
        admin = await http.get(ASYNCAPI, headers=tokens.headers(roles=["admin"]))
    for refused in (anonymous, customer, forged):
        assert refused.status_code == 404
        assert refused.headers["content-type"] == "application/problem+json"
    assert admin.status_code == 200
    assert admin.json()["asyncapi"] == "3.0.0"


async def test_the_operator_port_and_public_docs_open_it(tokens: TokenFactory) -> None:
    operator = "http://shop.test:9100"  # the test client's requests to port 9100
    async with upstreams("c1") as [catalog]:
        async with gateway(
            tokens, {"catalog": [catalog]}, **PRODUCTION, operator_port=9100, operator_admins=False
        ) as (http, _):
            on_operator_port = await http.get(f"{operator}{ASYNCAPI}")
            admin_on_public_port = await http.get(ASYNCAPI, headers=tokens.headers(roles=["admin"]))
        async with gateway(tokens, {"catalog": [catalog]}, **PRODUCTION, public_docs=True) as (
            http,
            _,
        ):
            public = await http.get(ASYNCAPI)
    assert on_operator_port.status_code == 200
    assert admin_on_public_port.status_code == 404  # operator_admins is off
    assert public.status_code == 200


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[Server]:
    """A real catalog, served by uvicorn on a local port."""
    server = Server(create_catalog(catalog_settings(data_dir=tmp_path, broker_url="")))
    await server.start()
    yield server
    await server.stop()


async def test_the_docs_and_their_assets_come_through_the_gateway(
    tokens: TokenFactory, catalog: Server
) -> None:
    async with gateway(tokens, {"catalog": [catalog]}) as (http, _):  # development: public
        for page_path in ("/api/catalog/docs", "/api/catalog/docs/redoc"):
            page = await http.get(page_path)
            assert page.status_code == 200
            assert page.headers["content-type"] == "text/html; charset=utf-8"
            assert "://" not in page.text
            for url in references(page.text):
                answer = await http.get(url)
                assert answer.status_code == 200, url
                assert answer.headers["content-type"] == CONTENT_TYPES[Path(url).suffix], url
                assert "127.0.0.1" not in answer.headers.get("location", "")


async def test_the_docs_assets_are_for_operators_in_production(
    tokens: TokenFactory, catalog: Server
) -> None:
    asset = "/api/catalog/docs/assets/swagger-ui-dist/swagger-ui-bundle.js"
    paths = ["/api/catalog/docs/redoc", asset, "/api/catalog/docs/oauth2-redirect"]
    async with gateway(tokens, {"catalog": [catalog]}, **PRODUCTION) as (http, _):
        anonymous = [await http.get(path) for path in paths]
        customer = [await http.get(p, headers=tokens.headers(roles=["customer"])) for p in paths]
        admin = [await http.get(p, headers=tokens.headers(roles=["admin"])) for p in paths]
    assert [a.status_code for a in anonymous + customer] == [404] * 6
    assert all(a.headers["content-type"] == "application/problem+json" for a in anonymous)
    assert [a.status_code for a in admin] == [200, 200, 200]
    assert admin[1].headers["content-type"] == "text/javascript; charset=utf-8"

"""Service tests of the documents the gateway serves: the events' AsyncAPI document.

`/asyncapi.json` is the gateway's own, generated in its bus namespace; it is served
by the rule of the API docs (`gateway.operator`): on the operator port, to an
administrator's token, or to anyone when the docs are public (development); anyone
else gets the 404 of a path that is not served.
"""

from __future__ import annotations

import secrets
from typing import Any

from mercato.chassis.events.asyncapi import asyncapi_document
from tests.support.gateway import gateway, upstreams
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

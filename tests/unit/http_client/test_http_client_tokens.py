"""The inter-service client's header propagation and service tokens."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer

from mercato.chassis.client.service_client import (
    ServiceClient,
    ServiceResponse,
    ServiceUnavailableError,
)
from mercato.chassis.client.service_tokens import ServiceTokenProvider
from mercato.chassis.telemetry import trace_context
from tests.support.clock import ManualClock
from tests.support.http_client import Upstream, url


async def test_request_id_and_traceparent_are_propagated(
    client: ServiceClient, server: TestServer
) -> None:
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    ctx = trace_context.new_context(request_id="req-42", traceparent=incoming)
    token = trace_context.set_current(ctx)
    try:
        response = await client.get(url(server, "/echo"), target="catalog")
    finally:
        trace_context.reset_current(token)
    seen = response.json()
    assert seen["x-request-id"] == "req-42"
    assert seen["traceparent"] == ctx.traceparent
    assert seen["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")


async def test_no_context_means_no_propagation_headers(
    client: ServiceClient, server: TestServer
) -> None:
    seen = (await client.get(url(server, "/echo"), target="catalog")).json()
    assert "x-request-id" not in seen
    assert "traceparent" not in seen


async def test_service_token_for_the_target_is_sent(server: TestServer) -> None:
    asked: list[str] = []

    async def provider(audience: str) -> str:
        asked.append(audience)
        return f"token-for-{audience}"

    async with ServiceClient(token_provider=provider) as client:
        seen = (await client.get(url(server, "/echo"), target="catalog")).json()
        bare = (await client.get(url(server, "/echo"), target="catalog", auth=False)).json()
        own = (
            await client.get(
                url(server, "/echo"), target="catalog", headers={"Authorization": "Bearer mine"}
            )
        ).json()
    assert seen["authorization"] == "Bearer token-for-catalog"
    assert "authorization" not in bare
    assert own["authorization"] == "Bearer mine"
    assert asked == ["catalog"]


def make_provider(
    client: ServiceClient, server: BaseTestServer, clock: ManualClock | None = None
) -> ServiceTokenProvider:
    return ServiceTokenProvider(
        client,
        auth_url=url(server, "/"),
        client_id="orders",
        client_secret="s3cret",
        refresh_margin=30.0,
        **({"clock": clock} if clock else {}),
    )


async def test_token_provider_fetches_and_caches_per_audience(
    client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    provider = make_provider(client, server)
    assert await provider("catalog") == "token-catalog-1"
    assert await provider("catalog") == "token-catalog-1"
    assert await provider("payments") == "token-payments-2"
    assert await provider("payments") == "token-payments-2"
    assert upstream.calls["/api/auth/token"] == 2
    assert upstream.token_requests[0] == {
        "grant_type": "client_credentials",
        "client_id": "orders",
        "client_secret": "s3cret",
        "audience": "catalog",
    }
    assert "authorization" not in {k.lower() for k in upstream.seen[0]}


async def test_a_burst_makes_one_token_call(
    client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    provider = make_provider(client, server)
    tokens = await asyncio.gather(*(provider("catalog") for _ in range(50)))
    assert set(tokens) == {"token-catalog-1"}
    assert upstream.calls["/api/auth/token"] == 1


async def test_token_is_refreshed_before_it_expires(
    client: ServiceClient, server: TestServer, upstream: Upstream, clock: ManualClock
) -> None:
    upstream.token_expires_in = 300
    provider = make_provider(client, server, clock)
    assert await provider("catalog") == "token-catalog-1"
    clock.now += 269
    assert await provider("catalog") == "token-catalog-1"
    clock.now += 1  # 30 s before expiry
    assert await provider("catalog") == "token-catalog-2"
    provider.invalidate("catalog")
    assert await provider("catalog") == "token-catalog-3"


async def test_token_call_is_retried_through_the_client(client: ServiceClient) -> None:
    calls = 0

    async def failing_then_ok(_: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return web.json_response({}, status=503)
        return web.json_response({"access_token": "t", "token_type": "Bearer", "expires_in": 60})

    app = web.Application()
    app.router.add_post("/api/auth/token", failing_then_ok)
    async with TestServer(app, host="127.0.0.1") as auth:
        provider = make_provider(client, auth)
        assert await provider("catalog") == "t"
    assert calls == 2


async def test_token_refusal_is_a_clear_unavailable_error(client: ServiceClient) -> None:
    async def refuse(_: web.Request) -> web.Response:
        return web.json_response({"title": "Unauthorized"}, status=401)

    app = web.Application()
    app.router.add_post("/api/auth/token", refuse)
    async with TestServer(app, host="127.0.0.1") as auth:
        provider = make_provider(client, auth)
        with pytest.raises(ServiceUnavailableError) as caught:
            await provider("catalog")
    assert caught.value.target == "auth"
    assert "401" in caught.value.reason


async def test_provider_as_the_clients_token_source(server: TestServer, upstream: Upstream) -> None:
    async with ServiceClient() as client:
        client.token_provider = make_provider(client, server)
        seen = (await client.get(url(server, "/echo"), target="catalog")).json()
    assert seen["authorization"] == "Bearer token-catalog-1"


def test_response_helpers() -> None:
    response = ServiceResponse(200, {"content-type": "application/json"}, orjson.dumps([1]))
    assert response.ok
    assert response.json() == [1]
    assert response.text() == "[1]"
    response.raise_for_status()

"""Service tests of the gateway in front of the storefront: every other path is a page.

Real upstream servers stand in for the web service and the catalog
(`tests.support.gateway`); one test runs a real auth for the gateway's proof.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import jwt

from mercato.chassis.security.client_addresses import PROXY_TOKEN_HEADER
from tests.support.auth import auth_app
from tests.support.gateway import CLIENT_IP, gateway, upstreams
from tests.support.orders import Server
from tests.support.tokens import TokenFactory


async def test_pages_go_to_the_storefront_and_the_api_stays_as_it_was(
    tokens: TokenFactory,
) -> None:
    async with (
        upstreams("c1", "w1") as [catalog, web],
        gateway(tokens, {"catalog": [catalog], "web": [web]}) as (http, _),
    ):
        home = await http.get("/")
        login = await http.get("/login?next=%2Faccount")
        static = await http.get("/static/shop.0123456789ab.css")
        api = await http.get("/api/catalog/products")
        unknown_api = await http.get("/api/nosuch/things")
        webs_api = await http.get("/api/web/anything")
        health = await http.get("/health")
        metrics = await http.get("/metrics")
        events = await http.get("/asyncapi.json")

    assert [h["path"] for h in web.hits] == ["/", "/login", "/static/shop.0123456789ab.css"]
    assert web.hits[1]["query"] == "next=%2Faccount"
    assert home.status_code == login.status_code == static.status_code == 200
    assert web.hits[0]["headers"]["x-forwarded-for"] == CLIENT_IP
    assert web.hits[0]["headers"]["x-forwarded-host"] == "shop.test"
    assert api.status_code == 200 and catalog.hits[0]["path"] == "/api/catalog/products"
    for refused in (unknown_api, webs_api):
        assert refused.status_code == 404
        assert refused.headers["content-type"] == "application/problem+json"
    assert health.status_code == 200 and "services" in health.json()
    assert metrics.status_code == 404  # the operators' path: not the storefront's either
    assert events.status_code == 200 and "asyncapi" in events.json()  # the gateway's own
    assert all(h["path"] not in ("/health", "/metrics", "/asyncapi.json") for h in web.hits)


async def test_pages_carry_the_storefronts_policy_and_a_referrer_policy_that_keeps_origin(
    tokens: TokenFactory,
) -> None:
    async with upstreams("c1", "w1") as [catalog, web]:
        web.extra_headers = {
            "Content-Security-Policy": "default-src 'self'",
            "Cache-Control": "no-store",
            "Referrer-Policy": "unsafe-url",  # the gateway's own replaces it
        }
        async with gateway(tokens, {"catalog": [catalog], "web": [web]}) as (http, _):
            page = await http.get("/")
            api = await http.get("/api/catalog/products")

    assert page.headers["content-security-policy"] == "default-src 'self'"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers.get_list("referrer-policy") == ["same-origin"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert api.headers["referrer-policy"] == "no-referrer"


async def test_a_storefront_that_is_down_is_a_page_that_says_so(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1", "w1") as [catalog, web],
        gateway(tokens, {"catalog": [catalog], "web": [web]}) as (http, _),
    ):
        await web.stop()
        page = await http.get("/account")
        api = await http.get("/api/catalog/products")

    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "The shop is unavailable" in page.text
    assert web.url.rsplit(":", 1)[1] not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<script" not in page.text and "style" not in page.text
    assert api.status_code == 200  # the API does not need the storefront


async def test_too_many_page_requests_are_a_page_with_retry_after(tokens: TokenFactory) -> None:
    async with (
        upstreams("w1") as [web],
        gateway(tokens, {"web": [web]}, client_rate=1, client_burst=1) as (http, _),
    ):
        first = await http.get("/")
        second = await http.get("/")

    assert first.status_code == 200
    assert second.status_code == 429
    assert second.headers["content-type"].startswith("text/html")
    assert second.headers["retry-after"]
    assert "Too many requests" in second.text


async def test_login_forms_are_bounded_per_client_like_the_apis_login(
    tokens: TokenFactory,
) -> None:
    async with upstreams("w1") as [web]:
        web.delay = 0.5
        async with gateway(tokens, {"web": [web]}, costly_per_client=2) as (http, _):
            answers = await asyncio.gather(
                *(http.post("/login", data={"email": "a@example.com"}) for _ in range(3))
            )

    assert sorted(a.status_code for a in answers) == [200, 200, 429]
    assert len(web.hits) == 2


async def test_the_storefront_is_told_the_shoppers_address_with_the_gateways_proof(
    tokens: TokenFactory, tmp_path: Path
) -> None:
    auth = Server(auth_app(tmp_path, clients={"gateway": "gateway-test-secret"}))
    await auth.start()
    try:
        async with (
            upstreams("w1") as [web],
            gateway(
                tokens,
                {"auth": [auth], "web": [web]},
                auth_url=auth.url,
                client_secret="gateway-test-secret",
            ) as (http, _),
        ):
            await http.get(
                "/login", headers={PROXY_TOKEN_HEADER: "forged", "X-Forwarded-For": "1.2.3.4"}
            )
    finally:
        await auth.stop()

    (hit,) = web.hits
    assert hit["headers"]["x-forwarded-for"] == CLIENT_IP  # the client's own claim dropped
    proof = jwt.decode(
        hit["headers"][PROXY_TOKEN_HEADER.lower()], options={"verify_signature": False}
    )
    assert proof["aud"] == "web" and proof["sub"] == "service:gateway"

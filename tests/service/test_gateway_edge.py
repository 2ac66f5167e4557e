"""Service tests of the gateway's edge policy: rate limits, headers, CORS and health."""

from __future__ import annotations

import secrets
from typing import TypedDict

import httpx
import orjson

from tests.support.gateway import gateway, upstreams
from tests.support.tokens import TokenFactory


class ProductionSettings(TypedDict):
    """What the gateway needs to run in production (typed: `**` fills these, never `client`)."""

    env: str
    client_secret: str


# Production refuses development secrets: a random one, as a deployment would set.
PRODUCTION: ProductionSettings = {"env": "production", "client_secret": secrets.token_urlsafe(32)}
SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


async def test_client_over_its_rate_is_429_with_retry_after(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}, client_rate=1, client_burst=3) as (http, _),
    ):
        statuses = [(await http.get("/api/catalog/products")).status_code for _ in range(3)]
        limited = await http.get("/api/catalog/products")
        forged = await http.get("/api/catalog/products", headers={"Authorization": "Bearer x"})
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    assert forged.status_code == 429  # a bad token does not dodge the limit
    assert len(catalog.hits) == 3


async def test_clients_have_separate_budgets(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(
            tokens,
            {"catalog": [catalog]},
            client=("198.51.100.1", 1),
            client_rate=1,
            client_burst=1,
        ) as (first, app),
    ):
        # Another peer address in front of the same gateway process and limiter.
        transport = httpx.ASGITransport(app=app, client=("198.51.100.2", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as other:
            assert (await first.get("/api/catalog/x")).status_code == 200
            assert (await first.get("/api/catalog/x")).status_code == 429
            assert (await other.get("/api/catalog/x")).status_code == 200


async def test_user_writes_are_limited_per_user(tokens: TokenFactory) -> None:
    async with (
        upstreams("o1") as [orders],
        gateway(tokens, {"orders": [orders]}, user_rate=1, user_burst=2) as (http, _),
    ):
        ann = tokens.headers("ann")
        bob = tokens.headers("bob")
        writes = [(await http.post("/api/orders", json={}, headers=ann)).status_code for _ in "abc"]
        reads = [(await http.get("/api/orders", headers=ann)).status_code for _ in "abc"]
        other = await http.post("/api/orders", json={}, headers=bob)
    assert writes == [200, 200, 429]
    assert reads == [200, 200, 200]
    assert other.status_code == 200


async def test_security_headers_on_every_answer(tokens: TokenFactory) -> None:
    async with upstreams("a1") as [auth], gateway(tokens, {"auth": [auth]}) as (http, _):
        auth.extra_headers = {"X-Frame-Options": "SAMEORIGIN", "Cache-Control": "max-age=60"}
        proxied = await http.post("/api/auth/login", json={})
        jwks = await http.get("/.well-known/jwks.json")
        missing = await http.get("/nowhere")
        unsupported = await http.post("/api/auth/login", content=b"x=1")
        live = await http.get("/health/live")
    for response in (proxied, jwks, missing, unsupported, live):
        for name, value in SECURITY.items():
            assert response.headers.get_list(name) == [value], (response.url, name)
        assert "strict-transport-security" not in response.headers
    assert proxied.headers.get_list("cache-control") == ["no-store"]
    assert unsupported.headers["cache-control"] == "no-store"
    assert jwks.headers["cache-control"] == "max-age=60"  # not an auth API path


async def test_hsts_when_enabled(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}, hsts=True) as (
            http,
            _,
        ),
    ):
        response = await http.get("/api/catalog/products")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_cors_preflight_for_configured_origins(tokens: TokenFactory) -> None:
    origin = "https://shop.example.com"
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}, cors_origins=origin) as (http, _),
    ):
        preflight = await http.options(
            "/api/catalog/products",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization, Content-Type",
            },
        )
        refused = await http.options(
            "/api/catalog/products",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        simple = await http.get("/api/catalog/products", headers={"Origin": origin})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert refused.status_code == 400
    assert simple.headers["access-control-allow-origin"] == origin
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
    assert catalog.hits and all(h["method"] == "GET" for h in catalog.hits)


async def test_no_cors_by_default(tokens: TokenFactory) -> None:
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        response = await http.get("/api/catalog/x", headers={"Origin": "https://shop.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_health_aggregates_every_instance(tokens: TokenFactory) -> None:
    admin = tokens.headers(roles=["admin"])
    async with (
        upstreams("a1", "c1", "c2") as [auth, one, two],
        gateway(tokens, {"auth": [auth], "catalog": [one, two]}) as (http, _),
    ):
        healthy = await http.get("/health", headers=admin)
        await two.stop()
        degraded = await http.get("/health", headers=admin)
        auth.ready = False
        down = await http.get("/health", headers=admin)
    assert healthy.status_code == 200
    body = healthy.json()
    assert body["status"] == "ok"
    assert body["services"]["catalog"]["instances"] == [
        {"url": one.url, "status": "ok"},
        {"url": two.url, "status": "ok"},
    ]
    assert degraded.status_code == 200
    assert degraded.json()["services"]["catalog"]["status"] == "degraded"
    assert degraded.json()["services"]["catalog"]["instances"][1]["status"] == "unreachable"
    assert down.status_code == 503
    document = orjson.loads(down.content)
    assert document["status"] == "unavailable"
    assert document["services"]["auth"] == {
        "status": "unavailable",
        "instances": [{"url": auth.url, "status": "unavailable (503)"}],
    }


async def test_health_shows_operators_what_each_instance_reports_beside_readiness(
    tokens: TokenFactory,
) -> None:
    admin = tokens.headers(roles=["admin"])
    async with (
        upstreams("c1", "c2") as [one, two],
        gateway(tokens, {"catalog": [one, two]}) as (http, _),
    ):
        one.reported = {"broker": "timeout"}  # its broker paused: still ready
        two.reported = {"broker": "ok", "odd": 5, "long": "x" * 500}  # only strings, cut
        operator = await http.get("/health", headers=admin)
        public = await http.get("/health")
    assert operator.status_code == 200
    assert operator.json() == {
        "status": "ok",
        "services": {
            "catalog": {
                "status": "ok",
                "instances": [
                    {"url": one.url, "status": "ok", "reported": {"broker": "timeout"}},
                    {
                        "url": two.url,
                        "status": "ok",
                        "reported": {"broker": "ok", "long": "x" * 200},
                    },
                ],
            }
        },
    }
    assert public.json() == {"status": "ok", "services": {"catalog": {"status": "ok"}}}


async def test_health_names_no_instance_to_the_public(tokens: TokenFactory) -> None:
    async with (
        upstreams("a1", "c1", "c2") as [auth, one, two],
        gateway(tokens, {"auth": [auth], "catalog": [one, two]}) as (http, _),
    ):
        await two.stop()
        anonymous = await http.get("/health")
        customer = await http.get("/health", headers=tokens.headers(roles=["customer"]))
    for answer in (anonymous, customer):
        assert answer.status_code == 200
        assert answer.json() == {
            "status": "degraded",
            "services": {"auth": {"status": "ok"}, "catalog": {"status": "degraded"}},
        }
        assert "127.0.0.1" not in answer.text


async def test_operator_paths_are_for_operators(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}, **PRODUCTION) as (http, _),
    ):
        paths = ["/metrics", "/api/catalog/docs", "/api/catalog/openapi.json"]
        anonymous = [await http.get(path) for path in paths]
        customer = [await http.get(p, headers=tokens.headers(roles=["customer"])) for p in paths]
        admin = [await http.get(p, headers=tokens.headers(roles=["admin"])) for p in paths]
    assert [a.status_code for a in anonymous] == [404, 404, 404]
    assert [a.status_code for a in customer] == [404, 404, 404]
    assert all(a.headers["content-type"] == "application/problem+json" for a in anonymous)
    assert [a.status_code for a in admin] == [200, 200, 200]
    assert [h["path"] for h in catalog.hits] == paths[1:]  # only the admin's reached it


async def test_the_operator_port_needs_no_token(tokens: TokenFactory) -> None:
    operator = "http://shop.test:9100"  # the test client's requests to port 9100
    async with (
        upstreams("c1") as [catalog],
        gateway(
            tokens, {"catalog": [catalog]}, **PRODUCTION, operator_port=9100, operator_admins=False
        ) as (http, _),
    ):
        metrics = await http.get(f"{operator}/metrics")
        health = await http.get(f"{operator}/health")
        docs = await http.get(f"{operator}/api/catalog/openapi.json")
        public = await http.get("/metrics", headers=tokens.headers(roles=["admin"]))
    assert metrics.status_code == 200 and "gateway_" in metrics.text
    assert health.json()["services"]["catalog"]["instances"] == [
        {"url": catalog.url, "status": "ok"}
    ]
    assert docs.status_code == 200
    assert public.status_code == 404  # operator_admins is off: the port alone opens them


async def test_docs_are_public_in_development_only(tokens: TokenFactory) -> None:
    async with upstreams("c1") as [catalog]:
        async with gateway(tokens, {"catalog": [catalog]}) as (http, _):
            development = await http.get("/api/catalog/docs")
            metrics = await http.get("/metrics")
        async with gateway(tokens, {"catalog": [catalog]}, **PRODUCTION) as (http, _):
            production = await http.get("/api/catalog/docs")
        async with gateway(tokens, {"catalog": [catalog]}, **PRODUCTION, public_docs=True) as (
            http,
            _,
        ):
            opened = await http.get("/api/catalog/docs")
    assert development.status_code == 200
    assert metrics.status_code == 404  # metrics are never public
    assert production.status_code == 404
    assert opened.status_code == 200


async def test_own_probes_and_metrics(tokens: TokenFactory) -> None:
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        await catalog.stop()
        assert (await http.get("/api/catalog/products")).status_code == 503
        live = await http.get("/health/live")
        ready = await http.get("/health/ready")
        metrics = await http.get("/metrics", headers=tokens.headers(roles=["admin"]))
    assert live.status_code == 200
    assert live.json()["service"] == "gateway"
    assert ready.status_code == 200
    assert 'route="/api/catalog/*"' in metrics.text
    assert 'gateway_upstream_failures_total{reason="connect",service="catalog"}' in metrics.text


async def test_a_path_nothing_serves_is_a_404_naming_it(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}) as (http, _),
    ):
        outside = await http.get("/nowhere")
        under_api = await http.get("/api/nowhere/at-all")
        wrong_method = await http.delete("/health")
    for answer in (outside, under_api):
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
    assert outside.json()["detail"] == "Nothing is served at /nowhere."
    assert under_api.json()["detail"] == "No service serves /api/nowhere/at-all."
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET, HEAD"
    assert catalog.hits == []

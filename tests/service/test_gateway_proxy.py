"""Service tests of the gateway's proxy path against real upstream servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import orjson

from tests.support.gateway import CLIENT_IP, gateway, upstreams
from tests.support.tokens import TokenFactory

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_forwards_method_path_query_and_body(tokens: TokenFactory) -> None:
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        response = await http.post(
            "/api/catalog/products/a%2Fb?q=red+shoe&limit=2",
            content=b'{"title": "Shoe"}',
            headers={"Content-Type": "application/json", "Accept-Encoding": "identity"},
        )
    assert response.status_code == 200
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["path"] == "/api/catalog/products/a%2Fb"
    assert seen["query"] == "q=red+shoe&limit=2"
    assert orjson.loads(seen["body"]) == {"title": "Shoe"}
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["accept-encoding"] == "identity"
    assert seen["headers"]["x-forwarded-for"] == CLIENT_IP
    assert seen["headers"]["x-forwarded-proto"] == "http"
    assert seen["headers"]["x-forwarded-host"] == "shop.test"
    assert seen["headers"]["host"] == catalog.url.removeprefix("http://")


async def test_jwks_goes_to_auth(tokens: TokenFactory) -> None:
    async with upstreams("a1") as [auth], gateway(tokens, {"auth": [auth]}) as (http, _):
        response = await http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json()["path"] == "/.well-known/jwks.json"


async def test_request_id_and_trace_are_propagated(tokens: TokenFactory) -> None:
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        response = await http.get(
            "/api/catalog/products", headers={"X-Request-ID": "req-42", "traceparent": TRACE}
        )
    seen = response.json()["headers"]
    assert seen["x-request-id"] == "req-42"
    assert response.headers.get_list("x-request-id") == ["req-42"]
    version, trace_id, parent, _flags = seen["traceparent"].split("-")
    # The client's trace context is not trusted at the edge: a trace of the gateway's own.
    assert version == "00" and trace_id != TRACE.split("-")[1]
    assert parent != TRACE.split("-")[2]


async def test_a_trusted_callers_trace_is_continued(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}, trust_traceparent=True) as (http, _),
    ):
        response = await http.get("/api/catalog/products", headers={"traceparent": TRACE})
    version, trace_id, parent, flags = response.json()["headers"]["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE.split("-")[1], "01")
    assert parent != TRACE.split("-")[2]  # the gateway's own span is the parent


async def test_hop_by_hop_and_spoofed_headers_are_dropped(tokens: TokenFactory) -> None:
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        catalog.extra_headers = {"X-Custom": "kept", "Keep-Alive": "timeout=5"}
        response = await http.get(
            "/api/catalog/products",
            headers={
                "Connection": "keep-alive, X-Secret",
                "X-Secret": "hop",
                "Proxy-Authorization": "Basic eA==",
                "X-Forwarded-For": "10.9.9.9",
                "X-Mercato-User-Id": "admin-impostor",
                "X-Mercato-Roles": "admin",
            },
        )
    seen = response.json()["headers"]
    for name in ("x-secret", "proxy-authorization", "x-mercato-user-id", "x-mercato-roles"):
        assert name not in seen
    assert seen["x-forwarded-for"] == CLIENT_IP
    assert response.headers["x-custom"] == "kept"
    assert "keep-alive" not in response.headers


async def test_a_token_claim_cannot_smuggle_a_header_to_the_service(tokens: TokenFactory) -> None:
    # The subject is forwarded as X-Mercato-User-Id: a line break in it (a token is
    # signed, but its claims are still data) must not become a header of its own.
    smuggler = tokens.headers("ann\r\nx-mercato-roles: admin", ["customer"])
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        response = await http.get("/api/catalog/products", headers=smuggler)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "line break" in response.json()["detail"]
    assert catalog.hits == []


async def test_trusted_proxy_forwarding_headers_are_believed(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(
            tokens, {"catalog": [catalog]}, client=("10.0.0.5", 5000), trusted_proxies="10.0.0.0/8"
        ) as (http, _),
    ):
        response = await http.get(
            "/api/catalog/x",
            headers={"X-Forwarded-For": "198.51.100.1, 10.0.0.4", "X-Forwarded-Proto": "https"},
        )
    seen = response.json()["headers"]
    assert seen["x-forwarded-for"] == "198.51.100.1, 10.0.0.4, 10.0.0.5"
    assert seen["x-forwarded-proto"] == "https"


async def test_unknown_service_and_route_are_404_problems(tokens: TokenFactory) -> None:
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        unknown_service = await http.get("/api/nope/things")
        unknown_route = await http.get("/admin")
        empty = await http.get("/api/")
    for response in (unknown_service, unknown_route, empty):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 404
    assert not catalog.hits


async def test_oversized_body_is_413_and_wrong_media_type_415(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}, max_body_bytes=1000) as (http, _),
    ):
        big = await http.post("/api/catalog/products", json={"x": "y" * 2000})
        form = await http.post("/api/catalog/products", data={"x": "y"})
    assert big.status_code == 413
    assert big.headers["content-type"] == "application/problem+json"
    assert form.status_code == 415
    assert not catalog.hits


async def test_stopped_backend_is_503_within_the_connect_timeout(tokens: TokenFactory) -> None:
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        await catalog.stop()
        started = time.monotonic()
        response = await http.get("/api/catalog/products")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "catalog" in response.json()["detail"]
    assert elapsed < 1.5


async def test_slow_backend_is_504_at_the_timeout(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}, request_timeout=0.3) as (http, _),
    ):
        catalog.delay = 3.0
        started = time.monotonic()
        response = await http.get("/api/catalog/products")
        elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json()["status"] == 504
    assert 0.25 < elapsed < 2.0


async def test_route_timeout_overrides_the_default(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(
            tokens,
            {"catalog": [catalog]},
            request_timeout=0.2,
            route_timeouts="/api/catalog/products/import=3",
        ) as (http, _),
    ):
        catalog.delay = 0.5
        slow_ok = await http.post("/api/catalog/products/import", json=[])
        too_slow = await http.get("/api/catalog/products")
    assert slow_ok.status_code == 200
    assert too_slow.status_code == 504


async def test_round_robin_over_instances(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1", "c2") as [one, two],
        gateway(tokens, {"catalog": [one, two]}) as (http, _),
    ):
        answers = [await http.get("/api/catalog/products") for _ in range(6)]
    assert [a.json()["instance"] for a in answers] in (["c1", "c2"] * 3, ["c2", "c1"] * 3)


async def test_stopped_instance_is_skipped_and_gets_retried(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1", "c2") as [one, two],
        gateway(tokens, {"catalog": [one, two]}) as (http, _),
    ):
        await one.stop()
        answers = [await http.get("/api/catalog/products") for _ in range(6)]
        posted = await http.post("/api/catalog/products", json={})
    assert all(a.status_code == 200 for a in answers)
    assert {a.json()["instance"] for a in answers} == {"c2"}
    assert posted.status_code == 200  # a refused connection sent nothing: safe to retry


async def test_idempotent_request_is_retried_on_503(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1", "c2") as [one, two],
        gateway(tokens, {"catalog": [one, two]}) as (http, _),
    ):
        one.status = 503
        gets = [await http.get("/api/catalog/products") for _ in range(4)]
        posts = [await http.post("/api/catalog/products", json={}) for _ in range(4)]
    assert all(g.status_code == 200 for g in gets)
    assert sorted(p.status_code for p in posts) == [200, 200, 503, 503]


async def test_post_without_key_is_not_retried_on_timeout(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1", "c2") as [one, two],
        gateway(tokens, {"catalog": [one, two]}, request_timeout=2.0, attempt_timeout=0.3) as (
            http,
            _,
        ),
    ):
        one.delay = two.delay = 1.0
        started = time.monotonic()
        response = await http.post("/api/catalog/orders", json={"n": 1})
        elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert len(one.hits) + len(two.hits) == 1
    assert elapsed < 1.5  # the one attempt's deadline, well short of the request's


async def test_get_and_keyed_post_are_retried_on_timeout(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1", "c2") as [one, two],
        gateway(
            tokens,
            {"catalog": [one, two]},
            request_timeout=6.0,
            # c2 answers at once, but in one event loop with the gateway, where a
            # garbage collection may pause everything: its answer gets ample time.
            attempt_timeout=1.0,
            down_seconds=0,  # keep offering the slow instance, so every kind meets it
            keyed_routes="POST /api/catalog/orders",
        ) as (http, _),
    ):
        one.delay = 2.0
        keyed = {"Idempotency-Key": "k"}
        answers = [
            await http.post("/api/catalog/orders", json={}, headers=keyed),  # c1, then c2
            await http.get("/api/catalog/products"),  # c2
            await http.get("/api/catalog/products"),  # c1, then c2
            await http.post("/api/catalog/orders", json={}, headers=keyed),  # c2
        ]
    assert [a.status_code for a in answers] == [200] * 4
    assert {a.json()["instance"] for a in answers} == {"c2"}
    assert {h["method"] for h in one.hits} == {"POST", "GET"}


async def test_a_key_on_a_route_that_ignores_keys_is_not_retried(tokens: TokenFactory) -> None:
    # Only the routes that keep an Idempotency-Key's promise may be sent twice: on any
    # other, the first try may have done the write, and a second would do it again.
    async with (
        upstreams("c1", "c2") as [one, two],
        gateway(
            tokens,
            {"catalog": [one, two], "orders": [one, two]},
            request_timeout=6.0,
            attempt_timeout=1.0,
            down_seconds=0,
        ) as (http, _),
    ):
        one.delay = 2.0
        keyed = {"Idempotency-Key": "k"}
        unkeyed_route = await http.post("/api/catalog/products", json={}, headers=keyed)
        keyed_route = await http.post("/api/orders", json={}, headers=keyed)
    assert unkeyed_route.status_code == 504
    assert keyed_route.status_code == 200 and keyed_route.json()["instance"] == "c2"
    assert [h["path"] for h in two.hits] == ["/api/orders"]


async def test_upstream_response_headers_and_status_are_relayed(tokens: TokenFactory) -> None:
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        catalog.status = 201
        catalog.extra_headers = {"Location": "/api/catalog/products/7", "Set-Cookie": "a=b"}
        created = await http.post("/api/catalog/products", json={})
        head = await http.head("/api/catalog/products")
    assert created.status_code == 201
    assert created.headers["location"] == "/api/catalog/products/7"
    assert created.headers["content-length"] == str(len(created.content))
    assert head.status_code == 201
    assert head.content == b""


async def test_streamed_oversized_body_is_413(tokens: TokenFactory) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 400

    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}, max_body_bytes=1000) as (http, _),
    ):
        response = await http.post(
            "/api/catalog/products", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"
    assert not catalog.hits


async def test_costly_requests_are_bounded_per_client(tokens: TokenFactory) -> None:
    # A login hashes a password: a flood from one address waits on itself, and its
    # requests beyond the bound are refused at once; another client is not held up.
    async with (
        upstreams("a1") as [auth],
        gateway(tokens, {"auth": [auth]}, costly_per_client=2) as (http, app),
    ):
        auth.delay = 1.0
        other = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("198.51.100.9", 40000)),
            base_url="http://shop.test",
        )
        async with other:
            flood = [http.post("/api/auth/login", json={}) for _ in range(4)]
            answers = await asyncio.gather(*flood, other.post("/api/auth/login", json={}))
        after = await http.post("/api/auth/login", json={})  # the flood is over
    statuses = sorted(a.status_code for a in answers[:4])
    assert statuses == [200, 200, 429, 429]
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"] == "application/problem+json"
    assert answers[4].status_code == 200  # the other client's login
    assert after.status_code == 200
    assert len(auth.hits) == 4


async def test_internal_routes_are_not_served(tokens: TokenFactory) -> None:
    async with upstreams("a1") as [auth], gateway(tokens, {"auth": [auth]}) as (http, _):
        token = await http.post("/api/auth/token", json={"client_id": "users"})
        login = await http.post("/api/auth/login", json={})
    assert token.status_code == 404
    assert token.headers["content-type"] == "application/problem+json"
    assert login.status_code == 200
    assert [h["path"] for h in auth.hits] == ["/api/auth/login"]

"""The inter-service client against a real local aiohttp server (no mocks).

The server's handlers count the calls they receive and misbehave on demand: answer
503 a number of times, hang past the client's timeout, or mint service tokens.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer

from mercato.chassis import context
from mercato.chassis.balancing import Pool
from mercato.chassis.circuit import CircuitOpenError, CircuitState
from mercato.chassis.errors import GatewayTimeout, ServiceUnavailable
from mercato.chassis.http import (
    ServiceClient,
    ServiceResponse,
    ServiceResponseError,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from mercato.chassis.service_tokens import ServiceTokenProvider
from tests.support import closed_port


class Upstream:
    """A misbehaving service: counts calls per path and fails on demand."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.failures_left = 0
        self.fail_status = 503
        self.slow_calls_left = 0
        self.release = asyncio.Event()
        self.seen: list[dict[str, str]] = []
        self.token_expires_in = 300
        self.token_requests: list[dict[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/flaky", self.flaky)
        app.router.add_get("/echo", self.echo)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/status/{code}", self.status)
        app.router.add_post("/api/auth/token", self.token)
        return app

    def _record(self, request: web.Request) -> None:
        self.calls[request.path] += 1
        self.seen.append(dict(request.headers))

    async def flaky(self, request: web.Request) -> web.Response:
        """Answer `fail_status` while `failures_left` lasts, then 200."""
        self._record(request)
        if self.failures_left > 0:
            self.failures_left -= 1
            return web.json_response({"error": "down"}, status=self.fail_status)
        return web.json_response({"ok": True, "method": request.method})

    async def echo(self, request: web.Request) -> web.Response:
        """Answer with the request's headers."""
        self._record(request)
        return web.json_response({k.lower(): v for k, v in request.headers.items()})

    async def slow(self, request: web.Request) -> web.Response:
        """Hang (until released) while `slow_calls_left` lasts, then answer at once."""
        self._record(request)
        if self.slow_calls_left > 0:
            self.slow_calls_left -= 1
            await self.release.wait()
        return web.json_response({"ok": True})

    async def status(self, request: web.Request) -> web.Response:
        """Answer the status named in the path."""
        self._record(request)
        return web.json_response({}, status=int(request.match_info["code"]))

    async def token(self, request: web.Request) -> web.Response:
        """Mint a client-credentials token, slowly enough for a burst to overlap."""
        self._record(request)
        body = await request.json()
        self.token_requests.append(body)
        await asyncio.sleep(0.05)
        n = self.calls[request.path]
        return web.json_response(
            {
                "access_token": f"token-{body['audience']}-{n}",
                "token_type": "Bearer",
                "expires_in": self.token_expires_in,
            }
        )


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    up = Upstream()
    yield up
    up.release.set()


@pytest.fixture
async def server(upstream: Upstream) -> AsyncIterator[TestServer]:
    srv = TestServer(upstream.app(), host="127.0.0.1")
    await srv.start_server()
    yield srv
    upstream.release.set()
    await srv.close()


@pytest.fixture
async def client() -> AsyncIterator[ServiceClient]:
    async with ServiceClient(timeout=2.0, retries=2, backoff_base=0.01, backoff_max=0.05) as c:
        yield c


def url(server: BaseTestServer, path: str) -> str:
    return str(server.make_url(path))


# -- retries ---------------------------------------------------------------------


async def test_get_is_retried_after_two_503s(
    client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    upstream.failures_left = 2
    response = await client.get(url(server, "/flaky"), target="catalog")
    assert response.status == 200
    assert response.json() == {"ok": True, "method": "GET"}
    assert upstream.calls["/flaky"] == 3


async def test_exhausted_retries_raise_unavailable_with_the_last_answer(
    client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    upstream.failures_left = 10
    with pytest.raises(ServiceUnavailableError) as caught:
        await client.get(url(server, "/flaky"), target="catalog")
    assert upstream.calls["/flaky"] == 3  # one call and two retries
    assert caught.value.target == "catalog"
    assert caught.value.response is not None
    assert caught.value.response.status == 503


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_idempotent_methods_are_retried(
    method: str, client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    upstream.failures_left = 1
    response = await client.request(method, url(server, "/flaky"), target="catalog", json={})
    assert response.status == 200
    assert upstream.calls["/flaky"] == 2


@pytest.mark.parametrize("status", [502, 504])
async def test_gateway_errors_are_retried(
    status: int, client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    upstream.failures_left, upstream.fail_status = 1, status
    response = await client.get(url(server, "/flaky"), target="catalog")
    assert response.status == 200
    assert upstream.calls["/flaky"] == 2


async def test_post_without_key_is_sent_once(
    client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    upstream.failures_left = 1
    with pytest.raises(ServiceUnavailableError):
        await client.post(url(server, "/flaky"), target="payments", json={"amount": 100})
    assert upstream.calls["/flaky"] == 1


async def test_patch_without_key_is_sent_once(
    client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    upstream.failures_left = 1
    with pytest.raises(ServiceUnavailableError):
        await client.patch(url(server, "/flaky"), target="users", json={"name": "x"})
    assert upstream.calls["/flaky"] == 1


async def test_post_with_idempotency_key_is_retried_with_the_same_key(
    client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    upstream.failures_left = 2
    response = await client.post(
        url(server, "/flaky"), target="payments", json={"amount": 100}, idempotency_key="k-1"
    )
    assert response.status == 200
    assert upstream.calls["/flaky"] == 3
    assert [h["Idempotency-Key"] for h in upstream.seen] == ["k-1"] * 3


async def test_idempotency_key_given_as_a_header_also_allows_retries(
    client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    upstream.failures_left = 1
    response = await client.post(
        url(server, "/flaky"), target="payments", headers={"idempotency-key": "k-2"}
    )
    assert response.status == 200
    assert upstream.calls["/flaky"] == 2


async def test_client_errors_and_500_are_returned_not_retried(
    client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    for code in (404, 409, 500):
        response = await client.get(url(server, f"/status/{code}"), target="catalog")
        assert response.status == code
        assert upstream.calls[f"/status/{code}"] == 1
        with pytest.raises(ServiceResponseError) as caught:
            response.raise_for_status()
        assert caught.value.status == 502
        assert caught.value.response is response


# -- timeouts and connection failures ----------------------------------------------


async def test_timeout_raises_service_timeout(server: TestServer, upstream: Upstream) -> None:
    upstream.slow_calls_left = 100
    async with ServiceClient(timeout=0.2, retries=2, backoff_base=0.01) as client:
        with pytest.raises(ServiceTimeoutError) as caught:
            await client.get(url(server, "/slow"), target="catalog")
    assert isinstance(caught.value, GatewayTimeout)
    assert caught.value.status == 504
    assert caught.value.target == "catalog"
    assert caught.value.body()["status"] == 504


async def test_per_call_timeout_overrides_the_default(
    client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    upstream.slow_calls_left = 100
    with pytest.raises(ServiceTimeoutError) as caught:
        await client.get(url(server, "/slow"), target="catalog", timeout=0.1)
    assert caught.value.timeout == 0.1


async def test_a_slow_attempt_is_retried_within_the_deadline(
    server: TestServer, upstream: Upstream
) -> None:
    upstream.slow_calls_left = 1
    async with ServiceClient(timeout=5.0, attempt_timeout=0.2, backoff_base=0.01) as client:
        response = await client.get(url(server, "/slow"), target="catalog")
    assert response.status == 200
    assert upstream.calls["/slow"] == 2


async def test_refused_connection_raises_unavailable(client: ServiceClient) -> None:
    target = f"http://127.0.0.1:{closed_port()}/anything"
    with pytest.raises(ServiceUnavailableError) as caught:
        await client.get(target, target="orders")
    assert isinstance(caught.value, ServiceUnavailable)
    assert caught.value.status == 503
    assert caught.value.reason == "connection failed"
    assert caught.value.body()["detail"] == "The orders service is unavailable (connection failed)."


async def test_failures_are_problem_errors_that_name_the_target() -> None:
    error = ServiceUnavailableError("catalog", "circuit open", retry_after=2.2)
    assert error.body()["status"] == 503
    assert "catalog" in error.body()["detail"]
    assert error.headers == {"Retry-After": "2"}


async def test_calling_before_start_is_an_error() -> None:
    client = ServiceClient()
    with pytest.raises(RuntimeError, match="start"):
        await client.get("http://127.0.0.1:1/", target="x")


# -- circuit breaker ---------------------------------------------------------------


class FakeClock:
    """A clock for the breakers that only moves when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def breaking_client(clock: FakeClock) -> AsyncIterator[ServiceClient]:
    async with ServiceClient(
        retries=0, failure_threshold=3, reset_timeout=5.0, breaker_clock=clock
    ) as c:
        yield c


async def test_circuit_opens_after_threshold_and_fails_fast(
    breaking_client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    upstream.failures_left = 100
    for _ in range(3):
        with pytest.raises(ServiceUnavailableError):
            await breaking_client.get(url(server, "/flaky"), target="catalog")
    assert upstream.calls["/flaky"] == 3
    assert breaking_client.breaker("catalog").state is CircuitState.OPEN

    for _ in range(5):
        with pytest.raises(ServiceUnavailableError) as caught:
            await breaking_client.get(url(server, "/flaky"), target="catalog")
        assert caught.value.reason == "circuit open"
        assert isinstance(caught.value.__cause__, CircuitOpenError)
        assert "Retry-After" in caught.value.headers
    assert upstream.calls["/flaky"] == 3  # no call reached the server

    # another target has its own circuit
    response = await breaking_client.get(url(server, "/echo"), target="users")
    assert response.status == 200
    assert breaking_client.circuits == {"catalog": CircuitState.OPEN, "users": CircuitState.CLOSED}


async def test_half_open_trial_success_closes_the_circuit(
    breaking_client: ServiceClient, server: TestServer, upstream: Upstream, clock: FakeClock
) -> None:
    upstream.failures_left = 3
    for _ in range(3):
        with pytest.raises(ServiceUnavailableError):
            await breaking_client.get(url(server, "/flaky"), target="catalog")
    assert breaking_client.breaker("catalog").state is CircuitState.OPEN

    clock.now += 5.0
    assert breaking_client.breaker("catalog").state is CircuitState.HALF_OPEN
    response = await breaking_client.get(url(server, "/flaky"), target="catalog")
    assert response.status == 200
    assert breaking_client.breaker("catalog").state is CircuitState.CLOSED
    assert upstream.calls["/flaky"] == 4


async def test_half_open_trial_failure_reopens_the_circuit(
    breaking_client: ServiceClient, server: TestServer, upstream: Upstream, clock: FakeClock
) -> None:
    upstream.failures_left = 100
    for _ in range(3):
        with pytest.raises(ServiceUnavailableError):
            await breaking_client.get(url(server, "/flaky"), target="catalog")
    clock.now += 5.0
    with pytest.raises(ServiceUnavailableError) as caught:
        await breaking_client.get(url(server, "/flaky"), target="catalog")
    assert caught.value.reason == "answered 503"
    assert upstream.calls["/flaky"] == 4
    assert breaking_client.breaker("catalog").state is CircuitState.OPEN


async def test_client_errors_do_not_open_the_circuit(
    breaking_client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    for _ in range(6):
        response = await breaking_client.get(url(server, "/status/404"), target="catalog")
        assert response.status == 404
    assert breaking_client.breaker("catalog").state is CircuitState.CLOSED


async def test_refused_connections_open_the_circuit(breaking_client: ServiceClient) -> None:
    target = f"http://127.0.0.1:{closed_port()}/"
    for _ in range(3):
        with pytest.raises(ServiceUnavailableError):
            await breaking_client.get(target, target="orders")
    assert breaking_client.breaker("orders").state is CircuitState.OPEN


# -- several instances: balancing, failover, a breaker per instance ------------------


@pytest.fixture
async def second() -> AsyncIterator[tuple[Upstream, TestServer]]:
    """Another instance of the same service."""
    up = Upstream()
    srv = TestServer(up.app(), host="127.0.0.1")
    await srv.start_server()
    yield up, srv
    up.release.set()
    await srv.close()


def origin(server: BaseTestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
def pool(server: TestServer, second: tuple[Upstream, TestServer]) -> Pool:
    """Both instances, `server` first."""
    return Pool("upstream", [origin(server), origin(second[1])])


async def test_a_pool_balances_calls_round_robin(
    client: ServiceClient,
    upstream: Upstream,
    second: tuple[Upstream, TestServer],
    pool: Pool,
) -> None:
    other, _ = second
    for _ in range(4):
        response = await client.get("/echo", target="catalog", pool=pool)
        assert response.status == 200 and response.target == "catalog"
    assert upstream.calls["/echo"] == 2
    assert other.calls["/echo"] == 2


async def test_a_retry_goes_to_another_instance_with_the_same_key(
    client: ServiceClient,
    upstream: Upstream,
    second: tuple[Upstream, TestServer],
    pool: Pool,
) -> None:
    other, _ = second
    upstream.failures_left = 1
    response = await client.post("/flaky", target="payments", pool=pool, idempotency_key="k-9")
    assert response.status == 200
    assert upstream.calls["/flaky"] == 1 and other.calls["/flaky"] == 1
    assert [h["Idempotency-Key"] for h in upstream.seen + other.seen] == ["k-9", "k-9"]


async def test_a_post_that_reached_an_instance_is_not_sent_to_another(
    client: ServiceClient,
    upstream: Upstream,
    second: tuple[Upstream, TestServer],
    pool: Pool,
) -> None:
    other, _ = second
    upstream.failures_left = 1
    with pytest.raises(ServiceUnavailableError):
        await client.post("/flaky", target="payments", pool=pool, json={"amount": 1})
    assert upstream.calls["/flaky"] == 1
    assert other.calls["/flaky"] == 0


async def test_a_hung_instance_costs_one_attempt_with_a_per_call_attempt_timeout(
    client: ServiceClient,
    upstream: Upstream,
    second: tuple[Upstream, TestServer],
    pool: Pool,
) -> None:
    other, _ = second
    upstream.slow_calls_left = 100  # the first instance hangs on every call

    response = await client.get("/slow", target="catalog", pool=pool, attempt_timeout=0.2)

    assert response.status == 200
    assert (upstream.calls["/slow"], other.calls["/slow"]) == (1, 1)
    assert pool.is_down(pool.instances[0]) and not pool.is_down(pool.instances[1])


async def test_without_an_attempt_timeout_a_hung_instance_takes_the_whole_deadline(
    client: ServiceClient,
    upstream: Upstream,
    second: tuple[Upstream, TestServer],
    pool: Pool,
) -> None:
    other, _ = second
    upstream.slow_calls_left = 100

    with pytest.raises(ServiceTimeoutError):
        await client.get("/slow", target="catalog", pool=pool, timeout=0.3)
    assert other.calls["/slow"] == 0
    with pytest.raises(ValueError, match="attempt_timeout"):
        await client.get("/slow", target="catalog", pool=pool, attempt_timeout=0)


async def test_a_dead_instance_opens_only_its_own_circuit_and_costs_no_failed_call(
    breaking_client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    # down_seconds=0: only the breaker keeps calls away from the dead instance.
    pool = Pool("catalog", [dead, origin(server)], down_seconds=0)
    for _ in range(8):
        # A POST without a key too: a refused connection sent nothing, so it fails over.
        response = await breaking_client.post("/flaky", target="catalog", pool=pool)
        assert response.status == 200
    assert upstream.calls["/flaky"] == 8
    assert breaking_client.circuits == {
        f"catalog@{dead}": CircuitState.OPEN,
        f"catalog@{origin(server)}": CircuitState.CLOSED,
    }


async def test_when_every_instance_circuit_is_open_calls_fail_fast(
    breaking_client: ServiceClient, clock: FakeClock
) -> None:
    dead = [f"http://127.0.0.1:{closed_port()}", f"http://127.0.0.1:{closed_port()}"]
    pool = Pool("catalog", dead, down_seconds=0)
    for _ in range(3):
        with pytest.raises(ServiceUnavailableError) as caught:
            await breaking_client.get("/x", target="catalog", pool=pool)
        assert caught.value.reason == "connection failed"
    assert set(breaking_client.circuits.values()) == {CircuitState.OPEN}

    clock.now += 2.0
    with pytest.raises(ServiceUnavailableError) as caught:
        await breaking_client.get("/x", target="catalog", pool=pool)
    assert caught.value.reason == "circuit open"
    assert caught.value.target == "catalog"
    assert isinstance(caught.value.__cause__, CircuitOpenError)
    assert caught.value.headers == {"Retry-After": "3"}


# -- header propagation and service tokens -------------------------------------------


async def test_request_id_and_traceparent_are_propagated(
    client: ServiceClient, server: TestServer
) -> None:
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    ctx = context.new_context(request_id="req-42", traceparent=incoming)
    token = context.set_current(ctx)
    try:
        response = await client.get(url(server, "/echo"), target="catalog")
    finally:
        context.reset_current(token)
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
    client: ServiceClient, server: BaseTestServer, clock: FakeClock | None = None
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
    client: ServiceClient, server: TestServer, upstream: Upstream, clock: FakeClock
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

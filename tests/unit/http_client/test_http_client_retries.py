"""The inter-service client's retries, deadlines and connection failures."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from mercato.chassis.client.service_client import (
    ServiceClient,
    ServiceResponseError,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from mercato.chassis.web.errors import GatewayTimeout, ServiceUnavailable
from tests.support.http_client import Upstream, url
from tests.support.servers import closed_port


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


@pytest.mark.parametrize("method", ["post", "patch"])
async def test_a_write_without_key_is_sent_once(
    client: ServiceClient, server: TestServer, upstream: Upstream, method: str
) -> None:
    upstream.failures_left = 1
    send = getattr(client, method)
    with pytest.raises(ServiceUnavailableError):
        await send(url(server, "/flaky"), target="payments", json={"amount": 100})
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

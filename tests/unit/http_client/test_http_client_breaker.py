"""The inter-service client's circuit breaker per target."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from mercato.chassis.client.circuit import CircuitOpenError, CircuitState
from mercato.chassis.client.service_client import (
    ServiceClient,
    ServiceUnavailableError,
)
from tests.support.clock import ManualClock
from tests.support.http_client import Upstream, url
from tests.support.servers import closed_port


async def fail_three_times(client: ServiceClient, server: TestServer) -> None:
    """Three failed calls to catalog: the breaking client's threshold."""
    for _ in range(3):
        with pytest.raises(ServiceUnavailableError):
            await client.get(url(server, "/flaky"), target="catalog")


async def test_circuit_opens_after_threshold_and_fails_fast(
    breaking_client: ServiceClient, server: TestServer, upstream: Upstream
) -> None:
    upstream.failures_left = 100
    await fail_three_times(breaking_client, server)
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
    breaking_client: ServiceClient, server: TestServer, upstream: Upstream, clock: ManualClock
) -> None:
    upstream.failures_left = 3
    await fail_three_times(breaking_client, server)
    assert breaking_client.breaker("catalog").state is CircuitState.OPEN

    clock.now += 5.0
    assert breaking_client.breaker("catalog").state is CircuitState.HALF_OPEN
    response = await breaking_client.get(url(server, "/flaky"), target="catalog")
    assert response.status == 200
    assert breaking_client.breaker("catalog").state is CircuitState.CLOSED
    assert upstream.calls["/flaky"] == 4


async def test_half_open_trial_failure_reopens_the_circuit(
    breaking_client: ServiceClient, server: TestServer, upstream: Upstream, clock: ManualClock
) -> None:
    upstream.failures_left = 100
    await fail_three_times(breaking_client, server)
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

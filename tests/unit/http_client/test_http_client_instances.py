"""The inter-service client over several instances: balancing, failover, a breaker each."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from mercato.chassis.client.balancing import Pool
from mercato.chassis.client.circuit import CircuitOpenError, CircuitState
from mercato.chassis.client.service_client import (
    ServiceClient,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from tests.support.clock import ManualClock
from tests.support.http_client import Upstream, origin
from tests.support.servers import closed_port


async def test_a_pool_balances_calls_round_robin(
    client: ServiceClient,
    upstream: Upstream,
    other: Upstream,
    pool: Pool,
) -> None:
    for _ in range(4):
        response = await client.get("/echo", target="catalog", pool=pool)
        assert response.status == 200 and response.target == "catalog"
    assert upstream.calls["/echo"] == 2
    assert other.calls["/echo"] == 2


async def test_a_retry_goes_to_another_instance_with_the_same_key(
    client: ServiceClient,
    upstream: Upstream,
    other: Upstream,
    pool: Pool,
) -> None:
    upstream.failures_left = 1
    response = await client.post("/flaky", target="payments", pool=pool, idempotency_key="k-9")
    assert response.status == 200
    assert upstream.calls["/flaky"] == 1 and other.calls["/flaky"] == 1
    assert [h["Idempotency-Key"] for h in upstream.seen + other.seen] == ["k-9", "k-9"]


async def test_a_post_that_reached_an_instance_is_not_sent_to_another(
    client: ServiceClient,
    upstream: Upstream,
    other: Upstream,
    pool: Pool,
) -> None:
    upstream.failures_left = 1
    with pytest.raises(ServiceUnavailableError):
        await client.post("/flaky", target="payments", pool=pool, json={"amount": 1})
    assert upstream.calls["/flaky"] == 1
    assert other.calls["/flaky"] == 0


async def test_a_hung_instance_costs_one_attempt_with_a_per_call_attempt_timeout(
    client: ServiceClient,
    upstream: Upstream,
    other: Upstream,
    pool: Pool,
) -> None:
    upstream.slow_calls_left = 100  # the first instance hangs on every call

    response = await client.get("/slow", target="catalog", pool=pool, attempt_timeout=0.2)

    assert response.status == 200
    assert (upstream.calls["/slow"], other.calls["/slow"]) == (1, 1)
    assert pool.is_down(pool.instances[0]) and not pool.is_down(pool.instances[1])


async def test_without_an_attempt_timeout_a_hung_instance_takes_the_whole_deadline(
    client: ServiceClient,
    upstream: Upstream,
    other: Upstream,
    pool: Pool,
) -> None:
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
    breaking_client: ServiceClient, clock: ManualClock
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

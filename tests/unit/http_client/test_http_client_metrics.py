"""The inter-service client's metrics: each call timed by target, each circuit's state shown.

A target's state is read from its breakers when scraped (0 closed, 1 half-open, 2
open); a target with several instances shows the least open of theirs, since a call
still goes through while one instance takes it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from mercato.chassis.client.balancing import Pool
from mercato.chassis.client.service_client import ServiceClient, ServiceUnavailableError
from mercato.chassis.telemetry.client_metrics import ClientMetrics
from tests.support.clock import ManualClock
from tests.support.http_client import Upstream, origin, url
from tests.support.metrics import sample
from tests.support.servers import closed_port

CATALOG = {"service": "orders", "target": "catalog"}


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


@pytest.fixture
async def measured(clock: ManualClock, registry: CollectorRegistry) -> AsyncIterator[ServiceClient]:
    """A client whose circuits open after three failures, in `registry`."""
    async with ServiceClient(
        retries=0,
        failure_threshold=3,
        reset_timeout=5.0,
        breaker_clock=clock,
        metrics=ClientMetrics("orders", registry),
    ) as client:
        yield client


def state(registry: CollectorRegistry, target: str = "catalog") -> float | None:
    return registry.get_sample_value("client_circuit_state", {**CATALOG, "target": target})


async def test_an_opening_circuit_shows_2_then_1_then_0_and_counts_once(
    measured: ServiceClient,
    registry: CollectorRegistry,
    server: TestServer,
    upstream: Upstream,
    clock: ManualClock,
) -> None:
    assert state(registry) is None  # no call yet: no circuit
    await measured.get(url(server, "/echo"), target="catalog")
    assert state(registry) == 0
    upstream.failures_left = 3
    for _ in range(3):
        with pytest.raises(ServiceUnavailableError):
            await measured.get(url(server, "/flaky"), target="catalog")
    assert state(registry) == 2
    with pytest.raises(ServiceUnavailableError):  # refused at once, still timed
        await measured.get(url(server, "/flaky"), target="catalog")
    clock.advance(5.0)
    assert state(registry) == 1
    await measured.get(url(server, "/flaky"), target="catalog")  # the trial succeeds
    assert state(registry) == 0
    assert sample(registry, "client_circuit_opened_total", CATALOG) == 1
    assert sample(registry, "client_request_duration_seconds_count", CATALOG) == 6
    assert sample(registry, "client_request_duration_seconds_sum", CATALOG) > 0
    await measured.get(url(server, "/echo"), target="users")
    users = {**CATALOG, "target": "users"}
    assert sample(registry, "client_request_duration_seconds_count", users) == 1
    assert state(registry, "users") == 0


async def test_a_target_with_instances_is_open_only_when_every_instance_is(
    measured: ServiceClient, registry: CollectorRegistry, server: TestServer
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    pool = Pool("catalog", [dead, origin(server)])
    for _ in range(4):  # each call fails over from the dead instance to the live one
        response = await measured.get("/echo", target="catalog", pool=pool)
        assert response.status == 200
    assert measured.breaker("catalog", dead).failures >= 1
    assert state(registry) == 0

    gone = Pool("payments", [dead, f"http://127.0.0.1:{closed_port()}"])
    for _ in range(4):
        with pytest.raises(ServiceUnavailableError):
            await measured.get("/echo", target="payments", pool=gone)
    assert state(registry, "payments") == 2
    assert sample(registry, "client_circuit_opened_total", {**CATALOG, "target": "payments"}) == 2

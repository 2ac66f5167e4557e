"""Fixtures of the inter-service client tests: real local aiohttp servers, no mocks.

`server` runs an `Upstream` whose handlers count the calls they receive and misbehave
on demand: answer 503 a number of times, hang past the client's timeout, or mint
service tokens. `second` is another instance of the same service (`other` is its
upstream) and `pool` holds both; `breaking_client` trips its circuit after three
failures, on a `ManualClock`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from mercato.chassis.client.balancing import Pool
from mercato.chassis.client.service_client import ServiceClient
from tests.support.clock import ManualClock
from tests.support.http_client import Upstream, origin


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


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def breaking_client(clock: ManualClock) -> AsyncIterator[ServiceClient]:
    async with ServiceClient(
        retries=0, failure_threshold=3, reset_timeout=5.0, breaker_clock=clock
    ) as c:
        yield c


@pytest.fixture
async def second() -> AsyncIterator[tuple[Upstream, TestServer]]:
    """Another instance of the same service."""
    up = Upstream()
    srv = TestServer(up.app(), host="127.0.0.1")
    await srv.start_server()
    yield up, srv
    up.release.set()
    await srv.close()


@pytest.fixture
def other(second: tuple[Upstream, TestServer]) -> Upstream:
    """The second instance's upstream."""
    return second[0]


@pytest.fixture
def pool(server: TestServer, second: tuple[Upstream, TestServer]) -> Pool:
    """Both instances, `server` first."""
    return Pool("upstream", [origin(server), origin(second[1])])

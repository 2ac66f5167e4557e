"""Integration tests of the gateway's Redis state against a real Redis server.

Two limiter (or deny-list) instances stand for two gateway replicas: they must
share one budget (and one deny list). The server is MERCATO_TEST_REDIS_URL
(default redis://127.0.0.1:6379/15); the tests skip when it is unreachable, and
fail instead under MERCATO_REQUIRE_SERVERS=1 (`tests.support.servers.require_url`).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from mercato.chassis.security.tokens import RevocationList
from mercato.gateway.denylist import RedisDenyList
from mercato.gateway.ratelimit import Bucket, RedisRateLimiter
from tests.support.servers import require_url

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server to test against."""
    url = os.environ.get("MERCATO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    return require_url("Redis", url, 6379)


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[tuple[RedisRateLimiter, RedisRateLimiter]]:
    prefix = f"test:{uuid.uuid4().hex}:"
    first = RedisRateLimiter(redis_url, prefix=prefix)
    second = RedisRateLimiter(redis_url, prefix=prefix)
    try:
        yield first, second
    finally:
        keys = [key async for key in first.redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await first.redis.delete(*keys)
        await first.close()
        await second.close()


async def test_two_replicas_share_one_budget(
    replicas: tuple[RedisRateLimiter, RedisRateLimiter],
) -> None:
    first, second = replicas
    bucket = [Bucket("client:203.0.113.7", rate=1, burst=4)]
    waits = []
    for n in range(6):
        limiter = first if n % 2 == 0 else second
        waits.append(await limiter.acquire(bucket))
    assert waits[:4] == [0.0] * 4
    assert all(0.0 < w <= 1.0 for w in waits[4:])
    assert first.fallback.take([Bucket("untouched", 1, 1)]) == 0.0  # Redis answered


async def test_concurrent_requests_never_overdraw(
    replicas: tuple[RedisRateLimiter, RedisRateLimiter],
) -> None:
    first, second = replicas
    bucket = [Bucket("client:burst", rate=0.01, burst=10)]
    waits = await asyncio.gather(*((first if n % 2 else second).acquire(bucket) for n in range(40)))
    assert sum(w == 0.0 for w in waits) == 10


async def test_all_buckets_or_none_and_they_refill(
    replicas: tuple[RedisRateLimiter, RedisRateLimiter],
) -> None:
    first, second = replicas
    client = Bucket("client:a", rate=20, burst=5)
    user = Bucket("user:u", rate=20, burst=1)
    assert await first.acquire([client, user]) == 0.0
    assert await second.acquire([client, user]) > 0.0
    await asyncio.sleep(0.06)  # one user token back at 20/s
    assert await second.acquire([client, user]) == 0.0
    key = first.prefix + client.key
    ttl = await first.redis.pttl(key)
    assert 0 < ttl <= 2000  # forgotten once full again


async def test_deny_list_reaches_every_replica(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    lists = [RevocationList(), RevocationList()]
    replicas = [RedisDenyList(redis_url, r, namespace=namespace, block_ms=100) for r in lists]
    for replica in replicas:
        await replica.start()
    try:
        expires = time.time() + 60
        assert await replicas[0].record("jti-1", expires) is True
        assert await replicas[1].record("jti-1", expires) is False  # one stream entry
        deadline = time.monotonic() + 5
        while not lists[1].is_revoked("jti-1"):
            assert time.monotonic() < deadline, "the revocation did not reach the replica"
            await asyncio.sleep(0.02)
        # A replica started later learns of earlier revocations from the stream.
        late = RevocationList()
        newcomer = RedisDenyList(redis_url, late, namespace=namespace, block_ms=100)
        await newcomer.start()
        await asyncio.wait_for(newcomer.caught_up.wait(), 5)
        assert late.is_revoked("jti-1")
        await newcomer.stop()
        assert await replicas[0].redis.xlen(replicas[0].stream) == 1
    finally:
        await replicas[0].redis.delete(replicas[0].stream, replicas[0].marker_prefix + "jti-1")
        for replica in replicas:
            await replica.stop()

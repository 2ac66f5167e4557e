"""Unit tests of the in-memory token buckets."""

from __future__ import annotations

import pytest

from mercato.gateway.ratelimit import Bucket, MemoryRateLimiter, RedisRateLimiter


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_the_rate() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    bucket = [Bucket("client:a", rate=2, burst=3)]
    assert [limiter.take(bucket) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take(bucket) == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take(bucket) == 0.0
    assert limiter.take(bucket) == pytest.approx(0.5)
    clock.now += 100
    assert [limiter.take(bucket) for _ in range(3)] == [0.0, 0.0, 0.0]  # capped at the burst


def test_all_buckets_or_none() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    client = Bucket("client:a", rate=1, burst=5)
    user = Bucket("user:u", rate=1, burst=1)
    assert limiter.take([client, user]) == 0.0
    assert limiter.take([client, user]) == pytest.approx(1.0)
    # The refused request took nothing from the client's bucket: 4 tokens are left.
    assert [limiter.take([client]) for _ in range(5)] == [0.0] * 4 + [pytest.approx(1.0)]


def test_keys_are_independent() -> None:
    limiter = MemoryRateLimiter(clock=Clock())
    assert limiter.take([Bucket("client:a", 1, 1)]) == 0.0
    assert limiter.take([Bucket("client:a", 1, 1)]) > 0.0
    assert limiter.take([Bucket("client:b", 1, 1)]) == 0.0


def test_full_buckets_are_pruned() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(max_keys=10, clock=clock)
    for n in range(10):
        limiter.take([Bucket(f"client:{n}", rate=10, burst=10)])
    clock.now += 1.0  # every bucket has refilled
    limiter.take([Bucket("client:new", rate=10, burst=10)])
    assert len(limiter) == 1


async def test_acquire_is_the_async_take() -> None:
    limiter = MemoryRateLimiter(clock=Clock())
    assert await limiter.acquire([Bucket("k", 1, 1)]) == 0.0
    assert await limiter.acquire([Bucket("k", 1, 1)]) == pytest.approx(1.0)


async def test_redis_failure_falls_back_to_memory(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", timeout=0.2)
    try:
        bucket = [Bucket("client:a", rate=1, burst=1)]
        assert await limiter.acquire(bucket) == 0.0
        assert await limiter.acquire(bucket) > 0.0
    finally:
        await limiter.close()
    assert "limiting in memory" in caplog.text

"""The gateway's limits per client: token-bucket rates, and costly requests under way.

A `Bucket` names a key (`client:203.0.113.7`, `user:<sub>`), a refill rate in
requests per second and a burst (the bucket's size). `acquire(buckets)` takes one
token from every bucket at once or from none, and answers 0.0 when the request may
go on, otherwise how many seconds until it could (the Retry-After).

`MemoryRateLimiter` keeps buckets in this process: right for one gateway.
`RedisRateLimiter` keeps them in Redis and updates them with one atomic Lua script
per request, using Redis's clock, so that every replica draws from the same budget.
If Redis fails, it falls back to its own in-memory limiter (and logs it) rather than
refusing or waving through every request.

`CostlyCalls` bounds how many costly requests (logins) each client has under way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from mercato.gateway.routing import RoutePatterns

__all__ = ["Bucket", "CostlyCalls", "MemoryRateLimiter", "RateLimiter", "RedisRateLimiter"]

log = logging.getLogger("mercato.gateway.ratelimit")


class Bucket(NamedTuple):
    """A token bucket: `rate` tokens per second up to `burst` tokens, under `key`."""

    key: str
    rate: float
    burst: float


class RateLimiter(Protocol):
    """Takes tokens from buckets."""

    async def acquire(self, buckets: Sequence[Bucket]) -> float:
        """0.0 if a token was taken from every bucket, else seconds to wait."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryRateLimiter:
    """Token buckets in this process's memory, pruned once they are full again."""

    def __init__(self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self._buckets: dict[str, list[float]] = {}
        self._clock = clock
        self.max_keys = max_keys
        self._pruned_at = 0.0

    async def acquire(self, buckets: Sequence[Bucket]) -> float:
        """0.0 if a token was taken from every bucket, else seconds to wait."""
        return self.take(buckets)

    def take(self, buckets: Sequence[Bucket]) -> float:
        """The synchronous `acquire`."""
        now = self._clock()
        wait = 0.0
        levels: list[float] = []
        for key, rate, burst in buckets:
            state = self._buckets.get(key)
            tokens = burst if state is None else min(burst, state[0] + (now - state[1]) * rate)
            if tokens < 1.0:
                wait = max(wait, (1.0 - tokens) / rate)
            levels.append(tokens)
        if wait > 0.0:
            return wait
        for (key, rate, burst), tokens in zip(buckets, levels, strict=True):
            left = tokens - 1.0
            self._buckets[key] = [left, now, now + (burst - left) / rate]
        if len(self._buckets) > self.max_keys and now - self._pruned_at >= 1.0:
            self.prune(now)
        return 0.0

    def prune(self, now: float | None = None) -> None:
        """Forget buckets that have refilled completely (same as never seen)."""
        now = self._clock() if now is None else now
        self._pruned_at = now
        self._buckets = {k: v for k, v in self._buckets.items() if v[2] > now}

    def __len__(self) -> int:
        return len(self._buckets)

    async def close(self) -> None:
        """Nothing to release."""


# KEYS: the buckets; ARGV: rate1, burst1, rate2, burst2, ...
# Returns "0" when a token was taken from every bucket, else the wait in seconds.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local levels = {}
local wait = 0
for i = 1, #KEYS do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 't', 's')
  local tokens = burst
  if state[1] then
    tokens = math.min(burst, tonumber(state[1]) + (now - tonumber(state[2])) * rate)
  end
  if tokens < 1 then
    wait = math.max(wait, (1 - tokens) / rate)
  end
  levels[i] = tokens
end
if wait > 0 then
  return tostring(wait)
end
for i = 1, #KEYS do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local left = levels[i] - 1
  redis.call('HSET', KEYS[i], 't', tostring(left), 's', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil((burst - left) / rate * 1000) + 1000)
end
return '0'
"""


class RedisRateLimiter:
    """Token buckets in Redis, shared by every gateway replica."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "mercato:rl:",
        timeout: float = 0.5,
        fallback: MemoryRateLimiter | None = None,
    ) -> None:
        self.redis: Redis = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.prefix = prefix
        self.fallback = fallback or MemoryRateLimiter()
        self._script: Any = self.redis.register_script(_TAKE)
        self._warned_at = -1e9

    async def acquire(self, buckets: Sequence[Bucket]) -> float:
        """0.0 if a token was taken from every bucket, else seconds to wait."""
        keys = [self.prefix + b.key for b in buckets]
        args: list[float] = []
        for bucket in buckets:
            args += (bucket.rate, bucket.burst)
        try:
            answer = await self._script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            now = time.monotonic()
            if now - self._warned_at > 10.0:
                self._warned_at = now
                log.warning("Redis rate limiting failed (%s); limiting in memory", exc)
            return self.fallback.take(buckets)
        return float(answer)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()


class CostlyCalls:
    """The costly requests (`routes`) each client has under way, at most `per_client`.

    A login hashes a password: ~0.25 s of CPU and 64 MiB in auth. Bounded per client
    address here (auth bounds them in all), a flood of logins from one address waits
    on itself and is refused beyond its share, instead of queueing in front of every
    other client's login. Per gateway process: each replica keeps its own count.
    """

    def __init__(self, routes: RoutePatterns, per_client: int) -> None:
        self.routes = routes
        self.per_client = per_client
        self.under_way: dict[str, int] = {}

    def begin(self, method: str, path: str, client: str) -> bool | None:
        """None for a request that is not costly; else whether it may go (then `end` it)."""
        if not self.per_client or not self.routes.match(method, path):
            return None
        count = self.under_way.get(client, 0)
        if count >= self.per_client:
            return False
        self.under_way[client] = count + 1
        return True

    def end(self, client: str) -> None:
        """A costly request of `client` is over."""
        left = self.under_way.get(client, 1) - 1
        if left > 0:
            self.under_way[client] = left
        else:
            self.under_way.pop(client, None)

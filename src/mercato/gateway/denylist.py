"""The token deny list in Redis, shared by the gateway replicas (when Redis is set).

Every replica learns of a logout from the `auth.token_revoked` event on the bus
(the chassis Runtime feeds its `RevocationList`). With Redis configured, the gateway
also mirrors each revocation into Redis and follows what others wrote there, so a
replica whose broker connection lags or is down, or that has just started, still
refuses a revoked token within about a second:

    mercato:revoked:<jti>    a marker, expiring with the token (written once, NX)
    mercato:revocations      a stream of {jti, exp} entries, capped near 100 000

`record()` writes both atomically and appends to the stream only when the marker is
new, so N replicas mirroring the same event add one entry. `start()` follows the
stream from its beginning into the `RevocationList`. Anything else (auth itself, an
operator) may add entries in the same shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from mercato.chassis.security.tokens import RevocationList

__all__ = ["RedisDenyList"]

log = logging.getLogger("mercato.gateway.denylist")

# KEYS: marker, stream; ARGV: jti, expires_at (epoch seconds, integer), max stream length
_RECORD = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EXAT', ARGV[2]) then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'jti', ARGV[1], 'exp', ARGV[2])
  return 1
end
return 0
"""


class RedisDenyList:
    """Mirror revocations into Redis and follow the shared stream into a RevocationList."""

    def __init__(
        self,
        url: str,
        revocations: RevocationList,
        *,
        namespace: str = "mercato",
        block_ms: int = 1000,
        max_entries: int = 100_000,
    ) -> None:
        self.redis: Redis = Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=5.0)
        self.revocations = revocations
        self.marker_prefix = f"{namespace}:revoked:"
        self.stream = f"{namespace}:revocations"
        self.block_ms = block_ms
        self.max_entries = max_entries
        self._record = self.redis.register_script(_RECORD)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.caught_up = asyncio.Event()

    async def record(self, jti: str, expires_at: float) -> bool:
        """Mirror one revocation; True if it was new to Redis."""
        self.revocations.revoke(jti, expires_at)
        exp = int(expires_at) + 1
        if exp <= time.time():
            return False
        keys = [self.marker_prefix + jti, self.stream]
        written = await self._record(keys=keys, args=[jti, exp, self.max_entries])
        return bool(written)

    async def start(self) -> None:
        """Follow the stream in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._follow(), name="gateway-denylist")

    async def stop(self) -> None:
        """Stop following (after the current blocking read) and close the connections."""
        task, self._task = self._task, None
        if task is not None:
            # Cancelling a blocked XREAD can leave redis-py's connection hanging, so
            # the loop is asked to end and only cancelled if it does not in time.
            self._stopping = True
            await asyncio.wait({task}, timeout=self.block_ms / 1000 + 1.0)
            if not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
        await self.redis.aclose()

    async def _follow(self) -> None:
        last = "0"
        delay = 0.5
        while not self._stopping:
            try:
                batches: Any = await self.redis.xread(
                    {self.stream: last}, count=1000, block=self.block_ms
                )
            except (RedisError, OSError) as exc:
                if self._stopping:
                    break
                log.warning("following revocations in Redis failed (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.5
            for _, entries in batches or []:
                for entry_id, fields in entries:
                    last = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                    jti = fields.get(b"jti")
                    exp = fields.get(b"exp")
                    if jti and exp:
                        with contextlib.suppress(ValueError):
                            self.revocations.revoke(jti.decode(), float(exp))
            if all(len(entries) < 1000 for _, entries in batches or []):
                self.caught_up.set()

"""Service tokens: client-credentials access tokens from auth, cached per audience.

A service calling another presents a token whose audience is the target service.
`ServiceTokenProvider` obtains it from auth with

    POST {auth_url}/api/auth/token
    {"grant_type": "client_credentials", "client_id", "client_secret", "audience"}
    -> 200 {"access_token", "token_type", "expires_in"}

and keeps it until `refresh_margin` seconds before it expires, so a token is fetched
about once per lifetime, not per call. One lock per audience lets a single fetch run
at a time: a burst of calls waiting for the same audience makes one request to auth.

The token request goes through the process's `ServiceClient` (target `auth`, without
a token of its own), so it has the same deadline, retries and circuit breaker as any
other call. It is a POST, but it is marked `idempotent=True` rather than given an
Idempotency-Key: repeating it only mints another token that nobody uses, and auth's
token endpoint does not need to store keys to make that safe.

An instance is the `token_provider` of a ServiceClient: `await provider(audience)`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from mercato.chassis.client.service_client import ServiceClient, ServiceUnavailableError

__all__ = ["TOKEN_PATH", "ServiceTokenProvider"]

log = logging.getLogger("mercato.service_tokens")
TOKEN_PATH = "/api/auth/token"
AUTH_TARGET = "auth"


@dataclass(frozen=True, slots=True)
class _Cached:
    token: str
    refresh_at: float


class ServiceTokenProvider:
    """Client-credentials tokens for this service, one per target audience."""

    def __init__(
        self,
        client: ServiceClient,
        *,
        auth_url: str,
        client_id: str,
        client_secret: str,
        refresh_margin: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.token_url = auth_url.rstrip("/") + TOKEN_PATH
        self.client_id = client_id
        self._client_secret = client_secret
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def __call__(self, audience: str) -> str:
        """A valid token for `audience`, from the cache or fetched from auth."""
        cached = self._fresh(audience)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(audience, asyncio.Lock())
        async with lock:
            cached = self._fresh(audience)  # fetched while this call waited
            if cached is not None:
                return cached
            return await self._fetch(audience)

    def invalidate(self, audience: str) -> None:
        """Forget the cached token of `audience` (e.g. after the target answered 401)."""
        self._cache.pop(audience, None)

    def _fresh(self, audience: str) -> str | None:
        """The cached token of `audience` if it is not due for refresh."""
        cached = self._cache.get(audience)
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.token
        return None

    async def _fetch(self, audience: str) -> str:
        """Ask auth for a token and cache it until `expires_in - refresh_margin`."""
        response = await self.client.post(
            self.token_url,
            target=AUTH_TARGET,
            auth=False,
            idempotent=True,
            json={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "audience": audience,
            },
        )
        if response.status != 200:
            log.error(
                "auth refused a service token for %s (audience %s): %d %s",
                self.client_id,
                audience,
                response.status,
                response.text()[:200],
            )
            raise ServiceUnavailableError(
                AUTH_TARGET, f"service token refused with {response.status}"
            )
        try:
            document = response.json()
            token = str(document["access_token"])
            expires_in = float(document["expires_in"])
            if not token:
                raise ValueError("empty access_token")
        except (ValueError, KeyError, TypeError):
            raise ServiceUnavailableError(AUTH_TARGET, "malformed token response") from None
        # A lifetime shorter than the margin would never be cached: keep half of it.
        lifetime = expires_in - self.refresh_margin
        if lifetime <= 0:
            lifetime = expires_in / 2
        self._cache[audience] = _Cached(token, self._clock() + lifetime)
        return token

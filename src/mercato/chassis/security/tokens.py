"""Local JWT verification from auth's JWKS, the revocation list, and route guards.

Every service (and the gateway) verifies access tokens itself: no call to auth per
request. Public keys are fetched from auth's JWKS with the process's aiohttp session,
parsed once and kept per `kid`; an unknown `kid` triggers one refetch (keys rotate),
rate limited so a flood of forged kids cannot hammer auth. When that refetch fails
(auth slow or away), an unknown `kid` is a 503 to retry, not a 401: the token may
well be good, signed with a key this process has not seen yet. Only RS256 is accepted,
which rules out `alg: none` and HS256 signed with the public key. Issuer, audience,
expiry, subject and token id are required. A verified token is cached until its
expiry; revocation is checked on every use, including cached ones.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

import jwt
import orjson
from fastapi import Depends, Request

from mercato.chassis.web.errors import Forbidden, ServiceUnavailable, Unauthorized

__all__ = [
    "Admin",
    "AdminOrService",
    "CurrentUser",
    "JwksKeySource",
    "KeySource",
    "Principal",
    "RevocationList",
    "StaticKeySource",
    "TokenVerifier",
    "UserCaller",
    "authenticated",
    "bearer_token",
    "require_admin",
    "require_admin_or_service",
    "require_user",
]

log = logging.getLogger("mercato.security")
ALGORITHM = "RS256"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (customer/admin) or another service."""

    subject: str
    roles: frozenset[str]
    token_id: str
    expires_at: float
    kind: str = "user"
    claims: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_admin(self) -> bool:
        """Whether the caller holds the admin role."""
        return "admin" in self.roles

    @property
    def is_service(self) -> bool:
        """Whether the caller is another service (client-credentials token)."""
        return self.kind == "service"


class KeySource(Protocol):
    """Where verification keys come from, by key id."""

    async def key(self, kid: str) -> Any:
        """The public key for `kid`, or None if there is none."""
        ...


class StaticKeySource:
    """Keys held in memory by `kid` (auth's own keys, or a test's)."""

    def __init__(self, keys: dict[str, Any] | None = None) -> None:
        self.keys: dict[str, Any] = dict(keys or {})

    async def key(self, kid: str) -> Any:
        """The key for `kid`, or None."""
        return self.keys.get(kid)


Fetch = Callable[[str], Awaitable[bytes]]


class JwksKeySource:
    """Keys from a JWKS URL, parsed once per `kid` and refreshed on an unknown `kid`."""

    def __init__(self, url: str, fetch: Fetch, *, min_refresh_interval: float = 1.0) -> None:
        self.url = url
        self._fetch = fetch
        self._keys: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._fetched_at = 0.0
        self._failed = False  # whether the last fetch failed
        self.min_refresh_interval = min_refresh_interval

    async def key(self, kid: str) -> Any:
        """The key for `kid`, fetching the JWKS when it is not known yet.

        None when auth's keys do not hold it; ServiceUnavailable when they could not
        be fetched (the last fetch failed), so the caller tries again.
        """
        found = self._keys.get(kid)
        if found is not None:
            return found
        async with self._lock:
            if kid not in self._keys and (
                time.monotonic() - self._fetched_at >= self.min_refresh_interval
            ):
                await self.refresh()
        found = self._keys.get(kid)
        if found is None and self._failed:
            raise ServiceUnavailable(
                "The keys that verify tokens could not be fetched from auth; try again.",
                headers={"Retry-After": "1"},
            )
        return found

    async def refresh(self) -> None:
        """Fetch and parse the JWKS; keep the old keys if the fetch fails."""
        self._fetched_at = time.monotonic()
        try:
            document = orjson.loads(await self._fetch(self.url))
            keys = {}
            for jwk in document.get("keys", []):
                if jwk.get("kid") and jwk.get("kty") == "RSA":
                    keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
        except Exception as exc:
            log.warning("JWKS fetch from %s failed: %s", self.url, exc)
            self._failed = True
            return
        self._keys, self._failed = keys, False


class RevocationList:
    """Token ids revoked before their expiry, forgotten once they expire anyway."""

    def __init__(self) -> None:
        self._revoked: dict[str, float] = {}

    def revoke(self, jti: str, expires_at: float) -> None:
        """Refuse `jti` from now until `expires_at` (epoch seconds)."""
        self._revoked[jti] = expires_at
        if len(self._revoked) > 10_000:
            self.prune()

    def is_revoked(self, jti: str) -> bool:
        """Whether `jti` has been revoked."""
        return jti in self._revoked

    def prune(self) -> None:
        """Forget entries whose tokens have expired."""
        now = time.time()
        self._revoked = {k: v for k, v in self._revoked.items() if v > now}


class TokenVerifier:
    """Verify RS256 access tokens against a KeySource and a RevocationList."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audiences: Collection[str],
        revocations: RevocationList | None = None,
        cache_size: int = 10_000,
        leeway: float = 5.0,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audiences = list(audiences)
        self.revocations = revocations or RevocationList()
        self.leeway = leeway
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Principal:
        """The principal of a valid, unrevoked token; Unauthorized otherwise."""
        principal = self._cache.get(token)
        if principal is None:
            principal = await self._decode(token)
            self._cache[token] = principal
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        elif principal.expires_at + self.leeway < time.time():
            self._cache.pop(token, None)
            raise Unauthorized("The token has expired.")
        if self.revocations.is_revoked(principal.token_id):
            raise Unauthorized("The token has been revoked.")
        return principal

    async def _decode(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthorized("The token is malformed.") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthorized(f"The token must be signed with {ALGORITHM}.")
        kid = header.get("kid")
        key = await self.keys.key(kid) if isinstance(kid, str) else None
        if key is None:
            raise Unauthorized("The token's signing key is unknown.")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audiences,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The token has expired.") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("The token is not meant for this service.") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"The token is invalid: {exc}.") from None
        roles = claims.get("roles", [])
        return Principal(
            subject=str(claims["sub"]),
            roles=frozenset(roles if isinstance(roles, list) else []),
            token_id=str(claims["jti"]),
            expires_at=float(claims["exp"]),
            kind="service" if claims.get("typ") == "service" else "user",
            claims=claims,
        )


# RFC 9110 §11.4 `credentials = auth-scheme [ 1*SP token68 ]` with RFC 6750's b64token.
_BEARER = re.compile(r"(?i:bearer) +([A-Za-z0-9\-._~+/]+=*)")


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; Unauthorized otherwise.

    The one parser of the header, for the gateway and every service. The scheme is
    case-insensitive (`bearer`, `BEARER`) and may be followed by several spaces (RFC
    9110 allows `1*SP`); the token must be a token68 (RFC 6750's b64token), so a
    tab, a second token, a comma-separated list or a control character is refused.
    """
    if not authorization or not authorization.strip():
        raise Unauthorized("Authentication required: send Authorization: Bearer <token>.")
    match = _BEARER.fullmatch(authorization.strip(" "))
    if match is None:
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
    return match.group(1)


async def authenticated(request: Request) -> Principal:
    """FastAPI dependency: the verified caller of this request."""
    verifier: TokenVerifier = request.app.state.runtime.verifier
    return await verifier.verify(bearer_token(request.headers.get("authorization")))


async def require_admin(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    """FastAPI dependency: the caller, who must be an admin."""
    if not principal.is_admin:
        raise Forbidden("This needs the admin role.")
    return principal


async def require_admin_or_service(
    principal: Annotated[Principal, Depends(authenticated)],
) -> Principal:
    """FastAPI dependency: the caller, who must be an admin or another service."""
    if not (principal.is_admin or principal.is_service):
        raise Forbidden("This needs the admin role or a service token.")
    return principal


async def require_user(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    """FastAPI dependency: the caller, who must be a user (a service has no account)."""
    if principal.is_service:
        raise Forbidden("A service token has no account: this needs a user's token.")
    return principal


CurrentUser = Annotated[Principal, Depends(authenticated)]
Admin = Annotated[Principal, Depends(require_admin)]
AdminOrService = Annotated[Principal, Depends(require_admin_or_service)]
UserCaller = Annotated[Principal, Depends(require_user)]

"""The one way the storefront calls the system: a service's public API, as any client would.

`Backend` holds the process's service client (`chassis.client`: pooled aiohttp,
deadlines, retries of idempotent calls, a circuit breaker per instance) and a pool of
instances per service. A `Caller` is one shopper's side of it: their access token (or
none, for a visitor) and their address. Every call of `mercato.web.api` goes through
`Caller.call`, which answers the parsed JSON body or raises:

    ApiError       the service answered 4xx: its problem's status, title, detail and
                   field errors (`FieldError`), for the page to show beside the fields
    BackendDown    the service is unreachable, too slow, behind an open circuit, or
                   answered 5xx: the page says which part of the shop is unavailable

The shopper's address goes with every call to auth in `X-Forwarded-For`, with this
service's token for auth in `X-Mercato-Proxy-Token` as the proof that it forwards
(`chassis.security.client_addresses`): auth then throttles failed logins by the
shopper's address, not by the storefront's. The web service never sends its own
service token as `Authorization`: a visitor's call carries no token at all.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from mercato.chassis.client.balancing import Pool
from mercato.chassis.client.service_client import (
    ServiceClient,
    ServiceResponse,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from mercato.chassis.security.client_addresses import PROXY_TOKEN_HEADER
from mercato.chassis.web.errors import ProblemError

__all__ = [
    "SERVICE_NAMES",
    "ApiError",
    "Backend",
    "BackendDown",
    "Caller",
    "FieldError",
]

log = logging.getLogger("mercato.web.api")

# What a page calls each service when it says which part of the shop is unavailable.
SERVICE_NAMES: Mapping[str, str] = {
    "auth": "Sign-in",
    "users": "Your profile",
    "catalog": "The catalogue",
    "orders": "Cart and orders",
    "payments": "Payments",
    "logs": "The activity log",
    "shipping": "Deliveries and returns",
    "notifications": "Mail",
}
# Services that need the shopper's address (auth throttles failed logins by it).
ADDRESSED = frozenset({"auth"})
Params = Mapping[str, str | int] | None


@dataclass(frozen=True, slots=True)
class FieldError:
    """One bad field of a request, as the service named it (`field` is a dotted path)."""

    field: str
    message: str


class ApiError(Exception):
    """A service refused the call (4xx): its problem document, read."""

    def __init__(
        self,
        service: str,
        status: int,
        title: str,
        detail: str,
        errors: tuple[FieldError, ...] = (),
        *,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(f"{service} answered {status}: {detail}")
        self.service = service
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.retry_after = retry_after

    def field_message(self, name: str) -> str | None:
        """The message of the first error about field `name` (or a field within it)."""
        for error in self.errors:
            if error.field == name or error.field.startswith(f"{name}."):
                return error.message
        return None


class BackendDown(Exception):
    """A service is down, too slow, behind an open circuit, or answered 5xx."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service} is unavailable: {reason}")
        self.service = service
        self.reason = reason

    @property
    def part(self) -> str:
        """The part of the shop that is unavailable, in words a shopper reads."""
        return SERVICE_NAMES.get(self.service, "Part of the shop")


def _api_error(service: str, response: ServiceResponse) -> ApiError:
    """The `ApiError` of a 4xx answer, from its problem document if it has one."""
    title, detail = f"Error {response.status}", ""
    errors: tuple[FieldError, ...] = ()
    try:
        document = orjson.loads(response.body) if response.body else {}
    except orjson.JSONDecodeError:
        document = {}
    if isinstance(document, dict):
        title = str(document.get("title") or title)
        detail = str(document.get("detail") or "")
        raw = document.get("errors")
        if isinstance(raw, list):
            errors = tuple(
                FieldError(str(e.get("field", "")), str(e.get("message", "")))
                for e in raw
                if isinstance(e, dict)
            )
    return ApiError(
        service,
        response.status,
        title,
        detail or title,
        errors,
        retry_after=response.headers.get("Retry-After"),
    )


class Backend:
    """The services' instances and the client that calls them, one per process."""

    def __init__(
        self,
        http: ServiceClient,
        instances: Mapping[str, tuple[str, ...]],
        *,
        timeout: float,
        proof: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        self.http = http
        self.pools = {name: Pool(name, urls) for name, urls in instances.items()}
        self.timeout = timeout
        self.proof = proof

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        token: str | None,
        address: str | None,
        json: Any = None,
        params: Params = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Call `path` on `service`; the parsed JSON body (None for an empty one).

        `timeout` overrides the deadline of this call (a checkout waits for its saga).
        """
        headers: dict[str, str] = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if address and service in ADDRESSED:
            await self._forwarding(service, address, headers)
        try:
            response = await self.http.request(
                method,
                path,
                target=service,
                pool=self.pools[service],
                json=json,
                params=params,
                headers=headers,
                idempotency_key=idempotency_key,
                auth=False,
                timeout=timeout or self.timeout,
            )
        except (ServiceUnavailableError, ServiceTimeoutError) as exc:
            raise BackendDown(service, exc.detail) from exc
        if response.status >= 500:
            raise BackendDown(service, f"it answered {response.status}")
        if response.status >= 400:
            raise _api_error(service, response)
        return orjson.loads(response.body) if response.body else None

    async def _forwarding(self, service: str, address: str, headers: dict[str, str]) -> None:
        """Name the shopper's address, with this service's proof that it forwards."""
        if self.proof is None:
            return
        try:
            proof = await self.proof(service)
        except ProblemError as exc:  # auth then counts the storefront as the client
            log.warning("no service token for %s to prove X-Forwarded-For: %s", service, exc)
            return
        headers["X-Forwarded-For"] = address
        headers[PROXY_TOKEN_HEADER] = proof


@dataclass(frozen=True, slots=True)
class Caller:
    """One shopper as the services see them: a token (None: a visitor) and an address."""

    backend: Backend
    token: str | None = None
    address: str | None = field(default=None)

    @property
    def signed_in(self) -> bool:
        """Whether the calls carry a shopper's access token."""
        return self.token is not None

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Params = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """`Backend.call` with this shopper's token and address."""
        return await self.backend.call(
            service,
            method,
            path,
            token=self.token,
            address=self.address,
            json=json,
            params=params,
            idempotency_key=idempotency_key,
            timeout=timeout,
        )

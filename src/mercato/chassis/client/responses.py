"""What a call to another service returns or raises (see `mercato.chassis.client.service_client`).

`ServiceResponse` is a complete answer; the errors are problem errors, so a route
that lets one propagate answers 502, 503 or 504 with a clear problem+json.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from mercato.chassis.web.errors import BadGateway, GatewayTimeout, ServiceUnavailable

__all__ = [
    "ServiceResponse",
    "ServiceResponseError",
    "ServiceTimeoutError",
    "ServiceUnavailableError",
]


class ServiceUnavailableError(ServiceUnavailable):
    """`target` could not be reached, its circuit is open, or it answered 502/503/504."""

    def __init__(
        self,
        target: str,
        reason: str,
        *,
        response: ServiceResponse | None = None,
        retry_after: float | None = None,
    ) -> None:
        headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after else None
        super().__init__(f"The {target} service is unavailable ({reason}).", headers=headers)
        self.target = target
        self.reason = reason
        self.response = response


class ServiceTimeoutError(GatewayTimeout):
    """`target` did not answer before the deadline."""

    def __init__(self, target: str, timeout: float | None = None) -> None:
        within = f" within {timeout:g}s" if timeout is not None else ""
        super().__init__(f"The {target} service did not answer{within}.")
        self.target = target
        self.timeout = timeout


class ServiceResponseError(BadGateway):
    """A service answered with an error status the caller did not expect."""

    def __init__(self, response: ServiceResponse) -> None:
        name = response.target or "upstream"
        super().__init__(f"The {name} service answered {response.status}.")
        self.response = response


@dataclass(frozen=True, slots=True)
class ServiceResponse:
    """A complete answer from another service: status, headers and the read body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    target: str = field(default="", compare=False)

    @property
    def ok(self) -> bool:
        """Whether the status is below 400."""
        return self.status < 400

    def json(self) -> Any:
        """The body parsed as JSON."""
        return orjson.loads(self.body)

    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def raise_for_status(self) -> None:
        """Raise `ServiceResponseError` (502) when the status is 400 or above."""
        if self.status >= 400:
            raise ServiceResponseError(self)

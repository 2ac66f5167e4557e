"""The gateway's settings: upstream pools, timeouts, rate limits and edge policy.

Every field is read from `MERCATO_GATEWAY_<FIELD>` first and then `MERCATO_<FIELD>`.
List-like values are written the way a shell user would:

    MERCATO_GATEWAY_UPSTREAMS="auth=http://127.0.0.1:8110,catalog=http://127.0.0.1:8130|http://127.0.0.1:8131"
    MERCATO_GATEWAY_ROUTE_TIMEOUTS="/api/catalog/products/import=60"
    MERCATO_GATEWAY_UPLOAD_ROUTES="POST /api/catalog/products/*/images"
    MERCATO_GATEWAY_TRUSTED_PROXIES="10.0.0.0/8"   # a chassis setting (client_addresses)
    MERCATO_GATEWAY_CORS_ORIGINS="https://shop.example.com,http://localhost:3000"

A bad value stops the gateway at start with a one-line `SettingsError` naming the
variable. When `upstreams` is empty every service is expected on the conventional
port of this gateway's `port` (auth on P+110, users on P+120, ...), over HTTPS when
`tls_ca_file` is set.

TLS: with `MERCATO_GATEWAY_TLS_CERTFILE` and `_TLS_KEYFILE` the gateway serves HTTPS,
and `hsts` is on unless `MERCATO_GATEWAY_HSTS=false`; unlike a service it never asks
its clients for a certificate. With `MERCATO_GATEWAY_TLS_CA_FILE` it calls the
services over mutual TLS, presenting `_TLS_CLIENT_CERTFILE` (else its served one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator

from mercato.chassis.client.balancing import base_url
from mercato.chassis.config import ServiceSettings
from mercato.chassis.config import load_settings as load_service_settings
from mercato.gateway.routing import (
    DEFAULT_COSTLY_ROUTES,
    DEFAULT_INTERNAL_ROUTES,
    DEFAULT_KEYED_ROUTES,
    DEFAULT_UPLOAD_ROUTES,
)

__all__ = [
    "SERVICE_PORT_OFFSETS",
    "GatewaySettings",
    "load_settings",
    "parse_route_timeouts",
    "parse_upstreams",
]

SERVICE_PORT_OFFSETS: Mapping[str, int] = {
    "auth": 110,
    "users": 120,
    "catalog": 130,
    "orders": 140,
    "payments": 150,
    "logs": 160,
    "web": 170,
    "shipping": 180,
    "notifications": 190,
}
_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def _normalise_url(service: str, raw: str) -> str:
    url = base_url(raw, service)
    if urlsplit(url).path:
        raise ValueError(f"{service}: {url!r} must be a bare origin (scheme://host:port)")
    return url


def parse_upstreams(value: str | Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Parse `svc=url|url,svc2=url` (or a mapping) into service -> instance origins."""
    if isinstance(value, Mapping):
        items = [(str(k), v if isinstance(v, str) else "|".join(v)) for k, v in value.items()]
    else:
        items = []
        for entry in filter(None, (e.strip() for e in value.split(","))):
            name, sep, urls = entry.partition("=")
            if not sep:
                raise ValueError(f"{entry!r} must be written service=url[|url...]")
            items.append((name, urls))
    pools: dict[str, tuple[str, ...]] = {}
    for name, urls in items:
        service = name.strip()
        if not _SERVICE_NAME.match(service):
            raise ValueError(f"{service!r} is not a service name (lowercase letters, digits, -)")
        if service in pools:
            raise ValueError(f"{service} is listed twice")
        instances = tuple(_normalise_url(service, u) for u in urls.split("|") if u.strip())
        if not instances:
            raise ValueError(f"{service} has no instance URL")
        if len(set(instances)) != len(instances):
            raise ValueError(f"{service} lists an instance twice")
        pools[service] = instances
    return pools


def parse_route_timeouts(value: str | Mapping[str, Any]) -> dict[str, float]:
    """Parse `/path/prefix=seconds,...` (or a mapping) into prefix -> timeout."""
    if isinstance(value, Mapping):
        items = [(str(k), str(v)) for k, v in value.items()]
    else:
        items = []
        for entry in filter(None, (e.strip() for e in value.split(","))):
            prefix, sep, seconds = entry.rpartition("=")
            if not sep:
                raise ValueError(f"{entry!r} must be written /path/prefix=seconds")
            items.append((prefix, seconds))
    timeouts: dict[str, float] = {}
    for raw, seconds in items:
        prefix = raw.strip()
        if not prefix.startswith("/"):
            raise ValueError(f"{prefix!r} must be a path starting with /")
        try:
            timeout = float(seconds)
        except ValueError:
            raise ValueError(f"{prefix}: {seconds!r} is not a number of seconds") from None
        if not timeout > 0:
            raise ValueError(f"{prefix}: the timeout must be positive")
        timeouts[prefix] = timeout
    return timeouts


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(filter(None, (v.strip() for v in value.split(","))))
    return value


class GatewaySettings(ServiceSettings):
    """Settings of the gateway; see the module docstring for the value formats."""

    # The public door: its clients (browsers, apps) have no certificates to present.
    # With `tls_ca_file` it still calls the services over mutual TLS.
    VERIFIES_CLIENTS: ClassVar[bool] = False

    upstreams: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="service=url|url,...; empty: the conventional ports of `port`.",
    )
    request_timeout: float = Field(default=10.0, gt=0, description="Default deadline (s).")
    route_timeouts: dict[str, float] = Field(
        default_factory=dict, description="/path/prefix=seconds,...; the longest prefix wins."
    )
    connect_timeout: float = Field(default=1.0, gt=0)
    attempt_timeout: float = Field(
        default=0.0, ge=0, description="Bound of one attempt so a retry fits (0: none)."
    )
    down_seconds: float = Field(default=2.0, ge=0, description="Passive health: time out.")
    pool_limit: int = Field(
        default=1000, ge=0, description="Upstream connections per instance (0: any)."
    )
    client_rate: float = Field(default=50.0, ge=0, description="Requests/s per client (0: off).")
    client_burst: float = Field(default=100.0, ge=1)
    user_rate: float = Field(default=20.0, ge=0, description="Writes/s per user (0: off).")
    user_burst: float = Field(default=40.0, ge=1)
    cors_origins: tuple[str, ...] = Field(default=(), description="Allowed CORS origins.")
    trust_traceparent: bool = Field(
        default=False,
        description=(
            "Continue a client's W3C `traceparent` (only behind a proxy that sets it itself);"
            " by default the gateway begins a trace of its own for every request."
        ),
    )
    operator_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="A second port serving metrics, detailed health and docs (0: none).",
    )
    operator_admins: bool = Field(
        default=True, description="An admin's token opens the operators' paths on the port."
    )
    public_docs: bool | None = Field(
        default=None,
        description="Serve the API documents to anyone (default: in development only).",
    )
    keyed_routes: tuple[str, ...] = Field(
        default=DEFAULT_KEYED_ROUTES,
        description="METHOD /path,... whose Idempotency-Key lets the gateway retry a write.",
    )
    costly_routes: tuple[str, ...] = Field(
        default=DEFAULT_COSTLY_ROUTES,
        description="METHOD /path,... that hash a password: bounded per client at once.",
    )
    costly_per_client: int = Field(
        default=2, ge=0, description="Costly requests one client may have under way (0: any)."
    )
    internal_routes: tuple[str, ...] = Field(
        default=DEFAULT_INTERNAL_ROUTES,
        description="METHOD /path,... that only services call: 404 at the gateway.",
    )
    upload_routes: tuple[str, ...] = Field(
        default=DEFAULT_UPLOAD_ROUTES,
        description=(
            "METHOD /path,... whose bodies are files (multipart/form-data): bounded by "
            "max_upload_bytes instead of max_body_bytes."
        ),
    )
    # The public door is stricter than the services behind it, which must take the
    # head the gateway forwards (the client's and the gateway's own headers).
    http_max_head_bytes: int = Field(default=32768, ge=1024, description="431 beyond.")
    http_max_connections_per_client: int = Field(
        default=256, ge=0, description="Open connections from one address (0: no bound)."
    )
    hsts: bool = Field(
        default=None,  # resolved by _hsts below
        validate_default=True,
        description="Strict-Transport-Security on every answer (default: on when serving TLS).",
    )
    health_timeout: float = Field(default=2.0, gt=0)
    health_cache_seconds: float = Field(default=1.0, ge=0)

    @field_validator("upstreams", mode="before")
    @classmethod
    def _upstreams(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str | Mapping):
            value = parse_upstreams(value)
        if info.data.get("tls_ca_file") is not None:  # mutual TLS: no plain hop
            for service, urls in value.items():
                if any(url.startswith("http://") for url in urls):
                    raise ValueError(f"{service}: mutual TLS (TLS_CA_FILE) needs https:// URLs")
        return value

    @field_validator("hsts", mode="before")
    @classmethod
    def _hsts(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:  # not set: on exactly when this gateway serves HTTPS
            return info.data.get("tls_certfile") is not None
        return value

    @field_validator("route_timeouts", mode="before")
    @classmethod
    def _route_timeouts(cls, value: Any) -> Any:
        if isinstance(value, str | Mapping):
            return parse_route_timeouts(value)
        return value

    @field_validator(
        "keyed_routes", "costly_routes", "internal_routes", "upload_routes", mode="before"
    )
    @classmethod
    def _keyed_routes(cls, value: Any) -> Any:
        value = _split(value)
        for entry in value:
            method, _, path = str(entry).strip().partition(" ")
            if not re.fullmatch(r"[A-Z]+|\*", method) or not path.startswith("/"):
                raise ValueError(f"{entry!r} must be written 'METHOD /path' (* for a segment)")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _cors_origins(cls, value: Any) -> Any:
        value = _split(value)
        for origin in value:
            if origin != "*" and not re.match(r"^https?://[^/\s]+$", str(origin)):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port]) or *")
        return value

    @property
    def docs_are_public(self) -> bool:
        """Whether anyone may read the API documents: `public_docs`, else development."""
        return self.env == "development" if self.public_docs is None else self.public_docs

    def listen_ports(self) -> tuple[int, ...]:
        """The public port, and the operator port when there is one."""
        return (self.port, self.operator_port) if self.operator_port else (self.port,)

    def pools(self) -> dict[str, tuple[str, ...]]:
        """Service -> instance origins: `upstreams`, or the conventional local ports."""
        if self.upstreams:
            return dict(self.upstreams)
        base = self.port or 8000
        scheme = "https" if self.tls_ca_file else "http"
        return {
            name: (f"{scheme}://127.0.0.1:{base + offset}",)
            for name, offset in SERVICE_PORT_OFFSETS.items()
        }


def load_settings(**overrides: object) -> GatewaySettings:
    """The gateway's settings from the environment; `overrides` win (tests use them)."""
    return load_service_settings(GatewaySettings, "gateway", None, **overrides)

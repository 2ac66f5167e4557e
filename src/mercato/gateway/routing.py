"""The routing table: which pool of instances serves a path, and with what deadline.

Everything is computed once at start: a dict from service name to its `Route`, each
with its pool and its timeout overrides sorted longest prefix first, so a request
costs one string split and one dict lookup.

`/api/<service>/...` goes to that service; `/.well-known/jwks.json` to auth. The
storefront (`PAGES_SERVICE`, when it is among the pools) serves every other path but
the gateway's own (`GATEWAY_PATHS`: its health, metrics and the events' document):
`/`, `/login`, `/static/...`, and so an unknown path is the storefront's 404 page.

Each route's `Pool` (from `mercato.chassis.client.balancing`, shared with the services'
own client) balances round robin over the service's instances with passive health
checks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mercato.chassis.client.balancing import Clock, Pool

__all__ = [
    "API_PREFIX",
    "DEFAULT_COSTLY_ROUTES",
    "DEFAULT_INTERNAL_ROUTES",
    "DEFAULT_KEYED_ROUTES",
    "DEFAULT_UPLOAD_ROUTES",
    "GATEWAY_PATHS",
    "JWKS_PATH",
    "PAGES_SERVICE",
    "Route",
    "RoutePatterns",
    "RouteTable",
]

API_PREFIX = "/api/"
JWKS_PATH = "/.well-known/jwks.json"
PAGES_SERVICE = "web"
# The paths the gateway answers itself (its router's, and the operators' `/metrics`).
GATEWAY_PATHS = frozenset(
    {"/health", "/health/live", "/health/ready", "/metrics", "/asyncapi.json"}
)
# The writes whose service answers a repeated Idempotency-Key with the first outcome.
DEFAULT_KEYED_ROUTES = (
    "POST /api/orders",
    "POST /api/payments/charges",
    "POST /api/payments/*/refunds",
)
# The routes that hash a password: each costs ~0.25 s of CPU and 64 MiB in auth (the
# storefront's login and register forms call those two).
DEFAULT_COSTLY_ROUTES = (
    "POST /api/auth/login",
    "POST /api/auth/register",
    "POST /login",
    "POST /register",
)
# What services call among themselves, never a client: client credentials for service
# tokens (a secret to guess, and nothing an outsider needs).
DEFAULT_INTERNAL_ROUTES = ("* /api/auth/token",)
# The routes that take a file (multipart/form-data) rather than JSON: the catalog's
# product images, bounded by `max_upload_bytes` (`chassis.web.uploads`).
DEFAULT_UPLOAD_ROUTES = ("POST /api/catalog/products/*/images",)


@dataclass(frozen=True, slots=True)
class Route:
    """Where one service's paths go, and their deadlines."""

    service: str
    pool: Pool
    path: str
    default_timeout: float
    timeouts: tuple[tuple[str, float], ...] = ()

    def timeout_for(self, path: str) -> float:
        """The deadline of a request to `path`: the longest matching override, or the default."""
        for prefix, timeout in self.timeouts:
            if path.startswith(prefix):
                return timeout
        return self.default_timeout


class RouteTable:
    """Service routes built once from the settings."""

    def __init__(
        self,
        pools: Mapping[str, Sequence[str]],
        *,
        default_timeout: float,
        route_timeouts: Mapping[str, float] | None = None,
        down_seconds: float = 2.0,
        clock: Clock = time.monotonic,
    ) -> None:
        overrides = sorted((route_timeouts or {}).items(), key=lambda kv: -len(kv[0]))
        self.routes: dict[str, Route] = {}
        self.pages: Route | None = None
        for service, urls in pools.items():
            if service == PAGES_SERVICE:
                self.pages = Route(
                    service,
                    Pool(service, urls, down_seconds=down_seconds, clock=clock),
                    "/*",
                    default_timeout,
                    tuple((p, t) for p, t in overrides if not p.startswith(API_PREFIX)),
                )
                continue
            base = f"{API_PREFIX}{service}"
            self.routes[service] = Route(
                service=service,
                pool=Pool(service, urls, down_seconds=down_seconds, clock=clock),
                path=f"{base}/*",
                default_timeout=default_timeout,
                timeouts=tuple(
                    (p, t) for p, t in overrides if p.startswith(base) or base.startswith(p)
                ),
            )
        auth = self.routes.get("auth")
        self.jwks: Route | None = (
            Route("auth", auth.pool, JWKS_PATH, default_timeout) if auth is not None else None
        )

    def handles(self, path: str) -> bool:
        """Whether `path` belongs to the proxy (an API path, the JWKS, or a page)."""
        if path.startswith(API_PREFIX) or path == JWKS_PATH:
            return True
        return self.pages is not None and path not in GATEWAY_PATHS

    @staticmethod
    def is_page(path: str) -> bool:
        """Whether `path` is the storefront's (neither the API's nor the gateway's own)."""
        return not (path.startswith(API_PREFIX) or path == JWKS_PATH or path in GATEWAY_PATHS)

    def match(self, path: str) -> Route | None:
        """The route of a proxied `path`, or None for an unknown service."""
        if path == JWKS_PATH:
            return self.jwks
        if not path.startswith(API_PREFIX):
            return self.pages
        end = path.find("/", len(API_PREFIX))
        service = path[len(API_PREFIX) :] if end < 0 else path[len(API_PREFIX) : end]
        return self.routes.get(service)

    def pools(self) -> list[Pool]:
        """Every service's pool, the storefront's too (for the aggregated health page)."""
        pools = [route.pool for route in self.routes.values()]
        return pools if self.pages is None else [*pools, self.pages.pool]


class RoutePatterns:
    """Routes named `METHOD /path`, a `*` standing for one path segment (or any method).

    The gateway's lists of routes are written this way: the writes that honour an
    `Idempotency-Key` (so a retry cannot do them twice), the costly ones whose
    concurrency per client is bounded (a password hash each), the internal ones it
    does not serve at all.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        self.patterns: dict[str, list[re.Pattern[str]]] = {}
        for entry in entries:
            method, _, path = entry.strip().partition(" ")
            segments = (r"[^/]+" if part == "*" else re.escape(part) for part in path.split("/"))
            self.patterns.setdefault(method.upper(), []).append(
                re.compile("/".join(segments) + r"/?\Z")
            )
        self.any_method = self.patterns.pop("*", [])

    def match(self, method: str, path: str) -> bool:
        """Whether a `method` to `path` is one of these routes."""
        return any(p.match(path) for p in self.patterns.get(method, ())) or any(
            p.match(path) for p in self.any_method
        )

    def __bool__(self) -> bool:
        return bool(self.patterns or self.any_method)

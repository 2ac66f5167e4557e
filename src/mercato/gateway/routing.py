"""The routing table: which pool of instances serves a path, and with what deadline.

Everything is computed once at start: a dict from service name to its `Route`, each
with its pool and its timeout overrides sorted longest prefix first, so a request
costs one string split and one dict lookup.

A `Pool` balances round robin over a service's instances with passive health
checks: an instance that refused a connection or timed out is marked down for a
few seconds and skipped. When every instance is down the pool still offers them in
turn (as nginx does), so a restarted service gets traffic again at once and a
single failure never blocks a whole service.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["API_PREFIX", "JWKS_PATH", "Instance", "Pool", "Route", "RouteTable"]

API_PREFIX = "/api/"
JWKS_PATH = "/.well-known/jwks.json"
Clock = Callable[[], float]


class Instance:
    """One instance of a service: its origin URL and when it may be used again."""

    __slots__ = ("down_until", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self.down_until = 0.0

    def __repr__(self) -> str:
        return f"Instance({self.url!r})"


class Pool:
    """A service's instances, balanced round robin, skipping those marked down."""

    def __init__(
        self,
        service: str,
        urls: Sequence[str],
        *,
        down_seconds: float = 2.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if not urls:
            raise ValueError(f"{service} has no instance")
        self.service = service
        self.instances = tuple(Instance(u) for u in urls)
        self.down_seconds = down_seconds
        self._clock = clock
        self._next = 0

    def pick(self, exclude: Collection[Instance] = ()) -> Instance | None:
        """The next instance that is up, else the next one at all; None if all excluded.

        Only a first pick (nothing excluded) moves the rotation on, to just past the
        chosen instance, so skipped and retried instances do not skew the balance.
        """
        instances = self.instances
        count = len(instances)
        start = self._next
        now = self._clock()
        chosen = fallback = -1
        for step in range(count):
            index = (start + step) % count
            instance = instances[index]
            if instance in exclude:
                continue
            if instance.down_until <= now:
                chosen = index
                break
            if fallback < 0:
                fallback = index
        if chosen < 0:
            chosen = fallback
        if chosen < 0:
            return None
        if not exclude:
            self._next = (chosen + 1) % count
        return instances[chosen]

    def mark_down(self, instance: Instance) -> None:
        """Skip `instance` for `down_seconds` (it refused a connection or timed out)."""
        instance.down_until = self._clock() + self.down_seconds

    def is_down(self, instance: Instance) -> bool:
        """Whether `instance` is currently skipped."""
        return instance.down_until > self._clock()

    def mark_up(self, instance: Instance) -> None:
        """Use `instance` again (it answered)."""
        instance.down_until = 0.0


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
        for service, urls in pools.items():
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

    @staticmethod
    def handles(path: str) -> bool:
        """Whether `path` belongs to the proxy (an API path or the JWKS)."""
        return path.startswith(API_PREFIX) or path == JWKS_PATH

    def match(self, path: str) -> Route | None:
        """The route of a proxied `path`, or None for an unknown service."""
        if path == JWKS_PATH:
            return self.jwks
        end = path.find("/", len(API_PREFIX))
        service = path[len(API_PREFIX) :] if end < 0 else path[len(API_PREFIX) : end]
        return self.routes.get(service)

    def pools(self) -> list[Pool]:
        """Every service's pool (for the aggregated health page)."""
        return [route.pool for route in self.routes.values()]

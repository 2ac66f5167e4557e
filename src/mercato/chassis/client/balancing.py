"""Client-side load balancing over a service's instances, shared by the gateway and services.

A `Pool` balances round robin over a service's instances with passive health
checks: an instance that refused a connection or timed out is marked down for a
few seconds and skipped. When every instance is down the pool still offers them in
turn (as nginx does), so a restarted service gets traffic again at once and a
single failure never blocks a whole service. The gateway's proxy picks from a pool
for every request; `ServiceClient.request(..., pool=...)` does the same for calls
between services (with a circuit breaker per instance on top).

`parse_base_urls` reads the usual way of naming several instances in one setting,
a comma-separated list of base URLs (a single URL is the one-instance case).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from urllib.parse import urlsplit

__all__ = ["Clock", "Instance", "Pool", "base_url", "parse_base_urls"]

Clock = Callable[[], float]


def base_url(raw: str, name: str) -> str:
    """`raw` checked as an http(s) base URL (a path prefix is allowed), without trailing /.

    A bad URL raises ValueError starting with `name` (the service it belongs to).
    """
    url = raw.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"{name}: {url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name}: {url!r} must be an http:// or https:// URL with a host")
    if parts.username or parts.password:  # not echoed: it would show the credentials
        raise ValueError(f"{name}: a base URL must not hold a user name or password")
    if parts.query or parts.fragment:
        raise ValueError(f"{name}: {url!r} must be a base URL (no query or fragment)")
    if port == 0:
        raise ValueError(f"{name}: {url!r} has port 0")
    return url.rstrip("/")


def parse_base_urls(value: str, name: str) -> tuple[str, ...]:
    """The base URLs of a comma-separated list (at least one, none twice)."""
    urls = tuple(base_url(u, name) for u in value.split(",") if u.strip())
    if not urls:
        raise ValueError(f"{name} has no instance URL")
    if len(set(urls)) != len(urls):
        raise ValueError(f"{name} lists an instance twice")
    return urls


class Instance:
    """One instance of a service: its base URL and when it may be used again."""

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

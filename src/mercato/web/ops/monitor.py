"""The console's view of the running system: every instance's health and metrics, sampled.

`Monitor` knows every instance (`Target`: a service, its instance name as the launcher
gives it, `catalog-2`, and its base URL) and, when a page asks (`reading()`), scrapes
them all at once: `GET /health/ready` and `GET /metrics` of each, each bounded by a
timeout, so one dead or slow instance costs the page at most that timeout. It keeps
the samples of the last few minutes in memory (this process's; nothing is stored) and
scrapes at most once every `min_interval` seconds however many admins watch: a page
asked for within it gets the last reading. Rates need two samples, so the first page
after a start shows the gauges and health only; the page's refresh fills the rest.

The fetching itself is a function given to the monitor (`Fetch`), so the monitor is
tested on real metrics text without servers; `http_fetch` is the real one, on the
process's aiohttp session (the service client's, with its TLS settings).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiohttp
import orjson

from mercato.web.ops.metrics import Change, Sample, sample_of

__all__ = [
    "Fetch",
    "Health",
    "InstanceReading",
    "Monitor",
    "Reading",
    "Target",
    "http_fetch",
    "targets_of",
]

log = logging.getLogger("mercato.web.ops")
WINDOW_SECONDS = 300.0  # rates over at most the last five minutes
MIN_INTERVAL = 2.0
MAX_METRICS_BYTES = 4 * 1024 * 1024
# (status, body) of a GET; raises OSError/TimeoutError/aiohttp.ClientError when unanswered.
Fetch = Callable[[str, float], Awaitable[tuple[int, bytes]]]


@dataclass(frozen=True, slots=True)
class Target:
    """One instance of a service: its name (`catalog-2`) and base URL."""

    service: str
    instance: str
    url: str


def targets_of(services: Sequence[tuple[str, Sequence[str]]]) -> tuple[Target, ...]:
    """The targets of each service's base URLs, named `<service>-<n>` from 1 as launched."""
    return tuple(
        Target(service, f"{service}-{index}", url)
        for service, urls in services
        for index, url in enumerate(urls, start=1)
    )


@dataclass(frozen=True, slots=True)
class Health:
    """An instance's readiness: `ready`, `not ready` (with the failing checks) or `down`."""

    state: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Whether the instance is ready."""
        return self.state == "ready"


@dataclass(frozen=True, slots=True)
class InstanceReading:
    """What the monitor knows of one instance now."""

    target: Target
    health: Health
    latest: Sample | None  # None: its metrics could not be read
    change: Change | None  # None: not two samples yet


@dataclass(frozen=True, slots=True)
class Reading:
    """Every instance, as of one scrape."""

    instances: tuple[InstanceReading, ...]
    at: float  # wall-clock time of the scrape (seconds since the epoch)


async def http_fetch(session: aiohttp.ClientSession, url: str, timeout: float) -> tuple[int, bytes]:
    """GET `url` on `session` within `timeout` seconds: its status and body (bounded)."""
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
        body = await response.content.read(MAX_METRICS_BYTES)
        return response.status, body


def _health_of(status: int, body: bytes) -> Health:
    if status == 200:
        return Health("ready")
    failing = ""
    if status == 503:
        try:
            checks = orjson.loads(body).get("checks", {})
            failing = ", ".join(f"{k}: {v}" for k, v in sorted(checks.items()) if v != "ok")
        except (orjson.JSONDecodeError, AttributeError):
            failing = ""
    return Health("not ready", failing or f"answered {status}")


class Monitor:
    """Scrapes every target on demand and keeps each one's recent samples."""

    def __init__(
        self,
        targets: Sequence[Target],
        fetch: Fetch,
        *,
        timeout: float = 2.0,
        window: float = WINDOW_SECONDS,
        min_interval: float = MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.targets = tuple(targets)
        self.fetch = fetch
        self.timeout = timeout
        self.window = window
        self.min_interval = min_interval
        self.clock = clock
        self._samples: dict[str, deque[Sample]] = {t.instance: deque() for t in self.targets}
        self._lock = asyncio.Lock()
        self._last: Reading | None = None
        self._last_at = -float("inf")

    async def reading(self) -> Reading:
        """Every instance now (a fresh scrape unless one ran within `min_interval`)."""
        async with self._lock:
            if self._last is not None and self.clock() - self._last_at < self.min_interval:
                return self._last
            scraped = await asyncio.gather(*(self._scrape(t) for t in self.targets))
            self._last, self._last_at = Reading(tuple(scraped), time.time()), self.clock()
            return self._last

    async def _scrape(self, target: Target) -> InstanceReading:
        health_call = self._get(target.url + "/health/ready")
        metrics_call = self._get(target.url + "/metrics")
        health_answer, metrics_answer = await asyncio.gather(health_call, metrics_call)
        health = (
            Health("down", "no answer") if health_answer is None else _health_of(*health_answer)
        )
        sample = None
        if metrics_answer is not None and metrics_answer[0] == 200:
            try:
                sample = sample_of(metrics_answer[1].decode(errors="replace"), self.clock())
            except ValueError as exc:
                log.warning("metrics of %s do not parse: %s", target.instance, exc)
        return InstanceReading(target, health, sample, self._keep(target, sample))

    async def _get(self, url: str) -> tuple[int, bytes] | None:
        try:
            return await self.fetch(url, self.timeout)
        except (OSError, TimeoutError, aiohttp.ClientError) as exc:
            log.info("console scrape of %s failed: %r", url, exc)
            return None

    def _keep(self, target: Target, sample: Sample | None) -> Change | None:
        """Keep `sample`; the change since the oldest sample within the window."""
        samples = self._samples[target.instance]
        if sample is None:
            return None
        samples.append(sample)
        while len(samples) > 2 and sample.at - samples[0].at > self.window:
            samples.popleft()
        if len(samples) < 2:
            return None
        return Change.between(samples[0], sample)

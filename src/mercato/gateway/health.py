"""`GET /health`: the readiness of every service instance, aggregated.

Every instance's `/health/ready` is asked concurrently with a short timeout. A
service is `ok` when all its instances are ready, `degraded` when some are, and
`unavailable` when none is. The page answers 200 unless some service is
unavailable (503), so that a load balancer in front of the gateway, or a person,
sees at once which service is down:

    {"status": "ok" | "degraded" | "unavailable",
     "services": {"catalog": {"status": "degraded",
                              "instances": [{"url": "http://...", "status": "ok",
                                             "reported": {"broker": "timeout"}},
                                            {"url": "http://...", "status": "unreachable"}]}}}

Only operators (`gateway.operator`) see the instances, and with each what its
readiness reports without being decided by it (`reported`: its broker, see
`chassis.web.health`); anyone else sees each service's status, never an internal
address. A broker that does not answer so shows in every instance here while
every service stays ready: the outbox keeps the events, and requests go on. The result is kept for
`cache_seconds`, so a flood of `/health` calls does not become a flood of probes
behind the gateway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from mercato.chassis.client.balancing import Pool
from mercato.chassis.telemetry import trace_context
from mercato.gateway.forward import Forwarder
from mercato.gateway.operator import OPERATOR_SCOPE_KEY
from mercato.gateway.upstream import ConnectFailed, ExchangeFailed

__all__ = ["HealthAggregator"]


class HealthAggregator:
    """Probes every upstream instance's readiness and renders the aggregate."""

    def __init__(
        self,
        pools: Sequence[Pool],
        forwarder: Forwarder,
        *,
        timeout: float = 2.0,
        cache_seconds: float = 1.0,
    ) -> None:
        self.pools = list(pools)
        self.forwarder = forwarder
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self._cached: tuple[float, int, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def _probe(self, url: str) -> dict[str, Any]:
        """One instance's entry: its URL, its readiness and what it reports beside."""
        headers = list(trace_context.outgoing_headers().items())
        try:
            answer = await self.forwarder.upstreams.exchange(
                url, "GET", "/health/ready", headers, None, idempotent=True, timeout=self.timeout
            )
        except TimeoutError:
            return {"url": url, "status": "timeout"}
        except (ConnectFailed, ExchangeFailed):
            return {"url": url, "status": "unreachable"}
        status = "ok" if answer.status == 200 else f"unavailable ({answer.status})"
        entry: dict[str, Any] = {"url": url, "status": status}
        if reported := _reported(answer.body):
            entry["reported"] = reported
        return entry

    async def check(self) -> tuple[int, dict[str, Any]]:
        """The status code and document of the aggregated health page."""
        async with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self.cache_seconds:
                return self._cached[1], self._cached[2]
            urls = [(p.service, i.url) for p in self.pools for i in p.instances]
            results = await asyncio.gather(*(self._probe(url) for _, url in urls))
            services: dict[str, dict[str, Any]] = {}
            for (service, _), result in zip(urls, results, strict=True):
                entry = services.setdefault(service, {"status": "ok", "instances": []})
                entry["instances"].append(result)
            for entry in services.values():
                ready = sum(i["status"] == "ok" for i in entry["instances"])
                if ready == 0:
                    entry["status"] = "unavailable"
                elif ready < len(entry["instances"]):
                    entry["status"] = "degraded"
            statuses = {e["status"] for e in services.values()}
            overall = next((s for s in ("unavailable", "degraded") if s in statuses), "ok")
            code = 503 if overall == "unavailable" else 200
            document = {"status": overall, "services": services}
            self._cached = (time.monotonic(), code, document)
            return code, document

    async def endpoint(self, request: Request) -> Response:
        """`GET /health`: instances named only to operators (`gateway.operator`)."""
        code, document = await self.check()
        if not request.scope.get(OPERATOR_SCOPE_KEY):
            document = {
                "status": document["status"],
                "services": {
                    name: {"status": entry["status"]}
                    for name, entry in document["services"].items()
                },
            }
        return Response(orjson.dumps(document), status_code=code, media_type="application/json")


def _reported(body: bytes) -> dict[str, str]:
    """The `reported` part of a readiness answer (strings only), or nothing."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    reported = document.get("reported") if isinstance(document, dict) else None
    if not isinstance(reported, dict):
        return {}
    return {str(k): str(v)[:200] for k, v in reported.items() if isinstance(v, str)}

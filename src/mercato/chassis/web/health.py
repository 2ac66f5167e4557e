"""Health probes: `/health/live` (the process runs) and `/health/ready` (it can serve).

Readiness runs the checks of what a request needs (`Runtime.checks`: the database)
concurrently with a short timeout, and answers 503 with the failing checks named
when any fails, so an orchestrator stops sending traffic. Its body also shows, for
an operator, what requests do not need and so never makes the process unready: the
broker (`reported`, the outcome of the runtime's latest check of it, see
`chassis.events.broker_watch`) and the service's background tasks (`tasks`):

    {"status": "ok", "service": "orders", "instance": "orders-1",
     "checks": {"database": "ok"}, "reported": {"broker": "timeout"}, "tasks": {...}}
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse

__all__ = ["Check", "live", "ready", "run_checks"]

Check = Callable[[], Awaitable[None]]


async def _run(check: Check, timeout: float) -> str:
    try:
        await asyncio.wait_for(check(), timeout)
    except TimeoutError:
        return "timeout"
    except Exception as exc:
        return f"error: {exc}"[:200]
    return "ok"


async def run_checks(checks: Mapping[str, Check], timeout: float = 2.0) -> dict[str, str]:
    """Run every check concurrently; the result names each check's outcome."""
    names = list(checks)
    results = await asyncio.gather(*(_run(checks[n], timeout) for n in names))
    return dict(zip(names, results, strict=True))


async def live(request: Request) -> JSONResponse:
    """`GET /health/live`."""
    return JSONResponse({"status": "ok", "service": request.app.state.runtime.settings.service})


async def ready(request: Request) -> JSONResponse:
    """`GET /health/ready`."""
    runtime = request.app.state.runtime
    results = await run_checks(runtime.checks())
    ok = all(r == "ok" for r in results.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "service": runtime.settings.service,
        "instance": runtime.settings.instance,
        "checks": results,
    }
    if reported := runtime.reported():
        body["reported"] = reported
    if runtime.tasks.status:
        body["tasks"] = runtime.tasks.health()
    return JSONResponse(body, status_code=200 if ok else 503)

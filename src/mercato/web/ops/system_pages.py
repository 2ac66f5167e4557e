"""`/ops`: the console's front page, the system: every service and instance, refreshed.

`GET /ops` is the whole page; `GET /ops/system/fragment` is only its figures (the
HTML the page's script swaps in every few seconds, `static/ops.js`). Without
JavaScript the page has a Refresh link. The monitor (`monitor.Monitor`) is built once
per process from the settings, at the first look, and kept on the app's state.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.context import WebContext
from mercato.web.ops.access import admin
from mercato.web.ops.monitor import Monitor, Target, http_fetch, targets_of
from mercato.web.ops.nav import ops_page
from mercato.web.ops.system import system_view
from mercato.web.rendering import NO_STORE
from mercato.web.settings import BACKENDS
from mercato.web.shopper import ShopperDep

__all__ = ["REFRESH_SECONDS", "monitor_of", "router"]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
REFRESH_SECONDS = 5
LOCAL = "local:"  # the answering process itself, read without a request


def _targets(ctx: WebContext) -> tuple[Target, ...]:
    settings = ctx.settings
    services: list[tuple[str, tuple[str, ...]]] = []
    if settings.gateway_operator_url:
        services.append(("gateway", tuple(settings.gateway_operator_url.split(","))))
    services += [(name, settings.instances(name)) for name in BACKENDS]
    web = tuple(settings.web_url.split(",")) if settings.web_url else (LOCAL,)
    services.append(("web", web))
    return targets_of(services)


def monitor_of(request: Request) -> Monitor:
    """This process's monitor (made at the first look)."""
    state = request.app.state
    found = getattr(state, "ops_monitor", None)
    if isinstance(found, Monitor):
        return found
    runtime = state.runtime
    ctx: WebContext = runtime.context

    async def fetch(url: str, timeout: float) -> tuple[int, bytes]:
        if url.startswith(LOCAL):  # this very process: it is up, its metrics are at hand
            return 200, runtime.metrics.render() if url.endswith("/metrics") else b"{}"
        return await http_fetch(runtime.http.session, url, timeout)

    monitor = Monitor(_targets(ctx), fetch, timeout=ctx.settings.console_scrape_timeout_seconds)
    state.ops_monitor = monitor
    return monitor


@router.get("/ops")
async def system_page(request: Request, shopper: ShopperDep) -> Response:
    """The system: health, request rate, errors, p99, circuits, outbox and lag."""
    await admin(shopper)
    view = system_view(await monitor_of(request).reading())
    return await ops_page(shopper, "ops/system.html", "System", view)


@router.get("/ops/system/fragment")
async def system_fragment(request: Request, shopper: ShopperDep) -> Response:
    """The system page's figures alone, for its script to swap in."""
    await admin(shopper)
    view = system_view(await monitor_of(request).reading())
    body = shopper.ctx.templates.render("ops/system_figures.html", view=view)
    return HTMLResponse(body, headers={"Cache-Control": NO_STORE})

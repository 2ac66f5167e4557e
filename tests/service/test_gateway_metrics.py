"""Service tests of the gateway's metrics: upstream latency by service and status class,
and a route label for every request that is a template, never a raw path.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from tests.support.gateway import gateway, upstreams
from tests.support.metrics import sample
from tests.support.tokens import TokenFactory

LATENCY = "gateway_upstream_request_duration_seconds_count"


def requests(registry: CollectorRegistry, route: str, status: str, method: str = "GET") -> float:
    labels = {"service": "gateway", "method": method, "route": route, "status": status}
    return sample(registry, "http_requests_total", labels)


async def test_each_forwarded_request_is_timed_by_service_and_status_class(
    tokens: TokenFactory,
) -> None:
    async with (
        upstreams("c1") as [catalog],
        upstreams("o1") as [orders],
        gateway(tokens, {"catalog": [catalog], "orders": [orders]}) as (http, app),
    ):
        registry: CollectorRegistry = app.state.metrics.registry
        assert (await http.get("/api/catalog/products")).status_code == 200
        assert (await http.get("/api/catalog/products/p-1")).status_code == 200
        orders.status = 404
        assert (await http.get("/api/orders/o-1")).status_code == 404
        orders.status = 503
        assert (await http.post("/api/orders", json={})).status_code == 503
        await catalog.stop()
        assert (await http.get("/api/catalog/products")).status_code == 503
        assert (await http.get("/api/nothing/here")).status_code == 404

        assert sample(registry, LATENCY, {"upstream": "catalog", "status_class": "2xx"}) == 2
        assert sample(registry, LATENCY, {"upstream": "catalog", "status_class": "error"}) == 1
        assert sample(registry, LATENCY, {"upstream": "orders", "status_class": "4xx"}) == 1
        assert sample(registry, LATENCY, {"upstream": "orders", "status_class": "5xx"}) == 1
        # A path no service serves never reached an upstream.
        assert sample(registry, LATENCY, {"upstream": "nothing", "status_class": "error"}) == 0


async def test_the_gateways_own_routes_and_proxied_ones_are_labelled_by_template(
    tokens: TokenFactory,
) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}) as (http, app),
    ):
        registry: CollectorRegistry = app.state.metrics.registry
        for path in ("/health", "/health/live", "/health/ready", "/api/catalog/products/p-9"):
            assert (await http.get(path)).status_code == 200, path
        await http.get("/metrics", headers=tokens.headers(roles=["admin"]))
        await http.get("/metrics")  # not an operator: 404, still its own route
        await http.get("/api/unknown/thing")
        await http.get("/elsewhere")
    for route in ("/health", "/health/live", "/health/ready", "/metrics"):
        assert requests(registry, route, "200") == 1, route
    assert requests(registry, "/api/catalog/*", "200") == 1
    assert requests(registry, "/metrics", "404") == 1
    assert requests(registry, "unmatched", "404") == 2
    routes = {
        sample_.labels["route"]
        for family in registry.collect()
        if family.name == "http_requests"
        for sample_ in family.samples
    }
    assert routes == {
        "/health",
        "/health/live",
        "/health/ready",
        "/metrics",
        "/api/catalog/*",
        "unmatched",
    }

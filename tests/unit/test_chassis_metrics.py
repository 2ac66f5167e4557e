"""Unit tests of a process's metrics: route labels, the process collectors, tasks, the pool.

A small service built with the chassis' `create_app` answers its health probes,
`/metrics` and its API, and each is counted under its route template; a path no
route serves under the one label `unmatched`. Its registry holds the process and
Python collectors; its background tasks count their failed rounds and show their last
success; its database pool shows what is in use and times each checkout.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from fastapi import APIRouter
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from mercato.chassis.background import BackgroundTask
from mercato.chassis.config import ServiceSettings
from mercato.chassis.data.database import SQLITE_POOL_SIZE, Database
from mercato.chassis.runtime import Runtime, ServiceSpec
from mercato.chassis.telemetry.pool_metrics import PoolMetrics
from mercato.chassis.web.app import ServiceApp, create_app
from mercato.chassis.web.json_body import StrictJsonRoute
from tests.support.apps import running
from tests.support.metrics import expected_names, families, sample, value

DemoRuntime = Runtime[ServiceSettings, None]


async def broken(_: DemoRuntime) -> None:
    raise RuntimeError("always")


async def fine(_: DemoRuntime) -> None:
    return None


def demo_app(tmp_path: Path) -> ServiceApp:
    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(
        name="demo",
        title="Demo",
        uses_bus=False,
        tasks=(
            BackgroundTask("broken", broken, interval=lambda _: 0.001),
            BackgroundTask("fine", fine, interval=lambda _: 0.001),
            BackgroundTask("never", fine, interval=lambda _: 1.0, enabled=lambda _: False),
        ),
    )
    router = APIRouter(prefix="/api/demo", route_class=StrictJsonRoute)

    @router.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"item": item_id}

    settings = ServiceSettings(data_dir=tmp_path, broker_url="")
    return create_app(spec, settings, [router], configure_logs=False)


def requests_of(text_: str, route: str, method: str = "GET", status: str = "200") -> float:
    labels = {"service": "demo", "method": method, "route": route, "status": status}
    return value(text_, "http_requests_total", labels) or 0.0


async def test_every_route_is_counted_under_its_template_and_unknown_paths_under_one(
    tmp_path: Path,
) -> None:
    app = demo_app(tmp_path)
    async with running(app) as client:
        for path in ("/health/live", "/health/ready", "/api/demo/openapi.json", "/nope"):
            await client.get(path)
        await client.head("/health/live")
        await client.post("/health/live")
        await client.get("/api/demo/items/1")
        await client.get("/api/demo/items/2")
        await client.get("/api/demo/items/3/more")
        await client.get("/metrics")
        exposition = (await client.get("/metrics")).text
    for route in ("/health/live", "/health/ready", "/api/demo/openapi.json", "/metrics"):
        assert requests_of(exposition, route) >= 1, route
    assert requests_of(exposition, "/health/live", "HEAD") == 1
    assert requests_of(exposition, "/health/live", "POST", "405") == 1
    assert requests_of(exposition, "/api/demo/items/{item_id}") == 2
    assert requests_of(exposition, "unmatched", status="404") == 2  # /nope and items/3/more
    routes = {
        line.split('route="', 1)[1].split('"', 1)[0]
        for line in exposition.splitlines()
        if line.startswith("http_requests_total{")
    }
    assert not any("/1" in route or "nope" in route for route in routes)  # no raw paths


async def test_the_process_and_python_collectors_are_in_every_process(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with running(app) as client:
        exposition = (await client.get("/metrics")).text
    assert expected_names(app.state.runtime.spec) <= families(exposition)
    assert (value(exposition, "process_resident_memory_bytes") or 0) > 0
    assert (value(exposition, "process_cpu_seconds_total") or 0) > 0
    assert value(exposition, "python_info", {"implementation": "CPython"}) == 1
    assert value(exposition, "python_gc_collections_total", {"generation": "0"}) is not None
    assert (value(exposition, "db_pool_size") or 0) > 0


async def test_background_tasks_count_failed_rounds_and_show_their_last_success(
    tmp_path: Path,
) -> None:
    app = demo_app(tmp_path)
    runtime: DemoRuntime = app.state.runtime
    registry = runtime.metrics.registry
    failures = "background_task_failures_total"
    last = "background_task_last_success_timestamp_seconds"
    started = time.time()
    async with running(app):
        for _ in range(500):
            if runtime.tasks.status["broken"].rounds >= 2 and runtime.tasks.status["fine"].rounds:
                break
            await asyncio.sleep(0.01)
        status = runtime.tasks.health()
        broken_failures = sample(registry, failures, {"service": "demo", "task": "broken"})
        fine_failures = registry.get_sample_value(failures, {"service": "demo", "task": "fine"})
        fine_success = sample(registry, last, {"service": "demo", "task": "fine"})
    assert broken_failures >= 2 and broken_failures == status["broken"]["rounds"]
    assert fine_failures == 0.0  # shown from 0
    assert started <= fine_success <= time.time()
    assert status["fine"]["last_success"] == fine_success
    assert registry.get_sample_value(last, {"service": "demo", "task": "broken"}) is None
    assert registry.get_sample_value(failures, {"service": "demo", "task": "never"}) is None


@pytest.fixture
def pool_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


async def test_the_pool_shows_its_connections_in_use_and_times_each_checkout(
    tmp_path: Path, pool_registry: CollectorRegistry
) -> None:
    metrics = PoolMetrics("demo", pool_registry)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_wait=metrics.waited)
    metrics.watch(db.pool_usage)
    labels = {"service": "demo"}
    try:
        async with db.session() as first, db.session() as second:
            await first.execute(text("SELECT 1"))
            await second.execute(text("SELECT 1"))
            in_use = sample(pool_registry, "db_pool_connections_in_use", labels)
        after = sample(pool_registry, "db_pool_connections_in_use", labels)
        async with db.session() as third:
            await third.execute(text("SELECT 1"))
    finally:
        await db.dispose()
    assert (in_use, after) == (2, 0)
    assert sample(pool_registry, "db_pool_size", labels) == 2 * SQLITE_POOL_SIZE
    assert sample(pool_registry, "db_pool_wait_seconds_count", labels) == 3
    assert sample(pool_registry, "db_pool_wait_seconds_sum", labels) > 0


async def test_a_recreated_pool_still_times_its_checkouts(
    tmp_path: Path, pool_registry: CollectorRegistry
) -> None:
    metrics = PoolMetrics("demo", pool_registry)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_wait=metrics.waited)
    try:
        await db.ping()
        await db.engine.dispose()  # the engine builds a new pool from the same class
        await db.ping()
    finally:
        await db.dispose()
    assert sample(pool_registry, "db_pool_wait_seconds_count", {"service": "demo"}) == 2

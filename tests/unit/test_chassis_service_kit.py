"""Unit tests of the service kit: a spec's typed context, its background tasks, health.

A small service is built with the chassis' `create_app` and run through its
lifespan, as every service is: its context is built once at start and reaches the
routes through `context_of`; its background tasks run, survive failing rounds, are
shown in `/health/ready` and are cancelled before the context closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends

from mercato.chassis.background import MAX_BACKOFF, BackgroundTask, next_delay
from mercato.chassis.config import ServiceSettings
from mercato.chassis.runtime import Runtime, ServiceSpec
from mercato.chassis.web.app import create_app
from mercato.chassis.web.dependencies import context_of
from mercato.chassis.web.json_body import StrictJsonRoute
from tests.support.apps import running


@dataclass
class DemoContext:
    """What the demo service shares: a record of what happened, in order."""

    events: list[str] = field(default_factory=list)
    rounds: int = 0


DemoRuntime = Runtime[ServiceSettings, DemoContext]


def demo_spec(journal: list[str]) -> ServiceSpec[ServiceSettings, DemoContext]:
    @asynccontextmanager
    async def open_context(runtime: DemoRuntime) -> AsyncIterator[DemoContext]:
        ctx = DemoContext()
        journal.append("context opened")
        yield ctx
        journal.append(f"context closed, tasks running: {len(runtime.tasks.running)}")

    async def flaky(runtime: DemoRuntime) -> None:
        ctx = runtime.context
        ctx.rounds += 1
        if ctx.rounds <= 2:
            raise RuntimeError(f"round {ctx.rounds} failed")

    async def never(_: DemoRuntime) -> None:
        journal.append("the disabled task ran")

    return ServiceSpec(
        name="demo",
        title="Demo",
        uses_bus=False,
        context=open_context,
        tasks=(
            BackgroundTask("flaky", flaky, interval=lambda _: 0.001),
            BackgroundTask("never", never, interval=lambda _: 0.001, enabled=lambda _: False),
        ),
    )


def demo_router() -> APIRouter:
    router = APIRouter(prefix="/api/demo", route_class=StrictJsonRoute)

    @router.get("/rounds")
    async def rounds(ctx: Annotated[DemoContext, Depends(context_of)]) -> dict[str, int]:
        return {"rounds": ctx.rounds, "context": id(ctx)}

    return router


async def test_the_context_is_built_once_and_reaches_the_routes(tmp_path: Path) -> None:
    journal: list[str] = []
    settings = ServiceSettings(data_dir=tmp_path, broker_url="")
    app = create_app(demo_spec(journal), settings, [demo_router()], configure_logs=False)
    async with running(app) as client:
        first = (await client.get("/api/demo/rounds")).json()
        second = (await client.get("/api/demo/rounds")).json()
        assert first["context"] == second["context"] == id(app.state.runtime.context)
        assert journal == ["context opened"]
    # The tasks were cancelled before the context closed.
    assert journal == ["context opened", "context closed, tasks running: 0"]


async def test_a_failing_task_goes_on_and_health_shows_it(tmp_path: Path) -> None:
    journal: list[str] = []
    settings = ServiceSettings(data_dir=tmp_path, broker_url="")
    app = create_app(demo_spec(journal), settings, [demo_router()], configure_logs=False)
    async with running(app) as client:
        runtime: DemoRuntime = app.state.runtime
        assert [task.get_name() for task in runtime.tasks.running] == ["flaky"]
        for _ in range(500):
            if runtime.context.rounds >= 3:
                break
            await asyncio.sleep(0.01)
        ready = await client.get("/health/ready")
        assert ready.status_code == 200  # a failing task does not make the process unready
        flaky = ready.json()["tasks"]["flaky"]
        assert flaky["state"] == "running" and flaky["failures"] == 0
        assert flaky["last_error"] == "RuntimeError: round 2 failed"
        assert flaky["rounds"] >= 3 and flaky["last_success"] is not None
        assert "never" not in ready.json()["tasks"]
        tasks = runtime.tasks.running
    assert all(task.done() for task in tasks)
    assert "the disabled task ran" not in journal


def test_a_failing_task_backs_off_up_to_a_bound() -> None:
    assert next_delay(2.0, 0) == 2.0
    assert [next_delay(2.0, n) for n in (1, 2, 3)] == [4.0, 8.0, 16.0]
    assert next_delay(2.0, 10) == MAX_BACKOFF
    assert next_delay(600.0, 3) == 600.0  # never shorter than its interval


def test_a_runtime_without_a_context_refuses_it_before_start(tmp_path: Path) -> None:
    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(name="demo", title="Demo")
    runtime = Runtime(spec, ServiceSettings(data_dir=tmp_path, broker_url=""))
    with pytest.raises(RuntimeError, match="demo has not started"):
        _ = runtime.context
    with pytest.raises(RuntimeError, match="demo declares no event tables"):
        _ = runtime.outbox


async def test_a_path_nothing_serves_is_a_404_naming_it(tmp_path: Path) -> None:
    settings = ServiceSettings(data_dir=tmp_path, broker_url="")
    app = create_app(demo_spec([]), settings, [demo_router()], configure_logs=False)
    async with running(app) as client:
        answer = await client.get("/api/demo/nowhere")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "Nothing is served at /api/demo/nowhere."

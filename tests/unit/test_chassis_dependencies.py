"""No route dependency runs in FastAPI's thread pool.

FastAPI runs a plain `def` dependency in a worker thread: about 0.3 ms of CPU and two
thread hops per dependency per request, for functions that never block. Every
dependency of every service is `async def` (or an async generator) instead.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

SERVICES = ("auth", "users", "catalog", "orders", "payments", "logs", "shipping", "web")


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # An included router stays a router of its own in recent FastAPI versions.
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def _app(service: str, data_dir: Path) -> FastAPI:
    app_module = importlib.import_module(f"mercato.{service}.app")
    settings_module = importlib.import_module(f"mercato.{service}.settings")
    settings = settings_module.load_settings(data_dir=data_dir, broker_url="")
    app: FastAPI = app_module.create_app(settings)
    return app


@pytest.mark.parametrize("service", SERVICES)
def test_every_dependency_is_async(service: str, tmp_path: Path) -> None:
    app = _app(service, tmp_path)
    routes = list(_api_routes(app.routes))
    assert routes, f"{service} has no API routes"
    blocking = {
        f"{route.path}: {call.__module__}.{call.__qualname__}"
        for route in routes
        for call in _calls(route.dependant)
        if not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))
    }
    assert not blocking, f"dependencies run in the thread pool: {sorted(blocking)}"

"""Unit tests of direct routes: served past FastAPI, yet answering as any route would."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from mercato.chassis.config import ServiceSettings
from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.web.app import create_app
from mercato.chassis.web.direct_routes import direct_route
from mercato.chassis.web.errors import Forbidden
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.json_response import JsonResponse


class Fast(BaseModel):
    route: str
    app: str


class Paging(BaseModel):
    """Query parameters, declared once for a direct route and a FastAPI one alike."""

    q: str | None = Field(None, max_length=5, description="Words.")
    limit: int = Field(10, ge=1, le=50)
    order: Literal["asc", "desc"] | None = None


def demo_router() -> APIRouter:
    router = APIRouter(prefix="/api/demo", route_class=StrictJsonRoute)

    @direct_route(router, "/fast", response_model=Fast, summary="Answer fast")
    async def fast(request: Request) -> Response:
        return JsonResponse({"route": request.scope["route"].path, "app": request.app.title})

    @router.post("/fast")
    async def change_fast() -> dict[str, bool]:
        return {"changed": True}

    @direct_route(router, "/refused")
    async def refused(request: Request) -> Response:
        raise Forbidden("Not for you.")

    @direct_route(router, "/broken")
    async def broken(request: Request) -> Response:
        raise RuntimeError("a bug")

    @direct_route(router, "/items/{item_id}")
    async def item(request: Request, item_id: str) -> Response:
        return JsonResponse({"item": item_id})

    @direct_route(router, "/paged/{kind}")
    async def paged(request: Request, kind: str, paging: Annotated[Paging, Query()]) -> Response:
        return JsonResponse({"kind": kind, **paging.model_dump()})

    @router.get("/paged-by-fastapi/{kind}")
    async def paged_by_fastapi(kind: str, paging: Annotated[Paging, Query()]) -> dict[str, Any]:
        return {"kind": kind, **paging.model_dump()}

    return router


def demo_app(tmp_path: Path) -> FastAPI:
    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(
        name="demo", title="Demo", description="A test service."
    )
    settings = ServiceSettings(data_dir=tmp_path, broker_url="")
    return create_app(spec, settings, [demo_router()], configure_logs=False)


@pytest.fixture
async def client(tmp_path: Path) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=demo_app(tmp_path))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_direct_route_is_served_with_its_route_and_app(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/demo/fast", headers={"X-Request-ID": "direct-1"})
    assert response.status_code == 200
    assert response.json() == {"route": "/api/demo/fast", "app": "Demo"}
    assert response.headers["x-request-id"] == "direct-1"
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/demo/fast",service="demo",status="200"' in metrics


async def test_a_static_direct_path_skips_fastapis_stack(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    seen: list[str] = []

    class Witness:  # a middleware of FastAPI's own stack: it sees what FastAPI serves
        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(scope["path"])
            await self.inner(scope, receive, send)

    app.add_middleware(Witness)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/api/demo/fast")).status_code == 200
        assert (await client.get("/api/demo/items/7")).status_code == 200
        assert (await client.post("/api/demo/fast")).status_code == 200
    assert seen == ["/api/demo/fast"]  # only the POST, which FastAPI serves


async def test_head_is_answered_by_the_get_route(client: httpx.AsyncClient) -> None:
    response = await client.head("/api/demo/fast")
    assert response.status_code == 200
    assert response.content == b""


async def test_other_methods_on_the_path_go_to_fastapi(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/demo/fast")).json() == {"changed": True}
    refused = await client.delete("/api/demo/fast")
    assert refused.status_code == 405
    assert refused.headers["content-type"] == "application/problem+json"


async def test_a_problem_raised_by_a_direct_route_is_problem_json(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/demo/refused")
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Not for you."


async def test_a_bug_in_a_direct_route_is_a_logged_500_without_a_trace(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="mercato.errors"):
        response = await client.get("/api/demo/broken")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "a bug" not in response.text
    assert any("a bug" in (r.exc_text or "") for r in caplog.records)
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/demo/broken",service="demo",status="500"' in metrics


async def test_a_direct_route_with_parameters_gets_them(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/demo/items/42")
    assert response.json() == {"item": "42"}
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/demo/items/{item_id}",service="demo",status="200"' in metrics


async def test_a_query_model_is_validated_from_the_query_string(
    client: httpx.AsyncClient,
) -> None:
    defaults = await client.get("/api/demo/paged/a")
    assert defaults.json() == {"kind": "a", "q": None, "limit": 10, "order": None}
    given = await client.get("/api/demo/paged/b?q=tea&limit=3&order=desc&unknown=1&limit=4")
    assert given.json() == {"kind": "b", "q": "tea", "limit": 4, "order": "desc"}


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=many", "limit=", "order=up", "q=toolong", "limit=99&order=up&q=123456"],
)
async def test_a_bad_query_value_is_the_same_422_as_fastapis(
    client: httpx.AsyncClient, query: str
) -> None:
    direct = await client.get(f"/api/demo/paged/a?{query}")
    by_fastapi = await client.get(f"/api/demo/paged-by-fastapi/a?{query}")
    assert direct.status_code == by_fastapi.status_code == 422
    assert direct.headers["content-type"] == "application/problem+json"
    assert direct.json()["errors"] == by_fastapi.json()["errors"]
    assert direct.json()["detail"] == by_fastapi.json()["detail"]
    assert {e["in"] for e in direct.json()["errors"]} == {"query"}


def test_a_query_model_is_documented_as_fastapi_documents_it(tmp_path: Path) -> None:
    paths = demo_app(tmp_path).openapi()["paths"]
    direct = paths["/api/demo/paged/{kind}"]["get"]["parameters"]
    by_fastapi = paths["/api/demo/paged-by-fastapi/{kind}"]["get"]["parameters"]
    assert direct == by_fastapi
    assert [p["name"] for p in direct] == ["kind", "q", "limit", "order"]


def test_direct_routes_are_documented_like_any_other(tmp_path: Path) -> None:
    document = demo_app(tmp_path).openapi()
    operation = document["paths"]["/api/demo/fast"]["get"]
    assert operation["summary"] == "Answer fast"
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Fast"}
    item = document["paths"]["/api/demo/items/{item_id}"]["get"]
    assert [(p["name"], p["in"], p["required"]) for p in item["parameters"]] == [
        ("item_id", "path", True)
    ]


async def test_a_route_declared_earlier_that_matches_answers_as_in_fastapi(
    tmp_path: Path,
) -> None:
    router = APIRouter(prefix="/api/demo", route_class=StrictJsonRoute)

    @router.get("/{user_id}")
    async def by_id(user_id: str) -> dict[str, str]:
        return {"id": user_id}

    @direct_route(router, "/me")
    async def me(request: Request) -> Response:
        return JsonResponse({"me": True})

    async with app_client(tmp_path, router) as client:
        assert (await client.get("/api/demo/me")).json() == {"id": "me"}


async def test_the_apps_own_paths_come_before_a_direct_route(tmp_path: Path) -> None:
    router = APIRouter(prefix="/api/demo", route_class=StrictJsonRoute)

    @direct_route(router, "/{name}")
    async def anything(request: Request, name: str) -> Response:
        return JsonResponse({"name": name})

    async with app_client(tmp_path, router) as client:
        assert (await client.get("/api/demo/x")).json() == {"name": "x"}
        document = await client.get("/api/demo/openapi.json")
    assert document.json()["info"]["title"] == "Demo"


@contextlib.asynccontextmanager
async def app_client(tmp_path: Path, router: APIRouter) -> AsyncIterator[httpx.AsyncClient]:
    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(
        name="demo", title="Demo", description="A test service."
    )
    app = create_app(spec, ServiceSettings(data_dir=tmp_path, broker_url=""), [router])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client

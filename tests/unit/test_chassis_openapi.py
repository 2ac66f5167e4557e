"""Unit tests of the OpenAPI document: errors as problem+json, callers, ids and examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from mercato.chassis.config import ServiceSettings
from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.security.tokens import Admin, CurrentUser, UserCaller, authenticated
from mercato.chassis.web.app import create_app
from mercato.chassis.web.direct_routes import direct_route
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.json_response import JsonResponse
from mercato.chassis.web.openapi import Problem, problems

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


class Thing(BaseModel):
    name: str
    count: int


def demo_app(tmp_path: Path) -> FastAPI:
    router = APIRouter(prefix="/api/demo", route_class=StrictJsonRoute)

    @router.post("/things")
    async def create_thing(thing: Thing) -> Thing:
        return thing

    @router.get("/things")
    async def list_things() -> list[Thing]:
        return []

    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(
        name="demo", title="Demo", description="A test service."
    )
    settings = ServiceSettings(data_dir=tmp_path, broker_url="")
    return create_app(spec, settings, [router], configure_logs=False)


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in document["paths"].values() for op in item.values()]


def test_a_422_is_documented_as_the_problem_the_service_answers(tmp_path: Path) -> None:
    document = demo_app(tmp_path).openapi()
    create = document["paths"]["/api/demo/things"]["post"]
    assert create["responses"]["422"]["content"] == PROBLEM
    assert all(op["responses"]["default"]["content"] == PROBLEM for op in operations(document))
    schemas = document["components"]["schemas"]
    assert {"Problem", "FieldProblem"} <= set(schemas)
    assert not {"HTTPValidationError", "ValidationError"} & set(schemas)


def test_the_document_is_rewritten_once(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    assert app.openapi() is app.openapi()
    assert app.openapi_schema is app.openapi()


async def test_an_invalid_body_answers_what_the_document_says(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/api/demo/things", json={"name": "x", "count": "many"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = Problem.model_validate(response.json())
    assert problem.errors is not None
    assert [(e.field, e.in_) for e in problem.errors] == [("count", "body")]


class Gadget(BaseModel):
    """A thing with a nullable field that must be sent."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "lamp", "note": None}]},
    )

    name: str = Field(description="Its name.")
    note: str | None = Field(description="A note, or null.")


async def _maybe_admin(request: Request) -> bool:
    """Looks at a token only when one is sent, as the catalog's reads do."""
    return bool(request.headers.get("authorization"))


def secured_app(tmp_path: Path) -> FastAPI:
    """Routes of every kind of caller: public, any token, a guard, direct routes."""
    router = APIRouter(prefix="/api/demo", route_class=StrictJsonRoute)

    @router.get("/public")
    async def read_public() -> Gadget:
        return Gadget(name="x", note=None)

    @router.get("/mine/{gadget_id}")
    async def read_mine(gadget_id: str, _: CurrentUser) -> Gadget:
        return Gadget(name=gadget_id, note=None)

    @router.post(
        "/gadgets",
        status_code=201,
        responses=problems({409: "The name is taken.", 422: "No such colour."}),
    )
    async def create_gadget(gadget: Gadget, _: Admin) -> Gadget:
        return gadget

    @router.delete("/gadgets/{name}", status_code=204, responses=problems({}, never=[404]))
    async def forget_gadget(name: str, _: UserCaller) -> None:
        return None

    @direct_route(router, "/direct/me", response_model=Gadget)
    async def read_direct_me(request: Request) -> Response:
        principal = await authenticated(request)
        return JsonResponse({"name": principal.subject, "note": None})

    @direct_route(router, "/direct/list", response_model=Gadget)
    async def read_direct_list(request: Request) -> Response:
        return JsonResponse({"name": str(await _maybe_admin(request)), "note": None})

    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(
        name="demo", title="Demo", description="A test service."
    )
    settings = ServiceSettings(data_dir=tmp_path, broker_url="")
    return create_app(spec, settings, [router], configure_logs=False)


def test_a_token_is_required_exactly_where_the_route_needs_one(tmp_path: Path) -> None:
    paths = secured_app(tmp_path).openapi()["paths"]
    secured = {
        (path, method): "security" in op
        for path, item in paths.items()
        for method, op in item.items()
    }
    assert secured == {
        ("/api/demo/public", "get"): False,
        ("/api/demo/mine/{gadget_id}", "get"): True,
        ("/api/demo/gadgets", "post"): True,
        ("/api/demo/gadgets/{name}", "delete"): True,
        ("/api/demo/direct/me", "get"): True,  # its endpoint calls `authenticated`
        ("/api/demo/direct/list", "get"): False,  # it only looks at a token when sent
    }
    mine = paths["/api/demo/mine/{gadget_id}"]["get"]
    assert mine["security"] == [{"bearerAuth": []}]
    assert mine["responses"]["401"]["content"] == PROBLEM
    assert "403" not in mine["responses"]  # any valid token will do
    assert "401" not in paths["/api/demo/public"]["get"]["responses"]


def test_the_bearer_scheme_is_a_jwt(tmp_path: Path) -> None:
    scheme = secured_app(tmp_path).openapi()["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert "securitySchemes" not in demo_app(tmp_path).openapi()["components"]  # all public


def test_error_statuses_come_from_the_route_and_its_guards(tmp_path: Path) -> None:
    paths = secured_app(tmp_path).openapi()["paths"]
    create = paths["/api/demo/gadgets"]["post"]["responses"]
    assert sorted(create) == [
        "201", "400", "401", "403", "409", "413", "415", "422", "429", "503", "504", "default"
    ]  # fmt: skip
    assert create["409"]["description"] == "The name is taken."
    assert create["422"]["description"] == "No such colour."  # the route's, not the generic
    assert create["403"]["description"] == "The token is not an administrator's."
    assert all(create[s]["content"] == PROBLEM for s in create if s != "201")
    forget = paths["/api/demo/gadgets/{name}"]["delete"]["responses"]
    assert "404" not in forget  # `never`
    assert forget["403"]["description"].startswith("A service token")
    mine = paths["/api/demo/mine/{gadget_id}"]["get"]["responses"]
    assert mine["404"]["description"] == "Nothing has this `gadget_id`, or it is not the caller's."


def test_operation_ids_are_the_service_and_the_endpoint(tmp_path: Path) -> None:
    paths = secured_app(tmp_path).openapi()["paths"]
    ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert ids == [
        "demo_read_public",
        "demo_read_mine",
        "demo_create_gadget",
        "demo_forget_gadget",
        "demo_read_direct_me",
        "demo_read_direct_list",
    ]


def test_examples_keep_their_nulls_and_show_on_bodies_and_answers(tmp_path: Path) -> None:
    document = secured_app(tmp_path).openapi()
    example = {"name": "lamp", "note": None}
    assert document["components"]["schemas"]["Gadget"]["examples"] == [example]
    create = document["paths"]["/api/demo/gadgets"]["post"]
    assert create["requestBody"]["content"]["application/json"]["example"] == example
    assert create["responses"]["201"]["content"]["application/json"]["example"] == example

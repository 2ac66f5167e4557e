"""Unit tests of the OpenAPI document's errors: problem+json, as the service answers them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from mercato.chassis.config import ServiceSettings
from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.web.app import create_app
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.openapi import Problem

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

"""A service's OpenAPI document, telling the truth about its errors.

FastAPI documents every route that takes input as answering 422 with its own
`HTTPValidationError` (`{"detail": [{"loc", "msg", "type"}]}`) in `application/json`.
Mercato answers every error as an RFC 9457 problem (`chassis.web.errors`) in
`application/problem+json`, a 422 naming its fields in `errors`. `document_problems`
rewrites the generated document once: each 422 and a `default` response of every
operation refer to the `Problem` schema below, and FastAPI's shapes are dropped, so
that clients generated from the document read errors as they come.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from mercato.chassis.web.errors import PROBLEM_JSON

__all__ = ["FieldProblem", "Problem", "document_problems", "required_header"]

_FASTAPI_SHAPES = ("HTTPValidationError", "ValidationError")
_REF = "#/components/schemas/{model}"


class FieldProblem(BaseModel):
    """One invalid field of a 422 (a business rule may add keys, e.g. `product_id`)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    field: str = Field(description="Dotted path, e.g. `price.amount` or `items.0`.")
    in_: str = Field(alias="in", description="`body`, `query`, `path` or `header`.")
    message: str
    type: str | None = Field(default=None, description="pydantic's error type, if any.")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = Field(
        default=None, description="The invalid fields (422), when the problem is about input."
    )


def required_header(
    name: str, description: str, *, max_length: int, pattern: str | None = None
) -> dict[str, Any]:
    """The `openapi_extra` of a route whose header `name` is required.

    For a header the route reads as optional (`include_in_schema=False`) so that its
    absence is a 400 with a message of the service's, not a generic 422; the document
    still says that it is required, how long it may be and, given a `pattern`, what
    characters it may hold.
    """
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": max_length}
    if pattern is not None:
        schema["pattern"] = pattern
    parameter = {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": schema,
    }
    return {"parameters": [parameter]}


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template=_REF)
    nested: dict[str, Any] = schema.pop("$defs", {})
    return {**nested, "Problem": schema}


def document_problems(app: FastAPI) -> None:
    """Make `app.openapi()` document errors as problem+json (see the module)."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    problem = {PROBLEM_JSON: {"schema": {"$ref": _REF.format(model="Problem")}}}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = generate()  # caches it in app.openapi_schema: rewritten once, here
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name in _FASTAPI_SHAPES:
            schemas.pop(name, None)
        schemas.update(_problem_schemas())
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {
                        "description": "Invalid input: a problem naming the fields.",
                        "content": problem,
                    }
                responses.setdefault(
                    "default", {"description": "An error, as a problem.", "content": problem}
                )
        return document

    app.openapi = openapi  # type: ignore[method-assign]

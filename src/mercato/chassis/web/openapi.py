"""A service's OpenAPI document, telling the truth about its callers, errors and examples.

FastAPI generates a document from the routes; `complete_document` rewrites it once
(the first time it is asked for), so that a client generated from it, or a person
reading it, learns what the service really does:

- security: the `bearerAuth` scheme (an HTTP bearer JWT), required by every
  operation whose route needs a caller (its dependencies reach
  `security.tokens.authenticated`, or its endpoint calls it, as a direct route
  does), and by no public one (`chassis.web.openapi_routes`);
- errors: every error status an operation can give, each an RFC 9457 problem in
  `application/problem+json` (`Problem` below, as `chassis.web.errors` renders
  them): 401 where a token is needed, 403 where a guard checks its role, 404 where
  a path parameter names a thing, 400/413/415/422 where a body or parameters are
  read, the statuses the route declares with `problems({...})` (409, a 422 of a
  business rule, 502...), and the 429, 503 and 504 that any operation can answer
  through the gateway; FastAPI's own 422 shape (`HTTPValidationError`) is dropped;
- examples: a request body or a 2xx answer whose schema has `examples` (a
  model's `json_schema_extra`) shows the first as its media type's `example`
  (`chassis.web.openapi_examples`, which also undoes FastAPI's dropping their nulls).

Operation ids are `<service>_<endpoint function>` (`catalog_list_products`), given
by `operation_id` when the app is built, so they are stable across FastAPI versions
and meaningful to a generated client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import BaseRoute

from mercato.chassis.web.errors import PROBLEM_JSON
from mercato.chassis.web.openapi_examples import restore_examples, show_examples
from mercato.chassis.web.openapi_routes import BEARER, SECURITY_SCHEME, Caller, caller_of

__all__ = [
    "FieldProblem",
    "Problem",
    "complete_document",
    "operation_id",
    "problems",
    "required_header",
]

_FASTAPI_SHAPES = ("HTTPValidationError", "ValidationError")
_REF = "#/components/schemas/{model}"
_PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": _REF.format(model="Problem")}}}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "string"},
    }
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: the scheme to authenticate with.",
            "schema": {"type": "string"},
        }
    },
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}
# What any operation can answer, through the gateway or from the service itself.
_ANY_OPERATION = {
    429: "Too many requests: over the gateway's rate for this client (or, for a write, "
    "this user); `Retry-After` says when to come back.",
    503: "Unavailable: the service, its database or a service it calls is down, or its "
    "circuit is open; retry, after `Retry-After` when it is given.",
    504: "A service did not answer within its deadline.",
}
_BODY = {
    413: "The body is larger than the service accepts.",
    415: "The body is not `application/json`.",
}
_NOT_JSON = "The body is not JSON (malformed, or holding what cannot be stored)."
_HEADER = "A required header is missing or malformed."
_INVALID = "Invalid input: a problem naming each invalid field in `errors`."
_NEVER = "(not answered)"  # a status `problems(never=...)` takes out
_UNAUTHORIZED = "No valid access token: missing, malformed, expired or revoked."
_DESCRIPTION = """

Authentication: an access token from `POST /api/auth/login`, sent as
`Authorization: Bearer <token>`, on every operation that lists `bearerAuth`.
Errors are RFC 9457 problems (`application/problem+json`, the `Problem` schema);
each operation lists the statuses it can answer."""


class FieldProblem(BaseModel):
    """One invalid field of a 422 (a business rule may add keys, e.g. `product_id`)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    field: str = Field(description="Dotted path, e.g. `price.amount` or `items.0`.")
    in_: str = Field(alias="in", description="`body`, `query`, `path` or `header`.")
    message: str = Field(description="What is wrong with it, for a person.")
    type: str | None = Field(default=None, description="pydantic's error type, if any.")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://mercato.dev/problems/validation",
                    "title": "Unprocessable Content",
                    "status": 422,
                    "detail": "Invalid fields: quantity",
                    "errors": [
                        {
                            "field": "quantity",
                            "in": "body",
                            "message": "Input should be greater than or equal to 1",
                            "type": "greater_than_equal",
                        }
                    ],
                }
            ]
        },
    )

    type: str = Field(description="A URI naming the kind of problem.")
    title: str = Field(description="The status's name, e.g. `Not Found`.")
    status: int = Field(description="The HTTP status, as answered.")
    detail: str = Field(description="What went wrong in this case, for a person.")
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


def problems(
    answers: Mapping[int, str], *, never: Iterable[int] = ()
) -> dict[int | str, dict[str, Any]]:
    """A route's `responses`: the error statuses it gives beside the chassis', and why.

    `{409: "The SKU is taken."}`; a status given here replaces the chassis' generic
    description of it. `never` names the chassis' statuses the route does not give
    (a cart item's path names a product the cart may lack: not a 404).
    """
    declared: dict[int | str, dict[str, Any]] = {s: {"description": w} for s, w in answers.items()}
    declared.update({status: {"description": _NEVER} for status in never})
    return declared


def operation_id(service: str) -> Callable[[APIRoute], str]:
    """FastAPI's `generate_unique_id_function`: `<service>_<endpoint function>`."""

    def generate(route: APIRoute) -> str:
        return f"{service}_{route.name}"

    return generate


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template=_REF)
    nested: dict[str, Any] = schema.pop("$defs", {})
    return {**nested, "Problem": schema}


def complete_document(app: FastAPI, routes: Sequence[BaseRoute]) -> None:
    """Make `app.openapi()` answer the completed document (see the module).

    `routes` are the service's routes as its routers hold them (their paths whole).
    """
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = generate()  # caches it in app.openapi_schema: rewritten once, here
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for name in _FASTAPI_SHAPES:
            schemas.pop(name, None)
        schemas.update(_problem_schemas())
        restore_examples(schemas, routes)
        by_operation = _routes_by_operation(routes)
        for path, path_item in document.get("paths", {}).items():
            for method, operation in path_item.items():
                route = by_operation.get((path, method))
                caller = caller_of(route) if route is not None else Caller()
                declared = route.responses if route is not None else {}
                _complete_operation(operation, caller, declared, schemas)
        if any("security" in op for item in document["paths"].values() for op in item.values()):
            components.setdefault("securitySchemes", {})[BEARER] = SECURITY_SCHEME
        info = document.setdefault("info", {})
        info["description"] = (info.get("description") or "") + _DESCRIPTION
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _routes_by_operation(routes: Sequence[BaseRoute]) -> dict[tuple[str, str], APIRoute]:
    """Each documented route by (path, method), as the document names its operations."""
    return {
        (route.path_format, method.lower()): route
        for route in routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }


def _complete_operation(
    operation: dict[str, Any],
    caller: Caller,
    declared: Mapping[int | str, Any],
    schemas: Mapping[str, Any],
) -> None:
    """Security, every error status as a problem, and examples, for one operation."""
    errors = _error_statuses(operation, caller)
    for status, given in declared.items():
        if str(status).isdigit() and int(status) >= 400:
            errors[int(status)] = given.get("description") or errors.get(int(status), "")
    errors = {status: why for status, why in errors.items() if why != _NEVER}
    if caller.secured:
        operation["security"] = [{BEARER: []}]
    answers = {k: v for k, v in operation.get("responses", {}).items() if _is_success(k)}
    for status in sorted(errors):
        answer: dict[str, Any] = {"description": errors[status], "content": _PROBLEM}
        if status in _HEADERS:
            answer["headers"] = _HEADERS[status]
        answers[str(status)] = answer
    answers["default"] = {"description": "Any other error, as a problem.", "content": _PROBLEM}
    operation["responses"] = answers
    show_examples(operation, schemas)


def _error_statuses(operation: Mapping[str, Any], caller: Caller) -> dict[int, str]:
    """The error statuses the chassis knows an operation gives, with why."""
    errors: dict[int, str] = {}
    parameters = operation.get("parameters", [])
    if caller.secured:
        errors[401] = _UNAUTHORIZED
    if caller.refusal is not None:
        errors[403] = caller.refusal
    path = [p["name"] for p in parameters if p.get("in") == "path"]
    if path:
        named = " or ".join(f"`{name}`" for name in path)
        errors[404] = f"Nothing has this {named}, or it is not the caller's."
    malformed = []
    if "requestBody" in operation:
        malformed.append(_NOT_JSON)
        errors.update(_BODY)
    if any(p.get("in") == "header" and p.get("required") for p in parameters):
        malformed.append(_HEADER)
    if malformed:
        errors[400] = " ".join(malformed)
    if "requestBody" in operation or parameters:
        errors[422] = _INVALID
    errors.update(_ANY_OPERATION)
    return errors


def _is_success(status: str) -> bool:
    return status.isdigit() and int(status) < 400

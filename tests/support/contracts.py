"""Checks that a service's OpenAPI document states a contract model, schema for schema.

A contract model (`mercato.contracts`) documents a route of the service that serves
it; the document then holds the model's JSON schema under its name, and each model
it nests under theirs. `documented` lists those schemas as pydantic writes them, in
the mode FastAPI uses (`validation` for a request body, `serialization` for an
answer) and without null values, which FastAPI leaves out of a document (a
`"default": null` among them), except in a model's `examples`, which the chassis
puts back as the model gives them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

REF = "#/components/schemas/{model}"


def ref(model: type[BaseModel]) -> dict[str, str]:
    """A reference to `model`'s schema in a document."""
    return {"$ref": REF.format(model=model.__name__)}


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            # a model's examples are put back whole (`chassis.web.openapi_examples`)
            k: v if k == "examples" else _without_nulls(v)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def documented(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
    """The schemas `model` puts in a document, by name: its own and its nested models'."""
    schema = _without_nulls(model.model_json_schema(ref_template=REF, mode=mode))
    nested = schema.pop("$defs", {})
    return {model.__name__: schema, **nested}


def operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """One operation of a document."""
    found: dict[str, Any] = document["paths"][path][method]
    return found


def body_schema(document: dict[str, Any], method: str, path: str) -> Any:
    """The JSON schema of an operation's request body."""
    return operation(document, method, path)["requestBody"]["content"]["application/json"]["schema"]


def answer_schema(document: dict[str, Any], method: str, path: str, status: int) -> Any:
    """The JSON schema of an operation's answer with `status`."""
    answer = operation(document, method, path)["responses"][str(status)]
    return answer["content"]["application/json"]["schema"]

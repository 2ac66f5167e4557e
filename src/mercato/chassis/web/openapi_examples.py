"""The examples of an OpenAPI document: as the models give them, and where clients look.

A model gives its examples in its JSON schema (`json_schema_extra={"examples": [...]}`).
FastAPI leaves every null value out of the document it generates, the examples'
included, so an example of a model with a required nullable field (a payment's
`reason`) would no longer be valid against its own schema; `restore_examples` puts
the models' own examples back, each only where the document holds that very example
without its nulls. `show_examples` then gives a request body and each 2xx answer the
first example of its schema as its media type's `example`, which is what Swagger UI
and ReDoc show first.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode
from starlette.routing import BaseRoute

__all__ = ["restore_examples", "show_examples"]

_REF = "#/components/schemas/{model}"
_MODES: tuple[JsonSchemaMode, ...] = ("validation", "serialization")


def restore_examples(schemas: dict[str, Any], routes: Sequence[BaseRoute]) -> None:
    """Put back in `schemas` the examples FastAPI took the nulls out of (see the module)."""
    for model in _models(routes):
        for mode in _MODES:
            generated = model.model_json_schema(ref_template=_REF, mode=mode)
            nested: dict[str, Any] = generated.pop("$defs", {})
            for name, schema in {model.__name__: generated, **nested}.items():
                examples = schema.get("examples")
                stated = schemas.get(name, {}).get("examples")
                if examples and stated == _without_nulls(examples):
                    schemas[name]["examples"] = examples


def show_examples(operation: dict[str, Any], schemas: Mapping[str, Any]) -> None:
    """Give a body and each 2xx answer the first example of its schema."""
    contents = [operation.get("requestBody", {}).get("content", {})]
    contents += [
        answer.get("content", {})
        for status, answer in operation.get("responses", {}).items()
        if status.startswith("2")
    ]
    for content in contents:
        for media in content.values():
            example = _example_of(media.get("schema", {}), schemas)
            if example is not None:
                media.setdefault("example", example)


def _example_of(schema: Mapping[str, Any], schemas: Mapping[str, Any]) -> Any:
    """The first example of the model `schema` refers to (directly, or as one option)."""
    for option in [schema, *schema.get("anyOf", ())]:
        ref = option.get("$ref", "")
        examples = schemas.get(ref.rsplit("/", 1)[-1], {}).get("examples") if ref else None
        if examples:
            return examples[0]
    return None


def _models(routes: Sequence[BaseRoute]) -> Iterator[type[BaseModel]]:
    """The models the routes take as bodies or answer with."""
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        types: list[Any] = [route.response_model]
        types += [answer.get("model") for answer in route.responses.values()]
        types += [param.field_info.annotation for param in route.dependant.body_params]
        for annotation in types:
            yield from _models_in(annotation)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The models an annotation names (`X`, `X | None`, `list[X]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for argument in typing.get_args(annotation):
        yield from _models_in(argument)


def _without_nulls(value: Any) -> Any:
    """`value` as FastAPI writes it in a document: without the keys whose value is null."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value

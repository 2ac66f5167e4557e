"""The services' OpenAPI documents, for the tests that hold them to what the services do.

`service_app(name, data_dir)` builds one service's app on SQLite without a broker;
`operations(document)` walks its operations; `schema_validator` checks a value
against a schema of the document, its references resolved within the document
(OpenAPI 3.1 schemas are JSON Schema 2020-12). `references(page)` lists the URLs a
docs page loads, and `CONTENT_TYPES` what each kind of asset is served as.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
from fastapi import FastAPI

SERVICES = ("auth", "users", "catalog", "orders", "payments", "logs", "shipping")
HTTP_METHODS = ("get", "put", "post", "delete", "patch")


class Operation(NamedTuple):
    """One operation of a document."""

    path: str
    method: str
    spec: dict[str, Any]


def service_app(name: str, data_dir: Path) -> FastAPI:
    """The app of service `name`, its data in `data_dir`, with no broker."""
    app_module = importlib.import_module(f"mercato.{name}.app")
    settings_module = importlib.import_module(f"mercato.{name}.settings")
    settings = settings_module.load_settings(data_dir=data_dir, broker_url="")
    app: FastAPI = app_module.create_app(settings)
    return app


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    """Every operation of `document`, in its order."""
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield Operation(path, method, item[method])


def schema_validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A JSON Schema validator of `schema`, whose `$ref`s point into `document`."""
    rooted = {**schema, "components": document.get("components", {})}
    return jsonschema.Draft202012Validator(
        rooted, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".json": "application/json",
}


class References(HTMLParser):
    """The URLs a page loads: `src`, `href` and ReDoc's `spec-url`, and Swagger UI's `url:`."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        loaded = ("src", "href", "spec-url")
        self.urls += [value for name, value in attrs if name in loaded and value]

    def handle_data(self, data: str) -> None:
        self.urls += re.findall(r"\burl: '([^']+)'", data)


def references(page: str) -> list[str]:
    """The URLs the HTML `page` loads."""
    parser = References()
    parser.feed(page)
    return parser.urls

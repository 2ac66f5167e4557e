"""A service's documentation pages, Swagger UI and ReDoc, from assets installed with it.

FastAPI's pages load Swagger UI and ReDoc from a CDN, so they are blank without the
internet, on a private network or behind a strict proxy, and they run whatever that
CDN serves that day. These pages load only the files the `fastapi-offline` package
installs with Mercato (a declared, locked dependency; why, in docs/decisions.md),
served by the service itself under its docs path, so the gateway forwards them like
the rest of the docs (and keeps them to operators by the same rule):

    /api/<service>/docs                              Swagger UI
    /api/<service>/docs/redoc                        ReDoc
    /api/<service>/docs/oauth2-redirect              Swagger UI's OAuth 2 redirect page
    /api/<service>/docs/assets/<tool>/<file>         Swagger UI's and ReDoc's files

Swagger UI's online validator badge is off (`validatorUrl: null`): it would send
the document to swagger.io. Assets are cached for a day: they change only with a
release of the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route

__all__ = ["ASSETS", "FILES", "STATIC", "docs_routes"]

# Where fastapi-offline installs the files (a plain directory of the installed package).
STATIC = Path(str(files("fastapi_offline") / "static"))
ASSETS = "assets"
# What each page loads, by the tool it belongs to: the URL's folder, and the file.
FILES: Mapping[str, tuple[str, ...]] = {
    "swagger-ui-dist": ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"),
    "redoc": ("redoc.standalone.js",),
}
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}
_CACHE = {"Cache-Control": "public, max-age=86400"}


def docs_routes(docs_url: str, openapi_url: str, title: str) -> list[BaseRoute]:
    """The pages and assets of the docs at `docs_url` of the document at `openapi_url`."""
    base = f"{docs_url}/{ASSETS}"
    swagger, redoc = f"{base}/swagger-ui-dist", f"{base}/redoc"
    favicon = f"{swagger}/favicon.png"
    oauth2_redirect = f"{docs_url}/oauth2-redirect"
    swagger_page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title}: API",
        swagger_js_url=f"{swagger}/swagger-ui-bundle.js",
        swagger_css_url=f"{swagger}/swagger-ui.css",
        swagger_favicon_url=favicon,
        oauth2_redirect_url=oauth2_redirect,
        swagger_ui_parameters={"validatorUrl": None},
    ).body
    redoc_page = get_redoc_html(
        openapi_url=openapi_url,
        title=f"{title}: API reference",
        redoc_js_url=f"{redoc}/redoc.standalone.js",
        redoc_favicon_url=favicon,
        with_google_fonts=False,
    ).body
    redirect_page = get_swagger_ui_oauth2_redirect_html().body
    routes: list[BaseRoute] = [
        Route(docs_url, _page(swagger_page), methods=["GET"]),
        Route(f"{docs_url}/redoc", _page(redoc_page), methods=["GET"]),
        Route(oauth2_redirect, _page(redirect_page), methods=["GET"]),
    ]
    for tool, names in FILES.items():
        for name in names:
            route = Route(f"{base}/{tool}/{name}", _file(STATIC / name), methods=["GET"])
            routes.append(route)
    return routes


def _page(body: bytes | memoryview) -> Any:
    content = bytes(body)

    async def page(_: Request) -> Response:
        return HTMLResponse(content)

    return page


def _file(path: Path) -> Any:
    media_type = _MEDIA_TYPES[path.suffix]

    async def asset(_: Request) -> Response:
        return FileResponse(path, media_type=media_type, headers=_CACHE)

    return asset

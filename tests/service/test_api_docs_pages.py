"""Service tests of the docs pages: Swagger UI and ReDoc from the package's own assets.

Every service serves both pages under its docs path. A page names no other origin
(no CDN, no fonts, no online validator), and every script, stylesheet and icon it
references is served by the service itself, with its content type, byte for byte
the vendored file whose checksum `static/assets.json` records.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mercato.chassis.web.docs import FILES, STATIC
from mercato.gateway.app import create_app as create_gateway
from mercato.gateway.settings import load_settings as load_gateway_settings
from tests.support.apps import running
from tests.support.documents import CONTENT_TYPES, SERVICES, references, service_app
from tests.support.tokens import TokenFactory


@pytest.mark.parametrize("service", SERVICES)
async def test_the_docs_pages_load_only_what_the_service_serves(
    service: str, tokens: TokenFactory, tmp_path: Path
) -> None:
    async with running(service_app(service, tmp_path), tokens) as client:
        for page_path in (f"/api/{service}/docs", f"/api/{service}/docs/redoc"):
            page = await client.get(page_path)
            assert page.status_code == 200
            assert page.headers["content-type"] == "text/html; charset=utf-8"
            assert "://" not in page.text, "the page names another origin"
            urls = references(page.text)
            assert any(url.endswith(".js") for url in urls)
            assert f"/api/{service}/openapi.json" in page.text
            for url in urls:
                assert url.startswith(f"/api/{service}/"), url
                answer = await client.get(url)
                assert answer.status_code == 200, url
                assert answer.headers["content-type"] == CONTENT_TYPES[Path(url).suffix], url


async def test_swagger_ui_sends_the_document_nowhere(tokens: TokenFactory, tmp_path: Path) -> None:
    async with running(service_app("catalog", tmp_path), tokens) as client:
        page = (await client.get("/api/catalog/docs")).text
    assert '"validatorUrl": null' in page  # the badge would post it to swagger.io
    urls = references(page)
    assert "/api/catalog/docs/assets/swagger-ui-dist/swagger-ui-bundle.js" in urls
    assert "/api/catalog/docs/assets/swagger-ui-dist/swagger-ui.css" in urls


async def test_the_assets_are_the_installed_files(tokens: TokenFactory, tmp_path: Path) -> None:
    assert set(FILES) == {"swagger-ui-dist", "redoc"}
    async with running(service_app("orders", tmp_path), tokens) as client:
        for tool, names in FILES.items():
            for name in names:
                answer = await client.get(f"/api/orders/docs/assets/{tool}/{name}")
                assert answer.status_code == 200, name
                assert answer.content == (STATIC / name).read_bytes(), name
                assert answer.headers["cache-control"] == "public, max-age=86400"


async def test_what_the_pages_do_not_load_is_not_served(
    tokens: TokenFactory, tmp_path: Path
) -> None:
    async with running(service_app("users", tmp_path), tokens) as client:
        missing = await client.get("/api/users/docs/assets/redoc/redoc.standalone.js.map")
        escape = await client.get("/api/users/docs/assets/redoc/../../docs.py")
        other = await client.get("/api/users/docs/assets/swagger-ui-dist/index.html")
        head = await client.head("/api/users/docs/assets/redoc/redoc.standalone.js")
    for answer in (missing, escape, other):
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
    assert head.status_code == 200 and not head.content


def test_the_gateway_has_no_docs_of_its_own() -> None:
    app = create_gateway(load_gateway_settings(broker_url=""), configure_logs=False)
    paths = {getattr(route, "path", "") for route in app.router.routes}
    assert not any("/docs" in path or "openapi" in path for path in paths)

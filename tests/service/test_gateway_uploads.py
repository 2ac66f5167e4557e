"""Service tests of files through the gateway: upload routes, and pictures served on.

The gateway bounds an upload route's body by `max_upload_bytes` and lets its
multipart media type through; every other route keeps the JSON rules. With a real
catalog behind it (uvicorn on a local port), an admin uploads a picture and anyone
fetches it with the catalog's caching headers intact: `Cache-Control` public and
immutable (even for a request with a token, which the gateway marks `no-store`
only when the answer says nothing), the `ETag`, a 304, and one `nosniff`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mercato.catalog.app import create_app as create_catalog
from mercato.catalog.settings import load_settings as catalog_settings
from tests.support.gateway import gateway, upstreams
from tests.support.orders import Server
from tests.support.pictures import API, decoded, noise_png, picture, upload
from tests.support.tokens import TokenFactory

IMMUTABLE = "public, max-age=31536000, immutable"
UPLOAD = "/api/catalog/products/p-1/images"


async def test_an_upload_route_takes_a_file_up_to_the_upload_bound(tokens: TokenFactory) -> None:
    admin = tokens.headers(roles=["admin"])
    file = {"file": ("a.png", b"x" * 3000, "image/png")}
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}, max_body_bytes=1000, max_upload_bytes=5000) as (
            http,
            _,
        ),
    ):
        taken = await http.post(UPLOAD, files=file, headers=admin)
        too_big = await http.post(UPLOAD, files={"file": ("a", b"x" * 6000)}, headers=admin)
        small = {"file": ("a.png", b"x" * 100, "image/png")}
        elsewhere = await http.post("/api/catalog/products", files=small, headers=admin)
        json_elsewhere = await http.post("/api/catalog/products", json={"x": "y" * 2000})
    assert taken.status_code == 200  # the echoing upstream's answer
    [hit] = catalog.hits
    assert hit["path"] == UPLOAD
    assert hit["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert len(hit["body"]) > 3000
    assert (too_big.status_code, elsewhere.status_code, json_elsewhere.status_code) == (
        413,
        415,
        413,
    )
    assert too_big.headers["content-type"] == "application/problem+json"


async def test_without_the_route_listed_an_upload_is_415(tokens: TokenFactory) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}, upload_routes="") as (http, _),
    ):
        refused = await http.post(UPLOAD, files={"file": ("a.png", b"x", "image/png")})
    assert refused.status_code == 415
    assert not catalog.hits


@pytest.fixture
async def catalog(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Server]:
    """A real catalog, served by uvicorn on a local port, verifying the test tokens."""
    app = create_catalog(
        catalog_settings(data_dir=tmp_path, broker_url="", max_upload_bytes=200_000)
    )
    app.state.runtime.verifier.keys = tokens.keys
    server = Server(app)
    await server.start()
    yield server
    await server.stop()


async def test_an_uploaded_picture_is_served_through_the_gateway_with_its_caching(
    tokens: TokenFactory, catalog: Server
) -> None:
    admin = tokens.headers(roles=["admin"])
    kettle = {"sku": "K-1", "title": "Kettle", "price": {"amount": 999, "currency": "EUR"}}
    async with gateway(tokens, {"catalog": [catalog]}, max_upload_bytes=200_000) as (http, _):
        product = (await http.post(f"{API}/products", json=kettle, headers=admin)).json()
        created = await upload(http, product["id"], picture(900, 600), admin)
        assert created.status_code == 201, created.text
        assert created.headers["location"] == created.json()["url"]  # a path, no internal host
        image = created.json()
        served = await http.get(image["variants"]["large"])
        signed_in = await http.get(image["url"], headers=tokens.headers(roles=["customer"]))
        etag = served.headers["etag"]
        revalidated = await http.get(image["variants"]["large"], headers={"If-None-Match": etag})
        head = await http.head(image["variants"]["thumb"])
        missing = await http.get(image["url"].replace(image["id"], "0" * 8 + image["id"][8:]))
        too_big = await upload(http, product["id"], noise_png(300, 300), admin)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/webp"
    assert served.headers["cache-control"] == IMMUTABLE
    assert served.headers.get_list("x-content-type-options") == ["nosniff"]
    assert decoded(served).size == (900, 600)
    assert signed_in.headers["cache-control"] == IMMUTABLE  # not the personal no-store
    assert revalidated.status_code == 304 and revalidated.content == b""
    assert revalidated.headers["cache-control"] == IMMUTABLE
    assert (head.status_code, head.content) == (200, b"")
    assert int(head.headers["content-length"]) > 0
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert too_big.status_code == 413

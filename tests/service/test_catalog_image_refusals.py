"""Service tests of what the catalog's image API refuses, as an attacker would try it.

Every refusal is a problem document, and stores nothing: not an image (whatever the
file's name and media type say), a format Pillow reads but the catalog does not
take, a damaged file, a decompression bomb, a body beyond the upload bound (with or
without a Content-Length), the wrong caller, a product without room, and paths
that try to reach outside the images.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mercato.catalog.app import create_app
from mercato.catalog.models import ImageVariant, ProductImage
from mercato.catalog.settings import load_settings
from tests.support.apps import running
from tests.support.pictures import API, header_only_png, noise_png, picture, upload
from tests.support.tokens import TokenFactory

KETTLE = {"sku": "KET-1", "title": "Copper Kettle", "price": {"amount": 4999, "currency": "EUR"}}
UPLOAD_BOUND = 64 * 1024
MISSING = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = load_settings(
        data_dir=tmp_path, broker_url="", max_upload_bytes=UPLOAD_BOUND, images_per_product=2
    )
    return create_app(settings)


@pytest.fixture
def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(roles=["admin"])


@pytest.fixture
async def product(client: httpx.AsyncClient, admin: dict[str, str]) -> Any:
    response = await client.post(f"{API}/products", json=KETTLE, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def named(body: dict[str, Any]) -> list[str]:
    return [error["field"] for error in body.get("errors", [])]


async def nothing_stored(app: FastAPI) -> bool:
    async with app.state.runtime.database.session() as session:
        counts = [
            (await session.execute(select(func.count()).select_from(model))).scalar_one()
            for model in (ProductImage, ImageVariant)
        ]
    return counts == [0, 0]


async def test_only_an_admin_uploads_or_deletes(
    app: FastAPI, client: httpx.AsyncClient, product: Any, tokens: TokenFactory
) -> None:
    customer = tokens.headers(roles=["customer"])
    problem(await upload(client, product["id"], picture(50, 50), {}), 401)
    problem(await upload(client, product["id"], picture(50, 50), customer), 403)
    bogus = {"Authorization": "Bearer not-a-token"}
    problem(await upload(client, product["id"], picture(50, 50), bogus), 401)
    path = f"{API}/products/{product['id']}/images/{MISSING}"
    problem(await client.delete(path), 401)
    problem(await client.delete(path, headers=customer), 403)
    assert await nothing_stored(app)


async def test_an_unknown_product_is_404(
    client: httpx.AsyncClient, admin: dict[str, str], product: Any
) -> None:
    problem(await upload(client, "no-such-product", picture(50, 50), admin), 404)
    problem(await client.get(f"{API}/products/no-such-product/images"), 404)
    problem(await client.delete(f"{API}/products/nope/images/{MISSING}", headers=admin), 404)
    here = f"{API}/products/{product['id']}/images"
    problem(await client.delete(f"{here}/{MISSING}", headers=admin), 404)
    problem(await client.delete(f"{here}/..%2F..%2Fetc", headers=admin), 404)


@pytest.mark.parametrize(
    "data",
    [
        b"GIF89a but not really a picture",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"%PDF-1.4\n%\xe2\xe3",
        picture(40, 40, fmt="BMP"),  # Pillow reads these; the catalog does not take them
        picture(40, 40, fmt="TIFF"),
        picture(300, 300)[:400],  # a PNG cut short
    ],
    ids=["text", "svg", "pdf", "bmp", "tiff", "truncated"],
)
async def test_what_is_not_a_png_jpeg_webp_or_gif_is_422_naming_the_file(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], product: Any, data: bytes
) -> None:
    response = await upload(client, product["id"], data, admin, name="x.png")
    body = problem(response, 422)
    assert named(body) == ["file"]
    assert await nothing_stored(app)


@pytest.mark.parametrize(
    "size",
    [(6000, 5000), (10_000, 10_000), (50_000, 50_000)],
    ids=["over-the-setting", "over-pillows-warning", "over-pillows-error"],
)
async def test_a_decompression_bomb_is_422_before_it_is_decoded(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    product: Any,
    size: tuple[int, int],
) -> None:
    bomb = header_only_png(*size)
    assert len(bomb) < 200
    body = problem(await upload(client, product["id"], bomb, admin), 422)
    assert named(body) == ["file"]
    assert await nothing_stored(app)


async def test_a_body_over_the_bound_is_413(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], product: Any
) -> None:
    within, big = noise_png(120, 120), noise_png(200, 200)
    assert len(within) < UPLOAD_BOUND - 1024 < UPLOAD_BOUND < len(big)
    assert (await upload(client, product["id"], within, admin)).status_code == 201
    await client.delete(f"{API}/products/{product['id']}", headers=admin)
    product = (await client.post(f"{API}/products", json=KETTLE, headers=admin)).json()
    problem(await upload(client, product["id"], big, admin), 413)

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=a.png\r\n\r\n"
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]
        yield b"\r\n--b--\r\n"

    response = await client.post(
        f"{API}/products/{product['id']}/images",
        content=streamed(),
        headers={**admin, "Content-Type": "multipart/form-data; boundary=b"},
    )
    problem(response, 413)
    assert await nothing_stored(app)
    # A JSON body streamed past its own bound is a 413 too, not a 500.
    payload = b'{"products": [' + b'{"title": "x", "price": 1},' * 50_000 + b"{}]}"

    async def json_stream() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    imported = await client.post(
        f"{API}/products/import",
        content=json_stream(),
        headers={**admin, "Content-Type": "application/json"},
    )
    problem(imported, 413)


async def test_a_form_without_exactly_one_file_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], product: Any
) -> None:
    url = f"{API}/products/{product['id']}/images"
    problem(await client.post(url, json={"file": "x"}, headers=admin), 415)
    missing = await client.post(url, data={"caption": "x"}, files={}, headers=admin)
    problem(missing, 415)  # a form without files is urlencoded by httpx
    other = await client.post(
        url, files={"picture": ("a.png", picture(20, 20), "image/png")}, headers=admin
    )
    assert named(problem(other, 422)) == ["picture"]
    extra = await client.post(
        url,
        data={"caption": "x"},
        files={"file": ("a.png", picture(20, 20), "image/png")},
        headers=admin,
    )
    assert named(problem(extra, 422)) == ["caption"]
    empty = await client.post(url, files={"file": ("a.png", b"", "image/png")}, headers=admin)
    assert named(problem(empty, 422)) == ["file"]


async def test_a_product_without_room_is_409(
    client: httpx.AsyncClient, admin: dict[str, str], product: Any
) -> None:
    for _ in range(2):
        assert (await upload(client, product["id"], picture(20, 20), admin)).status_code == 201
    problem(await upload(client, product["id"], picture(20, 20), admin), 409)
    full = {
        **KETTLE,
        "sku": "KET-2",
        "images": [f"https://cdn.example.com/{n}.jpg" for n in range(20)],
    }
    crowded = (await client.post(f"{API}/products", json=full, headers=admin)).json()
    problem(await upload(client, crowded["id"], picture(20, 20), admin), 409)


@pytest.mark.parametrize(
    "path",
    [
        f"{MISSING}/medium.webp",  # well-formed, but no such picture
        f"{MISSING}/huge.webp",
        f"{MISSING}/medium.jpg",
        "not-a-uuid/medium.webp",
        "..%2F..%2Fcatalog.db/medium.webp",
        f"{MISSING.upper()}/medium.webp",
    ],
)
async def test_serving_answers_404_for_anything_but_a_stored_variant(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(f"{API}/images/{path}")
    problem(response, 404)
    assert "cache-control" not in response.headers


async def test_a_product_may_not_list_made_up_local_paths_or_malformed_urls(
    client: httpx.AsyncClient, admin: dict[str, str], product: Any
) -> None:
    url = f"{API}/products/{product['id']}"
    malformed = ("http://[x/a.png", "https://user:secret@cdn.example.com/a.png", "http:// a")
    local = ("/etc/passwd", f"{API}/images/../../x", "javascript:alert(1)", "//evil.example")
    for bad in (*local, *malformed):
        response = await client.patch(url, json={"images": [bad]}, headers=admin)
        assert named(problem(response, 422)) == ["images.0"], bad
        thumbnail = await client.patch(url, json={"thumbnail": bad}, headers=admin)
        assert named(problem(thumbnail, 422)) == ["thumbnail"], bad


async def test_two_replicas_serve_each_others_pictures(
    tmp_path: Path, tokens: TokenFactory, admin: dict[str, str]
) -> None:
    settings = load_settings(data_dir=tmp_path, broker_url="")
    one, two = create_app(settings), create_app(settings)
    async with running(one, tokens) as first, running(two, tokens) as second:
        created = (await first.post(f"{API}/products", json=KETTLE, headers=admin)).json()
        image = (await upload(first, created["id"], picture(30, 30), admin)).json()
        assert (await second.get(image["url"])).status_code == 200


async def test_the_pixel_bound_counts_what_is_decoded(
    tmp_path: Path, tokens: TokenFactory, admin: dict[str, str]
) -> None:
    """libjpeg decodes a large JPEG at half its size here: 1200 x 900 pixels, within."""
    settings = load_settings(data_dir=tmp_path, broker_url="", image_max_pixels=1_100_000)
    app = create_app(settings)
    async with running(app, tokens) as client:
        product = (await client.post(f"{API}/products", json=KETTLE, headers=admin)).json()
        png = await upload(client, product["id"], picture(2400, 1800), admin)
        assert "2400x1800 pixels" in problem(png, 422)["detail"]
        jpeg = await upload(client, product["id"], picture(2400, 1800, fmt="JPEG"), admin)
        assert jpeg.status_code == 201, jpeg.text
        assert (jpeg.json()["width"], jpeg.json()["height"]) == (2400, 1800)

"""Service tests of product images: upload, serve, list, delete, and the demo's pictures.

The catalog runs in-process on SQLite in `tmp_path` without a broker (events stay in
the outbox); every image is a real file made by Pillow (`tests.support.pictures`).
The refusals are in `test_catalog_image_refusals.py`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import func, select

from mercato.catalog.app import create_app
from mercato.catalog.models import EVENTS, ImageVariant, ProductImage
from mercato.catalog.settings import load_settings
from tests.support.apps import running
from tests.support.pictures import API, BLUE, RED, decoded, picture, upload
from tests.support.tokens import TokenFactory

IMMUTABLE = "public, max-age=31536000, immutable"
KETTLE = {"sku": "KET-1", "title": "Copper Kettle", "price": {"amount": 4999, "currency": "EUR"}}


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(load_settings(data_dir=tmp_path, broker_url=""))


@pytest.fixture
def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(roles=["admin"])


async def new_product(client: httpx.AsyncClient, admin: dict[str, str], **fields: Any) -> Any:
    response = await client.post(f"{API}/products", json={**KETTLE, **fields}, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def uploaded(
    client: httpx.AsyncClient, product_id: str, admin: dict[str, str], data: bytes
) -> Any:
    response = await upload(client, product_id, data, admin)
    assert response.status_code == 201, response.text
    return response.json()


async def rows(app: FastAPI, model: type[ProductImage] | type[ImageVariant]) -> int:
    async with app.state.runtime.database.session() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def event_types(app: FastAPI) -> list[str]:
    table = EVENTS.outbox
    async with app.state.runtime.database.session() as session:
        payloads = await session.execute(select(table.c.payload).order_by(table.c.created_at))
        return [orjson.loads(payload)["type"] for payload in payloads.scalars()]


def colour_near(pixel: Any, colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(pixel[:3], colour, strict=True))


async def test_an_admin_uploads_a_picture_and_the_product_shows_it(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    product = await new_product(client, admin, images=["https://cdn.example.com/k.jpg"])
    response = await upload(client, product["id"], picture(1600, 1200), admin)
    assert response.status_code == 201, response.text
    image = response.json()
    base = f"{API}/images/{image['id']}"
    assert image == {
        "id": image["id"],
        "product_id": product["id"],
        "url": f"{base}/medium.webp",
        "variants": {
            "thumb": f"{base}/thumb.webp",
            "medium": f"{base}/medium.webp",
            "large": f"{base}/large.webp",
        },
        "width": 1600,
        "height": 1200,
        "content_type": "image/webp",
        "created_at": image["created_at"],
    }
    assert response.headers["location"] == image["url"]
    shown = (await client.get(f"{API}/products/{product['id']}")).json()
    assert shown["images"] == ["https://cdn.example.com/k.jpg", image["url"]]
    assert shown["thumbnail"] == image["variants"]["thumb"]
    assert (await event_types(app))[-1] == "product.updated"
    listed = (await client.get(f"{API}/products/{product['id']}/images")).json()
    assert listed == {"items": [image], "next_cursor": None}


async def test_each_variant_is_served_fitted_with_immutable_caching(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    product = await new_product(client, admin)
    image = await uploaded(client, product["id"], admin, picture(1600, 1200))
    sizes = {"thumb": (200, 150), "medium": (600, 450), "large": (1200, 900)}
    tags = set()
    for variant, size in sizes.items():
        response = await client.get(image["variants"][variant])  # anonymous
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/webp"
        assert response.headers["cache-control"] == IMMUTABLE
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-length"] == str(len(response.content))
        served = decoded(response)
        assert (served.format, served.size) == ("WEBP", size)
        assert colour_near(served.getpixel((5, size[1] // 2)), RED)
        assert colour_near(served.getpixel((size[0] - 5, size[1] // 2)), BLUE)
        tags.add(response.headers["etag"])
    assert len(tags) == 3 and all(t.startswith('"') and t.endswith('"') for t in tags)


async def test_a_held_tag_is_answered_304_without_the_bytes(
    client: httpx.AsyncClient, admin: dict[str, str], tokens: TokenFactory
) -> None:
    product = await new_product(client, admin)
    url = (await uploaded(client, product["id"], admin, picture(300, 200)))["variants"]["thumb"]
    first = await client.get(url)
    etag = first.headers["etag"]
    for held in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await client.get(url, headers={"If-None-Match": held})
        assert again.status_code == 304, held
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == IMMUTABLE
    stale = await client.get(url, headers={"If-None-Match": '"not-this-one"'})
    assert stale.status_code == 200 and stale.content == first.content
    head = await client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == etag
    # A signed-in shopper's browser sends its token: the picture is still public.
    personal = await client.get(url, headers=tokens.headers(roles=["customer"]))
    assert personal.headers["cache-control"] == IMMUTABLE


async def test_a_small_picture_is_never_enlarged(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    product = await new_product(client, admin)
    image = await uploaded(client, product["id"], admin, picture(120, 80, fmt="GIF"))
    assert (image["width"], image["height"]) == (120, 80)
    for url in image["variants"].values():
        assert decoded(await client.get(url)).size == (120, 80)


async def test_the_picture_is_turned_upright_and_stripped_of_its_metadata(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    # Stored sideways, with orientation 6 ("turn 90 degrees clockwise to show"),
    # a camera's name, a GPS position and a colour profile.
    data = picture(800, 400, fmt="JPEG", orientation=6, metadata=True)
    assert Image.open(io.BytesIO(data)).getexif()[0x010F] == "Camera Maker"
    product = await new_product(client, admin)
    image = await uploaded(client, product["id"], admin, data)
    assert (image["width"], image["height"]) == (400, 800)
    served = decoded(await client.get(image["variants"]["medium"]))
    assert served.size == (300, 600)
    assert colour_near(served.getpixel((150, 10)), RED)  # the left half is now on top
    assert colour_near(served.getpixel((150, 590)), BLUE)
    assert len(served.getexif()) == 0
    assert not {"exif", "xmp", "icc_profile"} & set(served.info)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF"])
async def test_transparency_is_kept(
    client: httpx.AsyncClient, admin: dict[str, str], fmt: str
) -> None:
    product = await new_product(client, admin)
    image = await uploaded(client, product["id"], admin, picture(64, 64, fmt=fmt, alpha=True))
    served = decoded(await client.get(image["variants"]["large"]))
    assert served.mode == "RGBA"
    alpha = served.getchannel("A")
    assert alpha.getpixel((10, 0)) == 0 and alpha.getpixel((10, 40)) == 255


async def test_deleting_a_picture_takes_it_off_the_product_and_the_web(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    product = await new_product(client, admin)
    first = await uploaded(client, product["id"], admin, picture(300, 300))
    second = await uploaded(client, product["id"], admin, picture(400, 300))
    shown = (await client.get(f"{API}/products/{product['id']}")).json()
    assert shown["images"] == [first["url"], second["url"]]
    assert shown["thumbnail"] == first["variants"]["thumb"]
    gone = await client.delete(
        f"{API}/products/{product['id']}/images/{first['id']}", headers=admin
    )
    assert gone.status_code == 204
    for url in first["variants"].values():
        assert (await client.get(url)).status_code == 404
    shown = (await client.get(f"{API}/products/{product['id']}")).json()
    assert shown["images"] == [second["url"]]
    assert shown["thumbnail"] == second["variants"]["thumb"]  # the next own picture
    await client.delete(f"{API}/products/{product['id']}/images/{second['id']}", headers=admin)
    shown = (await client.get(f"{API}/products/{product['id']}")).json()
    assert (shown["images"], shown["thumbnail"]) == ([], None)
    assert (await event_types(app)).count("product.updated") == 4
    assert (await rows(app, ProductImage), await rows(app, ImageVariant)) == (0, 0)


async def test_deleting_a_product_deletes_its_pictures(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    product = await new_product(client, admin)
    image = await uploaded(client, product["id"], admin, picture(300, 300))
    kept = await new_product(client, admin, sku="KET-2")
    other = await uploaded(client, kept["id"], admin, picture(300, 300))
    assert (await client.delete(f"{API}/products/{product['id']}", headers=admin)).is_success
    assert (await client.get(image["url"])).status_code == 404
    assert (await client.get(other["url"])).status_code == 200
    assert (await rows(app, ProductImage), await rows(app, ImageVariant)) == (1, 3)


async def test_an_admin_may_list_the_catalogs_own_pictures_by_path(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    product = await new_product(client, admin)
    image = await uploaded(client, product["id"], admin, picture(300, 300))
    other = await new_product(client, admin, sku="KET-2")
    paths = [image["variants"]["large"], "https://cdn.example.com/k.jpg"]
    patch = {"images": paths, "thumbnail": image["variants"]["thumb"]}
    response = await client.patch(f"{API}/products/{other['id']}", json=patch, headers=admin)
    assert response.status_code == 200, response.text
    assert (response.json()["images"], response.json()["thumbnail"]) == (paths, patch["thumbnail"])


async def test_every_demo_product_has_a_picture_of_its_own(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    app = create_app(load_settings(data_dir=tmp_path, broker_url="", demo_data=True))
    async with running(app, tokens) as client:
        page = (await client.get(f"{API}/products", params={"limit": 100})).json()["items"]
        assert len({p["thumbnail"] for p in page}) == len(page) == 100
        product = page[0]
        [listed] = product["images"]
        images = (await client.get(f"{API}/products/{product['id']}/images")).json()["items"]
        assert [(i["url"], i["variants"]["thumb"]) for i in images] == [
            (listed, product["thumbnail"])
        ]
        card = decoded(await client.get(listed))
        thumb = decoded(await client.get(product["thumbnail"]))
        assert (card.format, card.size, thumb.size) == ("WEBP", (400, 400), (200, 200))
        assert (await rows(app, ProductImage), await rows(app, ImageVariant)) == (300, 900)

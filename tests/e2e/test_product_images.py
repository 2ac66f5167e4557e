"""Product images end to end: uploaded by the admin, seen by anyone, through the gateway.

The system runs two catalog replicas on one SQLite file, so a picture stored by one is
served by either. The broker plays no part: NATS only.
"""

from __future__ import annotations

import io
import uuid

import httpx
import pytest
from PIL import Image

from tests.e2e.client import Account, Shop

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["nats"], indirect=True)]

IMMUTABLE = "public, max-age=31536000, immutable"


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 60)).save(out, "PNG")
    return out.getvalue()


def webp_size(response: httpx.Response) -> tuple[int, int]:
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "WEBP"
    return image.size


def test_an_admin_uploads_a_picture_and_anyone_fetches_it_cached(
    shop: Shop, admin: Account, customer: Account
) -> None:
    product = {
        "sku": f"IMG-{uuid.uuid4().hex[:10].upper()}",
        "title": "Pictured kettle",
        "price": {"amount": 2999, "currency": "USD"},
    }
    created = shop.http.post("/api/catalog/products", json=product, headers=admin.headers)
    assert created.status_code == 201, created.text
    url = f"/api/catalog/products/{created.json()['id']}/images"
    file = {"file": ("kettle.png", png(1000, 800), "image/png")}
    refused = shop.http.post(url, files=file, headers=customer.headers)
    assert refused.status_code == 403
    uploaded = shop.http.post(url, files=file, headers=admin.headers)
    assert uploaded.status_code == 201, uploaded.text
    image = uploaded.json()
    assert image["variants"]["medium"].startswith("/api/catalog/images/")

    with httpx.Client(base_url=str(shop.http.base_url), timeout=15.0, trust_env=False) as anyone:
        for variant, size in {"thumb": (200, 160), "medium": (600, 480)}.items():
            served = anyone.get(image["variants"][variant])
            assert served.status_code == 200
            assert served.headers["content-type"] == "image/webp"
            assert served.headers["cache-control"] == IMMUTABLE
            assert served.headers["x-content-type-options"] == "nosniff"
            assert webp_size(served) == size
        etag = served.headers["etag"]
        again = anyone.get(image["variants"]["medium"], headers={"If-None-Match": etag})
        assert (again.status_code, again.content) == (304, b"")
        shown = anyone.get(f"/api/catalog/products/{image['product_id']}").json()
    assert shown["images"] == [image["url"]]
    assert shown["thumbnail"] == image["variants"]["thumb"]


def test_the_demo_products_pictures_are_served(shop: Shop) -> None:
    page = shop.http.get("/api/catalog/products", params={"category": "laptops", "limit": 3})
    for product in page.json()["items"]:
        thumb = shop.http.get(product["thumbnail"])
        assert thumb.status_code == 200, product["thumbnail"]
        assert thumb.headers["cache-control"] == IMMUTABLE
        assert webp_size(thumb) == (200, 200)

"""Integration tests of product images on a real PostgreSQL: bytes in and out of `bytea`.

The pictures live in the catalog's database so that every replica serves every one;
here that database is PostgreSQL, as in production: an upload stores its variants,
a direct read (asyncpg) serves their exact bytes and answers a revalidation from the
tag alone, a second replica on the same database serves them too, and deleting the
product takes them away through the foreign keys' cascade. Each test gets a
database of its own (see `tests.support.servers.fresh_postgres_database`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mercato.catalog.app import create_app
from mercato.catalog.models import ImageVariant, ProductImage
from mercato.catalog.settings import load_settings
from tests.support.apps import running
from tests.support.pictures import API, decoded, picture, upload
from tests.support.servers import DATABASES, fresh_database
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration

KETTLE = {"sku": "KET-1", "title": "Copper Kettle", "price": {"amount": 4999, "currency": "EUR"}}


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    async with fresh_database(request.param, "catalog_images") as url:
        yield url


def catalog(database_url: str, **settings: Any) -> FastAPI:
    return create_app(load_settings(database_url=database_url, broker_url="", **settings))


async def stored(app: FastAPI) -> tuple[int, int]:
    async with app.state.runtime.database.session() as session:
        images = await session.execute(select(func.count()).select_from(ProductImage))
        variants = await session.execute(select(func.count()).select_from(ImageVariant))
        return int(images.scalar_one()), int(variants.scalar_one())


async def test_pictures_round_trip_through_postgresql_and_go_with_their_product(
    database_url: str, tokens: TokenFactory
) -> None:
    admin = tokens.headers(roles=["admin"])
    one, two = catalog(database_url), catalog(database_url)
    async with running(one, tokens) as first, running(two, tokens) as second:
        product = (await first.post(f"{API}/products", json=KETTLE, headers=admin)).json()
        response = await upload(first, product["id"], picture(1300, 700, fmt="JPEG"), admin)
        assert response.status_code == 201, response.text
        image = response.json()
        async with one.state.runtime.database.session() as session:
            large = await session.get(ImageVariant, (image["id"], "large"))
            assert large is not None
            kept = large.data
        served = await second.get(image["variants"]["large"])  # the other replica
        assert served.status_code == 200
        assert served.content == kept
        assert decoded(served).size == (1200, 646)
        again = await second.get(
            image["variants"]["large"], headers={"If-None-Match": served.headers["etag"]}
        )
        assert (again.status_code, again.content) == (304, b"")
        assert (await stored(one)) == (1, 3)
        assert (await first.delete(f"{API}/products/{product['id']}", headers=admin)).is_success
        assert (await stored(one)) == (0, 0)
        assert (await second.get(image["url"])).status_code == 404


async def test_the_demo_catalog_gets_its_pictures_on_postgresql(
    database_url: str, tokens: TokenFactory
) -> None:
    app = catalog(database_url, demo_data=True)
    async with running(app, tokens) as client:
        assert await stored(app) == (300, 900)
        product = (await client.get(f"{API}/products", params={"limit": 1})).json()["items"][0]
        thumb = await client.get(product["thumbnail"])
        assert thumb.status_code == 200
        assert decoded(thumb).size == (200, 200)

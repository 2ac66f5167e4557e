"""Service tests of the catalog's schema: migrations match the models, search stays in sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import Connection

from mercato.catalog.app import create_app
from mercato.catalog.models import CatalogBase
from mercato.catalog.settings import load_settings
from tests.support.apps import running
from tests.support.tokens import TokenFactory

API = "/api/catalog"
NOT_MODELLED = ("products_fts", "products_named_fts", "alembic_version_catalog")


def schema_differences(connection: Connection) -> list[Any]:
    """What autogenerate would change to make the database match the models."""

    def modelled(diff: Any) -> bool:
        table = diff[1] if isinstance(diff, tuple) else None
        name = getattr(table, "name", "") or ""
        return not name.startswith(NOT_MODELLED)

    differences = compare_metadata(MigrationContext.configure(connection), CatalogBase.metadata)
    return [d for d in differences if modelled(d)]


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(load_settings(data_dir=tmp_path, broker_url=""))


async def test_the_migrated_schema_matches_the_models(app: FastAPI) -> None:
    async with app.router.lifespan_context(app):
        engine = app.state.runtime.database.engine
        async with engine.connect() as connection:
            assert await connection.run_sync(schema_differences) == []


async def test_search_follows_edits_and_deletes(app: FastAPI, tokens: TokenFactory) -> None:
    admin = tokens.headers(roles=["admin"])
    async with running(app, tokens) as client:
        body = {
            "sku": "K-1",
            "title": "Copper Kettle",
            "price": {"amount": 4999, "currency": "EUR"},
        }
        created = (await client.post(f"{API}/products", json=body, headers=admin)).json()
        url = f"{API}/products/{created['id']}"

        async def found(q: str) -> list[str]:
            response = await client.get(f"{API}/products", params={"q": q})
            return [p["id"] for p in response.json()["items"]]

        assert await found("copper") == [created["id"]]
        await client.patch(url, json={"title": "Brass Kettle", "tags": ["vintage"]}, headers=admin)
        assert await found("copper") == []
        assert await found("brass vintage") == [created["id"]]
        await client.patch(url, json={"stock": 3}, headers=admin)
        assert await found("brass") == [created["id"]]
        await client.delete(url, headers=admin)
        assert await found("brass") == []
        assert await found("kettle") == []
    async with app.state.runtime.database.session() as session:
        # Each full-text table holds what the products hold, no more (`rank` 1:
        # checked against the products), after the edits and the delete.
        for table in ("products_fts", "products_named_fts"):
            check = f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)"
            await session.execute(text(check))

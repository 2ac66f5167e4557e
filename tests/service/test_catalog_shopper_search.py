"""Service tests of search as shoppers use it, on SQLite: prefixes, typos, facets, stock.

The checks themselves are `tests.support.catalog_search`'s, which the PostgreSQL
integration tests run too; the search cache's own behaviour is tested here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mercato.catalog.app import create_app
from mercato.catalog.settings import load_settings
from tests.support import catalog_search as checks
from tests.support.apps import running
from tests.support.catalog_search import CATALOG, PRODUCTS, Headers, found, load, search
from tests.support.clock import ManualClock
from tests.support.tokens import TokenFactory


@dataclass
class Shop:
    """A running catalog loaded with `CATALOG`, and an admin's headers."""

    app: FastAPI
    client: httpx.AsyncClient
    admin: Headers


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    app = create_app(load_settings(data_dir=tmp_path, broker_url=""))
    admin = tokens.headers(roles=["admin"])
    async with running(app, tokens) as client:
        await load(client, admin)
        yield Shop(app, client, admin)


async def test_the_last_word_is_a_prefix(shop: Shop) -> None:
    await checks.check_prefixes(shop.client)


async def test_a_typo_in_a_long_word_is_corrected(shop: Shop) -> None:
    await checks.check_typos(shop.client)


async def test_facets_count_for_the_query_each_ignoring_its_own_filter(shop: Shop) -> None:
    await checks.check_facets(shop.client)


async def test_the_brand_facet_shows_the_20_most_frequent(shop: Shop) -> None:
    await checks.check_many_brands(shop.client, shop.admin)


async def test_in_stock_keeps_what_can_be_sold(shop: Shop) -> None:
    await checks.check_in_stock(shop.client)


async def test_bad_values_are_422_naming_them(shop: Shop) -> None:
    await checks.check_bad_values(shop.client)


async def test_query_syntax_and_sql_in_q_are_only_words(shop: Shop) -> None:
    await checks.check_hostile_input(shop.client)


async def test_the_vocabulary_follows_every_write(shop: Shop) -> None:
    await checks.check_vocabulary_follows_writes(shop.app, shop.client, shop.admin)


async def test_the_migration_counts_the_words_of_stored_products(tmp_path: Path) -> None:
    await checks.check_search_migration(f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}")


async def test_in_stock_counts_reserved_units_as_gone(shop: Shop, tokens: TokenFactory) -> None:
    charger = (await search(shop.client, q="VoltKit 65W"))["items"][0]
    service = tokens.headers("service:orders", ["service"], typ="service", aud="catalog")
    order = {"order_id": "o-1", "items": [{"product_id": charger["id"], "quantity": 10}]}
    reserved = await shop.client.post("/api/catalog/reservations", json=order, headers=service)
    assert reserved.status_code == 201, reserved.text
    assert await found(shop.client, q="charger", in_stock="true") == {"ACC-3"}
    answer = await search(shop.client, q="charger", facets="true")
    assert answer["total"] == 3 and answer["facets"]["in_stock"] == 1


def cache_of(shop: Shop) -> ManualClock:
    """Put the app's search cache on a manual clock; the clock."""
    clock = ManualClock(1000.0)
    shop.app.state.runtime.context.search_cache.clock = clock
    return clock


async def test_search_answers_are_cached_for_a_few_seconds(
    shop: Shop, tokens: TokenFactory
) -> None:
    clock = cache_of(shop)
    cache = shop.app.state.runtime.context.search_cache
    first = await search(shop.client, q="charger", facets="true")
    assert len(cache) == 1
    # A reservation elsewhere (another replica, a checkout) shows once the answer expires.
    async with shop.app.state.runtime.database.session() as session:
        from sqlalchemy import text  # noqa: PLC0415

        await session.execute(text("UPDATE products SET on_hand = 0 WHERE sku = 'ACC-1'"))
        await session.commit()
    assert await search(shop.client, q="charger", facets="true") == first
    clock.advance(cache.seconds)
    fresh = await search(shop.client, q="charger", facets="true")
    assert fresh["facets"]["in_stock"] == first["facets"]["in_stock"] - 1


async def test_a_write_of_the_process_clears_its_cache(shop: Shop) -> None:
    cache_of(shop)
    assert await found(shop.client, q="kettle") == {"KIT-1"}
    await load(shop.client, shop.admin, [dict(CATALOG[-1], sku="KIT-2")])
    assert await found(shop.client, q="kettle") == {"KIT-1", "KIT-2"}


async def test_admins_ids_lookups_and_plain_listings_are_never_cached(
    shop: Shop, tokens: TokenFactory
) -> None:
    cache = shop.app.state.runtime.context.search_cache
    page = await search(shop.client, limit=3)
    ids = ",".join(p["id"] for p in page["items"])
    await search(shop.client, ids=ids, q="laptop")
    admin = await shop.client.get(PRODUCTS, params={"q": "laptop"}, headers=shop.admin)
    assert admin.status_code == 200 and "on_hand" in admin.json()["items"][0]
    assert len(cache) == 0
    shopper = await search(shop.client, q="laptop")
    assert len(cache) == 1 and "on_hand" not in shopper["items"][0]
    again = await shop.client.get(PRODUCTS, params={"q": "laptop"}, headers=shop.admin)
    assert "on_hand" in again.json()["items"][0]  # not the shopper's cached answer


async def test_the_cache_can_be_turned_off(tmp_path: Path, tokens: TokenFactory) -> None:
    app = create_app(load_settings(data_dir=tmp_path, broker_url="", search_cache_seconds=0))
    async with running(app, tokens) as client:
        await load(client, tokens.headers(roles=["admin"]))
        assert await found(client, q="kettle") == {"KIT-1"}
        assert len(app.state.runtime.context.search_cache) == 0


async def test_the_document_states_the_parameters_and_the_faceting_rule(shop: Shop) -> None:
    document = (await shop.client.get("/api/catalog/openapi.json")).json()
    listing = document["paths"][PRODUCTS]["get"]
    parameters = {p["name"]: p for p in listing["parameters"]}
    for flag in ("in_stock", "facets"):
        assert parameters[flag]["schema"]["type"] == "boolean"
        assert parameters[flag]["description"]
    description = listing["description"]
    assert "ignores its own filter" in description and "prefix" in description
    assert "`corrected`" in description and "in_stock=true" in description
    answer = document["components"]["schemas"]["ProductSearchPage"]["properties"]
    assert {"items", "next_cursor", "total", "facets", "corrected"} <= set(answer)

"""Integration tests of search as shoppers use it, on a real PostgreSQL.

The same checks as the SQLite service tests (`tests.support.catalog_search`), on a
database of their own per test (`fresh_postgres_database`): prefixes (`lap:*`, and
the vocabulary's words for a prefix the stemmer cut), typo corrections from the
vocabulary, facets and totals, `in_stock`, bad values and hostile input. And what
only PostgreSQL shows: concurrent writers of the same words neither deadlock nor lose
a count.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from mercato.catalog.app import create_app
from mercato.catalog.settings import load_settings
from tests.support import catalog_search as checks
from tests.support.apps import running
from tests.support.catalog_search import Headers, item, load, vocabulary
from tests.support.servers import DATABASES, fresh_database
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration


@dataclass
class Shop:
    """A running catalog on PostgreSQL loaded with `CATALOG`, and an admin's headers."""

    app: FastAPI
    client: httpx.AsyncClient
    admin: Headers


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    async with fresh_database(request.param, "catalog_search") as url:
        yield url


@pytest.fixture
async def shop(database_url: str, tokens: TokenFactory) -> AsyncIterator[Shop]:
    app = create_app(load_settings(database_url=database_url, broker_url=""))
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


async def test_the_migration_counts_the_words_of_stored_products(database_url: str) -> None:
    await checks.check_search_migration(database_url)


async def test_concurrent_writers_of_the_same_words_count_them_all(shop: Shop) -> None:
    # Each product has the same words in another order: without a common lock order
    # two transactions would each hold one word the other waits for.
    words = ["alpha", "bravo", "charlie", "delta", "echo"]

    async def create(n: int) -> int:
        title = " ".join(words[n % 5 :] + words[: n % 5])
        body = {"sku": f"W-{n}", "title": title, "price": {"amount": 100, "currency": "USD"}}
        response = await shop.client.post("/api/catalog/products", json=body, headers=shop.admin)
        return response.status_code

    statuses = await asyncio.gather(*(create(n) for n in range(20)))
    assert statuses == [201] * 20
    counts = await vocabulary(shop.app)
    assert all(counts[word] == 20 for word in words)
    imports = [
        [item(f"V-{n}-{i}", "Alpha Bravo", 100, "tests", 1) for i in range(3)] for n in range(4)
    ]
    await asyncio.gather(*(load(shop.client, shop.admin, products) for products in imports))
    assert (await vocabulary(shop.app))["alpha"] == 32

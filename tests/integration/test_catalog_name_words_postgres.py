"""On a real PostgreSQL: the names' words table (migration 0011) and the one-word pages
read from it (`catalog.name_words`).

- The triggers keep `product_name_words` equal to the lexemes of every product's
  name and brand through creates, edits (of the name, the brand, and of neither),
  imports that add and that rename, deletes and a truncate; the migration fills it
  from the products stored before it, and its downgrade removes it.
- A one-word first tier read from the table gives the pages the GIN index gives
  (`ix_products_search_named`, the path every other search takes), page after page:
  whole words, prefixes, a prefix that two words of one product start (read once), a
  plural, digits, a stop word, a word no product has.
- Hostile words on that path (its word is a bound parameter of `to_tsvector`, and a
  prefix's range bound is built from it in SQL): SQL, wildcards, a backslash, the
  longest word, a single letter or digit, a word not in ASCII, and the syntax of
  either backend, answered as words, with the products all still there.

Each on a database of the server's default encoding and on a `SQL_ASCII` one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import inspect, text

from mercato.catalog.app import create_app
from mercato.catalog.models import MIGRATIONS
from mercato.catalog.name_words import SINGLE_WORD_KEYS
from mercato.catalog.ranking import NAMED, read_tier, tier_parameters
from mercato.catalog.search import parse
from mercato.catalog.settings import load_settings
from mercato.catalog.store import Listing
from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from tests.support.apps import running
from tests.support.catalog_search import (
    CATALOG,
    LAPTOPS,
    PRODUCTS,
    Headers,
    check_hostile_input,
    found,
    item,
    load,
    store_catalog_at,
)
from tests.support.migrations import to_revision
from tests.support.servers import fresh_postgres_database
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration

EXPECTED = """
    SELECT DISTINCT unnest(tsvector_to_array(
        to_tsvector('english', coalesce(title, ''))
        || to_tsvector('english', coalesce(brand, '')))) AS word, pk
    FROM products
"""
# Titles whose words try the one-word path: plurals, digits, a product with two
# words that one prefix starts (`charg`: "charger", "charging"), a stop word of
# PostgreSQL's (`about`) that the query's parser keeps.
TITLES = [
    ("Volt Charger", "Volt"),
    ("Volt Charging Cable", "Volt"),
    ("Charger and Charging Dock", "Dockside"),
    ("Chair for the Desk", None),
    ("All About Desks", "Ember"),
    ("Charred Oak Board", "Ember"),
    ("4K Monitor 27", "Vista"),
    ("Monitors Stand", "Vista"),
    ("Laptops Sleeve 14", "Caddy"),
    ("Laptop 14 Pro", "Northwind"),
]
QUERIES = ["charg", "char", "charger", "chair", "ch", "4k", "27", "monitor", "monitors",
           "laptop", "laptops", "14", "volt", "vista", "about", "zzzqx"]  # fmt: skip


# The server's default (UTF8 here), and what `initdb` makes where no locale is set
# (the container suite's PostgreSQL): a bound the UTF8 database took was an error there.
ENCODINGS = {
    "utf8": "",
    "sql_ascii": "ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
}


@pytest.fixture(params=list(ENCODINGS))
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    async with fresh_postgres_database("catalog_words", ENCODINGS[request.param]) as url:
        yield url


@pytest.fixture
async def shop(
    database_url: str, tokens: TokenFactory
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, Headers]]:
    app = create_app(load_settings(database_url=database_url, broker_url=""))
    admin = tokens.headers(roles=["admin"])
    async with running(app, tokens) as client:
        yield app, client, admin


async def _words(app: FastAPI) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
    """The table's rows and the lexemes the products have now."""
    async with app.state.runtime.database.session() as session:
        table = await session.execute(text("SELECT word, pk FROM product_name_words"))
        expected = await session.execute(text(EXPECTED))
        return {(w, p) for w, p in table}, {(w, p) for w, p in expected}


async def _assert_in_step(app: FastAPI) -> set[tuple[str, int]]:
    rows, expected = await _words(app)
    assert rows == expected
    return rows


async def test_the_triggers_keep_the_words_of_every_write(
    shop: tuple[FastAPI, httpx.AsyncClient, Headers],
) -> None:
    app, client, admin = shop
    await load(client, admin)
    assert {w for w, _ in await _assert_in_step(app)} >= {"laptop", "northwind", "kestrel"}
    body = {"sku": "ZEP-1", "title": "Zeppelin Airship", "price": {"amount": 1, "currency": "USD"}}
    created = (await client.post(PRODUCTS, json=body, headers=admin)).json()
    assert "zeppelin" in {w for w, _ in await _assert_in_step(app)}
    url = f"{PRODUCTS}/{created['id']}"
    for change in ({"title": "Blimp Airship"}, {"brand": "Skyward"}, {"price": {"amount": 2,
                   "currency": "USD"}}, {"brand": None}):  # fmt: skip
        assert (await client.patch(url, json=change, headers=admin)).status_code == 200
        words = {w for w, _ in await _assert_in_step(app)}
    assert "blimp" in words and "zeppelin" not in words and "skyward" not in words
    await load(client, admin, [item("ZEP-2", "Airship Model", 500, "toys", 1)])
    await load(client, admin, [item("ZEP-2", "Balloon Model", 500, "toys", 1, brand="Lofty")])
    words = {w for w, _ in await _assert_in_step(app)}
    assert {"balloon", "lofti"} <= words
    assert (await client.delete(url, headers=admin)).status_code == 204
    assert "blimp" not in {w for w, _ in await _assert_in_step(app)}
    async with app.state.runtime.database.session() as session:
        await session.execute(text("TRUNCATE products CASCADE"))
        await session.commit()
    assert await _assert_in_step(app) == set()


async def _pages(app: FastAPI, q: str, *, one_word: bool) -> list[list[int]]:
    """Every page of three of the first tier of `q`, by the one-word path or the index."""
    reader = app.state.runtime.database.reader
    tiers = tier_parameters("postgresql", parse(q))
    assert tiers is not None
    values = dict(tiers[NAMED])
    assert bool(values.keys() & SINGLE_WORD_KEYS), f"{q!r} is not one word"
    if not one_word:
        values = {k: v for k, v in values.items() if k not in SINGLE_WORD_KEYS}
    pages: list[list[int]] = []
    after: tuple[Any, str] | None = None
    while True:
        listing = Listing(sort="relevance", limit=3, search=None, after=after)
        rows = await read_tier(reader, listing, NAMED, values, first_page=after is None)
        pages.append([row["sort_key"] for row in rows[:3]])
        if len(rows) <= 3:
            return pages
        after = (rows[2]["sort_key"], rows[2]["id"])


async def test_one_word_pages_are_the_pages_the_index_gives(
    shop: tuple[FastAPI, httpx.AsyncClient, Headers],
) -> None:
    app, client, admin = shop
    products = [
        item(f"W-{n}", title, 100 + n, "tests", 1, **({"brand": brand} if brand else {}))
        for n, (title, brand) in enumerate(TITLES * 3)
    ]
    await load(client, admin, [*CATALOG, *products])
    found = 0
    for q in QUERIES:
        pages = await _pages(app, q, one_word=True)
        assert pages == await _pages(app, q, one_word=False), q
        keys = [key for page in pages for key in page]
        assert len(keys) == len(set(keys)), f"{q!r}: a product twice"
        found += len(keys)
    assert found > 100  # the queries found products, on several pages each
    assert await _pages(app, "about", one_word=True) == [[]]  # a stop word there


# Words as typed: `lap%`, `9`, `zz`, `x'` and `lap'--` take the names' words path
# (`to_tsvector` of a parameter, then a prefix's range up to its last letter's
# successor); the others, not one ASCII word there, the GIN index's.
HOSTILE_WORDS = ["lap%", "lap_", "a\\", "z" * 200, "9", "zz", "x'", "lap'--", "été", "ä"]


async def test_hostile_single_words_are_only_words(
    shop: tuple[FastAPI, httpx.AsyncClient, Headers],
) -> None:
    app, client, admin = shop
    await load(client, admin)
    for q in HOSTILE_WORDS:
        response = await client.get(PRODUCTS, params={"q": q})
        assert response.status_code == 200, (q, response.text)
    assert await found(client, q="lap%") == await found(client, q="lap") == LAPTOPS
    assert await found(client, q="z" * 200) == set()
    await check_hostile_input(client)
    async with app.state.runtime.database.session() as session:
        words = await session.execute(text("SELECT count(*) FROM product_name_words"))
        assert words.scalar_one() > len(CATALOG)  # the table is all still there too


async def test_the_migration_fills_the_words_and_its_downgrade_drops_them(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        await store_catalog_at(db, "0010")
        await upgrade(db, MIGRATIONS, "catalog")
        async with db.session() as session:
            table = await session.execute(text("SELECT word, pk FROM product_name_words"))
            words = {(str(word), int(pk)) for word, pk in table}
            expected = {(str(word), int(pk)) for word, pk in await session.execute(text(EXPECTED))}
            assert words == expected
            assert "laptop" in {word for word, _ in words} and len(words) > len(CATALOG)
        async with db.engine.begin() as connection:
            await connection.run_sync(to_revision("catalog", MIGRATIONS, "0010", down=True))
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
            assert "product_name_words" not in tables
            await connection.execute(text("DELETE FROM products"))  # no trigger left to fire
            await connection.run_sync(to_revision("catalog", MIGRATIONS, "head"))
    finally:
        await db.dispose()

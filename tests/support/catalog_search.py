"""The shopper's search checks, run alike on SQLite (service), PostgreSQL and MariaDB
(integration).

`CATALOG` is a small shop whose numbers the checks know by heart: four laptops of
three brands (one out of stock) and a desk stand whose description mentions a laptop,
chargers, audio and kitchen products, prices in every price band. Each `check_*`
drives a running catalog (loaded with `load`) through its public API only and
asserts what a shopper sees, so both backends are held to the same answers.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from fastapi import FastAPI
from sqlalchemy import Table, insert, inspect, select, text

from mercato.catalog.models import MIGRATIONS, Product, SearchWord
from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from tests.support.migrations import to_revision

API = "/api/catalog"
PRODUCTS = f"{API}/products"
Headers = dict[str, str]


def item(
    sku: str, title: str, cents: int, category: str, stock: int, **more: Any
) -> dict[str, Any]:
    """A product in the import format (`price` in major units)."""
    return {
        "sku": sku,
        "title": title,
        "price": cents / 100,
        "category": category,
        "stock": stock,
        **more,
    }


CHARGER = ["charger"]
CATALOG = [
    item("LAP-1", "Northwind Aero 14 Laptop", 99999, "laptops", 5, brand="Northwind"),
    item("LAP-2", "Northwind Forge 16 Gaming Laptop", 199999, "laptops", 0, brand="Northwind"),
    item("LAP-3", "Kestrel Swift Laptop 13", 89999, "laptops", 3, brand="Kestrel"),
    item("LAP-4", "Vantix Titan 17 Laptop", 249999, "laptops", 1, brand="Vantix"),
    item(
        "ACC-1", "VoltKit 65W Charger", 3999, "accessories", 10, brand="VoltKit", tags=["charger"]
    ),
    item("ACC-2", "VoltKit 20W Charger", 1999, "accessories", 0, brand="VoltKit", tags=["charger"]),
    item("ACC-3", "Chargewell 100W Charger", 5999, "accessories", 4, brand="Chargewell"),
    item("ACC-4", "Braided Cable 2 m", 1999, "accessories", 7),
    item("AUD-1", "Sonara Drift Wireless Headphones", 14999, "audio", 2, brand="Sonara"),
    item("AUD-2", "Sonara Pulse Wireless Earbuds", 7999, "audio", 0, brand="Sonara"),
    item("AUD-3", "Kestrel Computing Headset", 29999, "audio", 6, brand="Kestrel"),
    item(
        "HOM-1",
        "Oak Desk Stand",
        7999,
        "home",
        9,
        description="Raises your laptop to eye level.",
    ),
    item("KIT-1", "Copper Kettle 1.5 L", 4500, "kitchen", 12, brand="Cuoco"),
]
LAPTOPS = {"LAP-1", "LAP-2", "LAP-3", "LAP-4", "HOM-1"}  # HOM-1 by its description


async def load(client: httpx.AsyncClient, admin: Headers, products: list[Any] = CATALOG) -> None:
    """Import `products` through the admin API."""
    response = await client.post(f"{PRODUCTS}/import", json={"products": products}, headers=admin)
    assert response.status_code == 200, response.text
    assert not response.json()["errors"]


async def search(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    """The answer of `GET /products` with `params`, which must be 200."""
    response = await client.get(PRODUCTS, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def found(client: httpx.AsyncClient, **params: Any) -> set[str]:
    """The SKUs of the first page (of 100) of `GET /products` with `params`."""
    body = await search(client, limit=100, **params)
    assert body["next_cursor"] is None
    return {p["sku"] for p in body["items"]}


async def check_prefixes(client: httpx.AsyncClient) -> None:
    """The last word matches as a prefix, and so does a word ending in `*`."""
    assert await found(client, q="lap") == LAPTOPS
    assert await found(client, q="LAPT") == LAPTOPS
    assert await found(client, q="gaming lap") == {"LAP-2"}
    assert await found(client, q="headph") == {"AUD-1"}
    assert await found(client, q="wire") == {"AUD-1", "AUD-2"}
    assert await found(client, q="lap* gaming") == {"LAP-2"}
    assert await found(client, q="lap gaming") == set()  # only the last word is a prefix
    assert await found(client, q='"lap"') == set()  # nor a quoted one
    assert await found(client, q="laptop -gam") == LAPTOPS  # nor an excluded one
    assert await found(client, q="laptop -gam*") == LAPTOPS - {"LAP-2"}
    # A prefix that the stemmer cuts (`computing` is stored as `comput`) still finds.
    for typed in ("computi", "computin", "computing"):
        answer = await search(client, q=typed)
        assert {p["sku"] for p in answer["items"]} == {"AUD-3"}, typed
        assert "corrected" not in answer


async def check_typos(client: httpx.AsyncClient) -> None:
    """A word of 5+ letters that matches nothing is replaced by one within one edit."""
    for typed, corrected in [
        ("labtop", "laptop"),  # replaced letter
        ("lpatop", "laptop"),  # swapped letters
        ("laptopp", "laptop"),  # added letter
        ("Kestral laptop", "kestrel laptop"),  # not the last word
        ("wireless headphnes", "wireless headphones"),  # a missing letter, as a prefix
        ("chargr", "charger"),
    ]:
        answer = await search(client, q=typed, limit=100)
        assert answer.get("corrected") == corrected, typed
        assert {p["sku"] for p in answer["items"]} == await found(client, q=corrected), typed
    assert await found(client, q="labto") == LAPTOPS  # a typo in a prefix
    # 4 letters, two edits, quoted, nothing near it:
    for nothing in ("dsek", "labtopp", '"labtop"', "zeppelin"):
        answer = await search(client, q=nothing)
        assert answer == {"items": [], "next_cursor": None}, nothing
    answer = await search(client, q="laptop")
    assert "corrected" not in answer
    # A corrected search pages like any other.
    pages, cursor = [], None
    while True:
        page = await search(client, q="labtop", limit=2, **({"cursor": cursor} if cursor else {}))
        assert page["corrected"] == "laptop"
        pages += [p["sku"] for p in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(pages) == len(set(pages)) and set(pages) == LAPTOPS


def _bands(*counts: int) -> list[dict[str, Any]]:
    bounds = [0, 2500, 5000, 10000, 25000, 50000, None]
    return [
        {"min": low, "max": high, "count": count}
        for (low, high), count in zip(itertools.pairwise(bounds), counts, strict=True)
    ]


def _brands(**counts: int) -> list[dict[str, Any]]:
    return [{"value": name, "count": count} for name, count in counts.items()]


async def check_facets(client: httpx.AsyncClient) -> None:
    """Totals and facets for the query and filters, each facet ignoring its own filter."""
    plain = await search(client, q="laptop")
    assert set(plain) == {"items", "next_cursor"}  # nothing counted unless asked
    answer = await search(client, q="laptop", facets="true", limit=1)
    assert answer["total"] == 5 and len(answer["items"]) == 1 and answer["next_cursor"]
    brands = _brands(Northwind=2, Kestrel=1, Vantix=1)  # the stand has no brand
    assert answer["facets"] == {"brand": brands, "price": _bands(0, 0, 1, 0, 0, 4), "in_stock": 4}
    northwind = await search(client, q="laptop", facets="true", brand="NORTHWIND")
    assert northwind["total"] == 2 == len(northwind["items"])
    assert northwind["facets"] == {
        "brand": brands,  # the alternatives to the brand chosen
        "price": _bands(0, 0, 0, 0, 0, 2),
        "in_stock": 1,
    }
    dear = await search(client, q="laptop", facets="true", min_price=100000)
    assert dear["total"] == 2
    assert dear["facets"] == {
        "brand": _brands(Northwind=1, Vantix=1),
        "price": _bands(0, 0, 1, 0, 0, 4),  # the other price bands stay in view
        "in_stock": 1,
    }
    stocked = await search(client, q="laptop", facets="true", in_stock="true")
    assert stocked["total"] == 4 == len(stocked["items"])
    assert all(p["stock"] > 0 for p in stocked["items"])
    assert stocked["facets"] == {
        "brand": _brands(Kestrel=1, Northwind=1, Vantix=1),
        "price": _bands(0, 0, 1, 0, 0, 3),
        "in_stock": 4,
    }
    everything = await search(client, facets="true", limit=2)
    assert everything["total"] == len(CATALOG)
    assert everything["facets"]["brand"][:4] == _brands(Kestrel=2, Northwind=2, Sonara=2, VoltKit=2)
    assert everything["facets"]["price"] == _bands(2, 2, 3, 1, 1, 4)
    assert everything["facets"]["in_stock"] == 10
    category = await search(client, category="audio", facets="true", max_price=15000)
    assert category["total"] == 2
    assert category["facets"]["brand"] == _brands(Sonara=2)
    assert category["facets"]["price"] == _bands(0, 0, 1, 1, 1, 0)
    none = await search(client, q="laptop", facets="true", brand="nobody")
    assert none["items"] == [] and none["total"] == 0 and none["facets"]["brand"] == brands


async def check_many_brands(client: httpx.AsyncClient, admin: Headers) -> None:
    """The brand facet shows the 20 most frequent brands, most first, then by name."""
    stickers = [
        item(f"STK-{n}", f"Sticker {n}", 199, "stickers", 1, brand=f"Brand {n % 23:02d}")
        for n in range(30)
    ]
    await load(client, admin, stickers)
    answer = await search(client, category="stickers", facets="true")
    brands = answer["facets"]["brand"]
    assert answer["total"] == 30 and len(brands) == 20
    assert brands[:7] == _brands(**{f"Brand {n:02d}": 2 for n in range(7)})
    assert [b["value"] for b in brands[7:]] == [f"Brand {n:02d}" for n in range(7, 20)]


async def check_in_stock(client: httpx.AsyncClient) -> None:
    """`in_stock=true` keeps only what can be sold; false is the same as leaving it out."""
    assert await found(client, q="charger", in_stock="true") == {"ACC-1", "ACC-3"}
    assert await found(client, q="charger", in_stock="false") == {"ACC-1", "ACC-2", "ACC-3"}
    stocked = await found(client, in_stock="true")
    assert stocked == {p["sku"] for p in CATALOG if p["stock"] > 0}


async def check_bad_values(client: httpx.AsyncClient) -> None:
    """A bad value of the new parameters is a 422 problem naming it."""
    for params, field in [
        ({"facets": "maybe"}, "facets"),
        ({"in_stock": "x"}, "in_stock"),
        ({"q": "laptop", "facets": ""}, "facets"),
        ({"in_stock": "2"}, "in_stock"),
    ]:
        response = await client.get(PRODUCTS, params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
        assert field in {e["field"] for e in response.json()["errors"]}


HOSTILE = [
    "'); DROP TABLE products; --",
    'lap" OR "1"="1',
    "NEAR(lap top)",
    "title:laptop",
    "* OR *",
    "laptop AND NOT",
    "lap:* | !x & <-> y",
    "^lap",
    "(((",
    "\\'",
    "a" * 200,
    " ".join(["abcdefgh"] * 20),
    "ノートパソコン",
]


async def check_hostile_input(client: httpx.AsyncClient) -> None:
    """Query syntax of either backend, or SQL, in `q` is only words: no error, no effect."""
    for q in HOSTILE:
        for facets in ("false", "true"):
            response = await client.get(PRODUCTS, params={"q": q[:200], "facets": facets})
            assert response.status_code == 200, (q, response.text)
    nul = await client.get(PRODUCTS, params={"q": "lap\x00top"})
    assert nul.status_code == 400  # refused before any route (no driver takes a NUL)
    assert await found(client, q="laptop") == LAPTOPS  # the products are all still there
    assert await found(client, q="title:laptop") == set()  # `title` is a word, not a column
    assert await found(client, q="laptop lap:*") == LAPTOPS


async def vocabulary(app: FastAPI) -> dict[str, int]:
    """The search vocabulary as stored: each word with its number of products."""
    async with app.state.runtime.database.session() as session:
        rows = await session.execute(select(SearchWord.word, SearchWord.products))
        return {str(word): int(products) for word, products in rows}


async def check_vocabulary_follows_writes(
    app: FastAPI, client: httpx.AsyncClient, admin: Headers
) -> None:
    """Creates, edits, imports and deletes keep the vocabulary's counts exact."""
    before = await vocabulary(app)
    assert before["laptop"] == 4 and before["northwind"] == 2 and "raises" not in before
    body = {
        "sku": "ZEP-1",
        "title": "Zeppelin Airship",
        "price": {"amount": 100, "currency": "USD"},
    }
    created = (await client.post(PRODUCTS, json=body, headers=admin)).json()
    assert (await search(client, q="zepelin"))["corrected"] == "zeppelin"
    again = await client.post(PRODUCTS, json={**body, "title": "Zeppelin Two"}, headers=admin)
    assert again.status_code == 409  # a refused write counts nothing
    assert (await vocabulary(app))["zeppelin"] == 1
    url = f"{PRODUCTS}/{created['id']}"
    edited = await client.patch(url, json={"title": "Blimp Airship"}, headers=admin)
    assert edited.status_code == 200
    words = await vocabulary(app)
    assert "zeppelin" not in words and words["blimp"] == 1 and words["airship"] == 1
    assert await search(client, q="zepelin") == {"items": [], "next_cursor": None}
    await load(client, admin, [item("ZEP-2", "Airship Model", 500, "toys", 1)])
    assert (await vocabulary(app))["airship"] == 2
    await load(client, admin, [item("ZEP-2", "Balloon Model", 500, "toys", 1)])
    words = await vocabulary(app)
    assert words["airship"] == 1 and words["balloon"] == 1 and words["toys"] == 1
    assert (await client.delete(url, headers=admin)).status_code == 204
    words = await vocabulary(app)
    assert "airship" not in words and "blimp" not in words
    assert {w: n for w, n in words.items() if w not in ("balloon", "model", "toys")} == before


def stored(product: Mapping[str, Any], n: int) -> dict[str, Any]:
    """A row of the products table for one of `CATALOG`'s products (for migrations)."""
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    return {
        "id": str(uuid.UUID(int=n + 1)),
        "sku": product["sku"],
        "title": product["title"],
        "brand": product.get("brand"),
        "description": product.get("description", ""),
        "price_amount": round(product["price"] * 100),
        "currency": "USD",
        "category": None,
        "tags": product.get("tags", []),
        "attributes": {},
        "images": [],
        "thumbnail": None,
        "on_hand": product["stock"],
        "reserved": 0,
        "rating": None,
        "created_at": moment,
        "updated_at": moment,
    }


async def store_catalog_at(db: Database, revision: str) -> None:
    """The schema at `revision`, with `CATALOG`'s products stored (to test what follows)."""
    async with db.engine.begin() as connection:
        await connection.run_sync(to_revision("catalog", MIGRATIONS, revision))
        rows = [stored(p, n) for n, p in enumerate(CATALOG)]
        await connection.execute(insert(cast(Table, Product.__table__)), rows)


async def check_search_migration(url: str) -> None:
    """0003 counts the words of the products stored before it; its downgrade undoes it."""
    db = Database(url)
    try:
        await store_catalog_at(db, "0002")
        await upgrade(db, MIGRATIONS, "catalog")
        async with db.session() as session:
            words = dict(list(await session.execute(select(SearchWord.word, SearchWord.products))))
            assert words["laptop"] == 4 and words["kestrel"] == 2 and words["charger"] == 3
            search = "SELECT count(*) FROM products WHERE search @@ to_tsquery('english', 'lap:*')"
            if db.dialect == "sqlite":
                search = "SELECT count(*) FROM products_fts WHERE products_fts MATCH '\"lap\"*'"
            if db.dialect == "mysql":
                search = (
                    "SELECT count(*) FROM products "
                    "WHERE MATCH(search) AGAINST('+lap*' IN BOOLEAN MODE)"
                )
            assert (await session.execute(text(search))).scalar_one() == len(LAPTOPS)
        async with db.engine.begin() as connection:
            await connection.run_sync(to_revision("catalog", MIGRATIONS, "0002", down=True))
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
            assert "search_words" not in tables
            await connection.run_sync(to_revision("catalog", MIGRATIONS, "head"))
    finally:
        await db.dispose()

"""On a real PostgreSQL and MariaDB, a category's pages by newest and by price read an
index in order.

A catalog of 4,000 products in 40 categories, analyzed; the plan is the database's
own `EXPLAIN` of the statement the service runs, on the first page and after a
cursor: on PostgreSQL an index scan of the category's index and no Sort node; on
MariaDB a `range` of that index (a page after a cursor starts at the cursor, rather
than reading the category's rows from the top) and no filesort. An import job runs
there too. A search's first tier by relevance (`catalog.ranking`) reads the index of
the products' names and brands on PostgreSQL (for one word, the names' words table of
migration 0011), never the primary key backwards, and a full-text index on MariaDB.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import store
from mercato.catalog.app import create_app
from mercato.catalog.ranking import NAMED
from mercato.catalog.settings import load_settings
from tests.support.apps import running
from tests.support.listing_plans import listing_plan, search_plan
from tests.support.servers import DATABASES, fresh_database
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration

API = "/api/catalog"
INDEXES: dict[store.Sort, str] = {
    "newest": "ix_products_category_created_at_id",
    "price_asc": "ix_products_category_price_amount_id",
    "price_desc": "ix_products_category_price_amount_id",
}
# Many categories, as in a shop: each a fortieth of the catalog, so that walking the
# whole catalog's order and skipping the other categories' products costs what it
# does in a real one (with 8, PostgreSQL rightly found it about as cheap).
CATEGORIES = ("kitchen", "toys", *(f"category-{n}" for n in range(38)))


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    async with fresh_database(request.param, "catalog") as url:
        yield url


def products(count: int) -> list[dict[str, Any]]:
    return [
        {"sku": f"P-{n:05d}", "title": f"Thing {n}" + (" kettle" if n % 100 == 7 else ""),
         "price": 1 + (n * 37) % 500,
         "stock": n % 9, "category": CATEGORIES[n % len(CATEGORIES)]}
        for n in range(count)
    ]  # fmt: skip


async def middle(session: AsyncSession, sort: store.Sort) -> tuple[Any, str]:
    """The sort key and id of a product in the middle of category `kitchen`'s pages."""
    key = "created_at" if sort == "newest" else "price_amount"
    sql = f"SELECT {key}, id FROM products WHERE category = 'kitchen' ORDER BY {key}, id"
    row = (await session.execute(text(sql + " LIMIT 1 OFFSET 50"))).one()
    return row[0], row[1]


async def test_category_listings_read_their_index_and_a_job_imports(
    database_url: str, tokens: TokenFactory
) -> None:
    app = create_app(load_settings(database_url=database_url, broker_url=""))
    admin = tokens.headers("admin-pg", roles=["admin"])
    async with running(app, tokens) as client:
        answer = await client.post(
            f"{API}/imports", json={"products": products(4000)}, headers=admin
        )
        assert answer.status_code == 202
        for _ in range(600):
            job = (await client.get(answer.headers["location"], headers=admin)).json()
            if job["finished"]:
                break
            await asyncio.sleep(0.05)
        assert (job["state"], job["done"], job["created"]) == ("done", 4000, 4000)
        page = (await client.get(f"{API}/products", params={"category": "toys"})).json()
        assert len(page["items"]) == 20 and page["next_cursor"]
        async with app.state.runtime.database.session() as session:
            mariadb = store.dialect(session) == "mysql"
            await session.execute(text("ANALYZE TABLE products" if mariadb else "ANALYZE products"))
            for sort, index in INDEXES.items():
                for after in (None, await middle(session, sort)):
                    plan = await listing_plan(session, sort, after=after)
                    if mariadb:
                        expected = "range" if after is not None else "ref"
                        assert plan.startswith(f"type={expected} key={index} "), plan
                        assert "filesort" not in plan, plan
                        continue
                    assert "Index Scan" in plan and f"using {index} on products" in plan, plan
                    assert "Sort" not in plan.replace("Sort Key", ""), plan
            if not mariadb:
                await session.execute(text("ANALYZE product_name_words"))
            for key in (None, 1000):
                for q in ("kettle", "thing kettle"):
                    plan = await search_plan(session, q, NAMED, after=key)
                    if mariadb:
                        assert "type=fulltext" in plan, plan
                        continue
                    assert "Index Scan Backward using pk_products" not in plan, plan
                    if q == "kettle":  # one word: its products in key order
                        assert "on pk_product_name_words" in plan, plan
                        assert "ix_products_search_named" not in plan, plan
                    else:
                        assert "Bitmap Index Scan on ix_products_search_named" in plan, plan

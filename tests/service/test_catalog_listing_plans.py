"""A category's pages by newest and by price read an index in order on SQLite, and so
does a search by relevance.

The plan is SQLite's own (`EXPLAIN QUERY PLAN` of the statement the service runs):
it must search the category's index and need no temporary B-tree to sort, on the
first page and on a page after a cursor (keyset paging). A tier of a search by
relevance (`catalog.ranking`) must be an FTS5 table's matches in the order of its
rowid (the names' own table for the first tier), the outer loop, with no temporary
B-tree: then the page ends after 21 rows whatever the number of matches.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from mercato.catalog import store
from mercato.catalog.app import create_app
from mercato.catalog.ranking import NAMED, TIERS, Tier
from mercato.catalog.settings import load_settings
from tests.support.listing_plans import listing_plan, search_plan

INDEXES = {
    "newest": "ix_products_category_created_at_id",
    "price_asc": "ix_products_category_price_amount_id",
    "price_desc": "ix_products_category_price_amount_id",
}


@pytest.mark.parametrize("after", [False, True], ids=["first page", "after a cursor"])
@pytest.mark.parametrize("sort", list(INDEXES))
async def test_a_category_listing_reads_its_index_in_order(
    tmp_path: Path, sort: store.Sort, after: bool
) -> None:
    app: FastAPI = create_app(load_settings(data_dir=tmp_path, broker_url=""))
    async with app.router.lifespan_context(app), app.state.runtime.database.session() as session:
        key: Any = datetime(2026, 1, 1, tzinfo=UTC) if sort == "newest" else 5000
        plan = await listing_plan(session, sort, after=(key, "an-id") if after else None)
    assert f"USING INDEX {INDEXES[sort]} (category=?" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("after", [None, 5000], ids=["first page", "after a cursor"])
@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("q", ["laptop", "gaming lap", '"usb c" -cable'])
async def test_a_search_tier_reads_the_full_text_index_in_order(
    tmp_path: Path, q: str, tier: Tier, after: int | None
) -> None:
    app: FastAPI = create_app(load_settings(data_dir=tmp_path, broker_url=""))
    async with app.router.lifespan_context(app), app.state.runtime.database.session() as session:
        plan = await search_plan(session, q, tier, after=after)
    steps = plan.splitlines()
    # The first tier reads the names' own table, unless the search excludes a word.
    table = "products_named_fts" if tier == NAMED and "-" not in q else "products_fts"
    assert steps[0].startswith(f"SCAN {table} VIRTUAL TABLE"), plan
    assert steps[1] == "SEARCH products USING INTEGER PRIMARY KEY (rowid=?)", plan
    assert "TEMP B-TREE" not in plan, plan

"""The query plans of a category's listings, as the database would run them.

`listing_plan(session, sort, after=...)` compiles the catalog's own listing statement
(`store._listing_query`, the one the service runs) for the session's database and
asks it to EXPLAIN it: SQLite's `EXPLAIN QUERY PLAN` lines, PostgreSQL's text plan,
or MariaDB's table, a line per row (`type=range key=<index> extra=<Extra>`).
`search_plan(session, q, tier, after=...)` does the same for a page of one tier of a
search by relevance (`ranking._tier_query`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import ranking, store
from mercato.catalog.ranking import Tier, tier_parameters
from mercato.catalog.search import parse
from mercato.chassis.data.driver_reads import DirectQuery

__all__ = ["listing_plan", "search_plan"]


async def listing_plan(
    session: AsyncSession, sort: store.Sort, *, after: tuple[Any, str] | None
) -> str:
    """The plan of a page of category `kitchen` listed by `sort`, the first or `after` one.

    `after` is the sort key and id of the product the page follows.
    """
    dialect = store.dialect(session)
    query = store._listing_query(dialect, sort, False, frozenset({"category"}), after is not None)
    params: dict[str, Any] = {"category": "kitchen"}
    if after is not None:
        params["after_key"], params["after_id"] = after
    return await _explained(session, query, params)


async def search_plan(session: AsyncSession, q: str, tier: Tier, *, after: int | None) -> str:
    """The plan of a page of `tier` of a search for `q`, the first or the one after `after`."""
    dialect = store.dialect(session)
    tiers = tier_parameters(dialect, parse(q))
    assert tiers is not None, f"{q!r} is no search"
    query = ranking._tier_query(
        dialect, frozenset(), after is not None, tier, frozenset(tiers[tier])
    )
    params: dict[str, Any] = {**tiers[tier]}
    if after is not None:
        params["after_key"] = after
    return await _explained(session, query, params)


async def _explained(session: AsyncSession, query: DirectQuery[Any], given: dict[str, Any]) -> str:
    dialect = store.dialect(session)
    compiled = query.statement.compile(dialect=session.get_bind().dialect)
    params: dict[str, Any] = {**compiled.params, "limit": 21, **given}
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    values = tuple(params[name] for name in compiled.positiontup or ())
    connection = await session.connection()
    result = await connection.exec_driver_sql(prefix + str(compiled), values)
    if dialect == "mysql":
        return "\n".join(f"type={row.type} key={row.key} extra={row.Extra}" for row in result.all())
    return "\n".join(str(row[-1]) for row in result.all())

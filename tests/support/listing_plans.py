"""The query plans of a category's listings, as the database would run them.

`listing_plan(session, sort, after=...)` compiles the catalog's own listing statement
(`store._listing_query`, the one the service runs) for the session's database and
asks it to EXPLAIN it: SQLite's `EXPLAIN QUERY PLAN` lines, PostgreSQL's text plan,
or MariaDB's table, a line per row (`type=range key=<index> extra=<Extra>`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import store

__all__ = ["listing_plan"]


async def listing_plan(
    session: AsyncSession, sort: store.Sort, *, after: tuple[Any, str] | None
) -> str:
    """The plan of a page of category `kitchen` listed by `sort`, the first or `after` one.

    `after` is the sort key and id of the product the page follows.
    """
    dialect = store.dialect(session)
    query = store._listing_query(dialect, sort, False, frozenset({"category"}), after is not None)
    compiled = query.statement.compile(dialect=session.get_bind().dialect)
    params: dict[str, Any] = {**compiled.params, "category": "kitchen", "limit": 21}
    if after is not None:
        params["after_key"], params["after_id"] = after
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    values = tuple(params[name] for name in compiled.positiontup or ())
    connection = await session.connection()
    result = await connection.exec_driver_sql(prefix + str(compiled), values)
    if dialect == "mysql":
        return "\n".join(f"type={row.type} key={row.key} extra={row.Extra}" for row in result.all())
    return "\n".join(str(row[-1]) for row in result.all())

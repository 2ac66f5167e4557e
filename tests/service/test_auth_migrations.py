"""The auth migrations build exactly the schema the models declare."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from mercato.auth.models import MIGRATIONS, AuthBase
from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade


async def test_migrations_match_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}")
    try:
        await upgrade(db, MIGRATIONS, "auth")
        await upgrade(db, MIGRATIONS, "auth")  # a second start is a no-op

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(
                connection, opts={"version_table": "alembic_version_auth"}
            )
            return list(compare_metadata(context, AuthBase.metadata))

        async with db.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await db.dispose()

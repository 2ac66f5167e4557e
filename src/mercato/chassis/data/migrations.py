"""Schema migrations per service with Alembic, applied at start.

Each service keeps an Alembic script directory (`<service>/migrations`) whose
`env.py` is two lines: it calls `run_alembic_env(metadata)`. `upgrade()` runs the
migrations on the service's own async engine by sharing one connection with Alembic,
as Alembic's cookbook describes for asyncio applications. Each service has its own
version table so that several services can share one PostgreSQL database.

On SQLite a change of a column's type recreates its table (Alembic's batch mode), and
dropping a table that others reference by a foreign key deletes their rows first when
foreign keys are enforced: `ON DELETE CASCADE` wiped every order's history. So, as
SQLite's own procedure for such changes says, the migrations run with foreign keys
off (`PRAGMA foreign_keys` can only change outside a transaction), and commit only
if `PRAGMA foreign_key_check` then finds every reference whole.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from mercato.chassis.data.database import Database

__all__ = ["run_alembic_env", "upgrade"]


def _config(script_location: Path, service: str, connection: Connection | None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["connection"] = connection
    cfg.attributes["version_table"] = f"alembic_version_{service}"
    return cfg


async def upgrade(db: Database, script_location: Path, service: str) -> None:
    """Bring the service's schema to the newest revision."""

    def run(connection: Connection) -> None:
        command.upgrade(_config(script_location, service, connection), "head")

    if db.dialect == "sqlite":
        async with db.engine.connect() as conn:
            await _without_foreign_keys(conn, run)
        return
    async with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            # Replicas starting together must not migrate at the same time.
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": service})
        await conn.run_sync(run)


async def _foreign_keys(conn: AsyncConnection, enforced: bool) -> None:
    """Turn SQLite's foreign key enforcement on or off for this connection."""
    await conn.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")
    state = bool(await conn.scalar(text("PRAGMA foreign_keys")))
    await conn.commit()  # ends SQLAlchemy's transaction: SQLite opened none for these
    if state is not enforced:
        raise RuntimeError("SQLite did not change foreign key enforcement")


async def _without_foreign_keys(conn: AsyncConnection, run: Callable[[Connection], None]) -> None:
    """`run` in one transaction with foreign keys off, committed only if none is broken."""
    await _foreign_keys(conn, enforced=False)
    try:
        async with conn.begin():
            await conn.run_sync(run)
            broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
            if broken:
                raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
    finally:
        await conn.rollback()  # nothing open; a PRAGMA cannot change inside a transaction
        await _foreign_keys(conn, enforced=True)


def run_alembic_env(metadata: MetaData) -> None:
    """The body of every service's `migrations/env.py`."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through mercato (`mercato migrate SERVICE`)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=context.config.attributes["version_table"],
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()

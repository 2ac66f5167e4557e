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

`upgrade(..., on_step=...)` tells its caller (`mercato migrate`'s progress bar) how
many migrations are pending before the first, and again after each one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from mercato.chassis.data.database import Database

__all__ = ["MigrationSteps", "pending_revisions", "run_alembic_env", "upgrade"]

MigrationSteps = Callable[[int, Sequence[str]], None]
"""Told how many migrations are done (0 before the first) and each pending one's
`<revision> <description>`, oldest first."""


def _config(script_location: Path, service: str, connection: Connection | None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["connection"] = connection
    cfg.attributes["version_table"] = f"alembic_version_{service}"
    return cfg


def pending_revisions(config: Config, connection: Connection) -> list[str]:
    """`<revision> <description>` of every migration the database lacks, oldest first."""
    version_table = config.attributes["version_table"]
    migration = MigrationContext.configure(connection, opts={"version_table": version_table})
    current = migration.get_current_heads()
    script = ScriptDirectory.from_config(config)
    revisions = script.iterate_revisions("heads", current or "base")
    return [f"{r.revision} {(r.doc or '').strip()}".strip() for r in reversed(list(revisions))]


async def upgrade(
    db: Database, script_location: Path, service: str, *, on_step: MigrationSteps | None = None
) -> None:
    """Bring the service's schema to the newest revision."""

    def run(connection: Connection) -> None:
        config = _config(script_location, service, connection)
        if on_step is not None:
            pending = pending_revisions(config, connection)
            applied = [0]

            def applied_one(**_: Any) -> None:
                applied[0] += 1
                on_step(applied[0], pending)

            config.attributes["on_version_apply"] = applied_one
            on_step(0, pending)
        command.upgrade(config, "head")

    if db.dialect == "sqlite":
        async with db.engine.connect() as conn:
            await _without_foreign_keys(conn, run)
        return
    if db.dialect == "mysql":
        await _upgrade_mysql(db, service, run)
        return
    async with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            # Replicas starting together must not migrate at the same time.
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": service})
        await conn.run_sync(run)


async def _upgrade_mysql(db: Database, service: str, run: Callable[[Connection], None]) -> None:
    """`run` under a named lock, so that replicas starting together migrate one at a time.

    MySQL's DDL commits as it goes (no transactional DDL), and its named locks belong
    to the connection, not a transaction: taken and released around the whole run.
    """
    lock = {"name": f"mercato_migrate_{service}"}
    async with db.engine.connect() as conn:
        if await conn.scalar(text("SELECT GET_LOCK(:name, 300)"), lock) != 1:
            raise RuntimeError(f"another process kept the migration lock of {service} for 5 min")
        await conn.commit()  # the lock stays: it is the connection's
        try:
            async with conn.begin():
                await conn.run_sync(run)
        finally:
            await conn.execute(text("SELECT RELEASE_LOCK(:name)"), lock)
            await conn.commit()


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
        on_version_apply=context.config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()

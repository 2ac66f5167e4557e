"""Schema migrations per service with Alembic, applied at start.

Each service keeps an Alembic script directory (`<service>/migrations`) whose
`env.py` is two lines: it calls `run_alembic_env(metadata)`. `upgrade()` runs the
migrations on the service's own async engine by sharing one connection with Alembic,
as Alembic's cookbook describes for asyncio applications. Each service has its own
version table so that several services can share one PostgreSQL database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from mercato.chassis.database import Database

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

    async with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            # Replicas starting together must not migrate at the same time.
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": service})
        await conn.run_sync(run)


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

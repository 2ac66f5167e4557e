"""A service's event tables on SQLite, for the chassis's event tests.

`db` is a database in the test's temporary directory; `tables` the outbox and inbox
declared by `chassis.events.event_tables` and created in it. `tests/conftest.py`
makes both fixtures of every test; a module that needs other tables beside them
declares its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from mercato.chassis.data.database import Database
from mercato.chassis.events import EventTables, event_tables


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A SQLite database in the test's own directory, closed after the test."""
    database = Database("sqlite+aiosqlite:///" + str(tmp_path / "service.db"))
    yield database
    await database.dispose()


@pytest.fixture
async def tables(db: Database) -> EventTables:
    """The event tables (outbox, inbox), created in `db`."""
    metadata = MetaData()
    declared = event_tables(metadata)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return declared

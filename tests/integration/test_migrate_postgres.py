"""`mercato migrate SERVICE` on a real PostgreSQL, as the Kubernetes migration Jobs run it.

The database URL comes from the service's variable, with a password (the server of
MERCATO_TEST_POSTGRES_URL trusts local connections, so any password does when it has
none of its own); the command brings the schema to the newest revision and says so
in one line that does not show the password, since a Job's output stays in the
cluster's logs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from mercato.launcher.cli import main
from tests.support.servers import fresh_postgres_database

pytestmark = pytest.mark.integration

PASSWORD = "Migrate-Job-Password-7f3a"


async def test_migrate_brings_the_schema_up_and_hides_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with fresh_postgres_database("migrate") as url:
        parsed = make_url(url)
        secret = parsed.password or PASSWORD
        with_password = parsed.set(password=secret).render_as_string(hide_password=False)
        monkeypatch.setenv("MERCATO_USERS_DATABASE_URL", with_password)
        # main runs its own event loop: in a thread of its own, beside this test's.
        code = await asyncio.to_thread(main, ["migrate", "users", "--data-dir", str(tmp_path)])
        out = capsys.readouterr().out
        assert code == 0
        assert out.startswith("users: database at the newest revision (postgresql+asyncpg://")
        assert parsed.database is not None and parsed.database in out
        assert secret not in out
        assert "***" in out
        # The schema is there: a second run has nothing left to do and says the same.
        code = await asyncio.to_thread(main, ["migrate", "users", "--data-dir", str(tmp_path)])
        assert code == 0
        assert secret not in capsys.readouterr().out

"""A database URL whose driver cannot be used is refused in one line, before any engine.

The message names the package to install (a driver that is not installed) or the URL
to write instead (a synchronous driver); `mercato` prints it and exits 2, with no
traceback (`chassis.data.drivers`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mercato.chassis.config import ServiceSettings, SettingsError, load_settings
from mercato.chassis.data.database import Database
from mercato.chassis.data.drivers import DatabaseURLError, check_database_url
from mercato.launcher.cli import main


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "mysql+aiomysql://root@127.0.0.1/test",
            "the database driver 'aiomysql' is not installed: pip install aiomysql"
            " (or use mysql+asyncmy://)",
        ),
        (
            "mysql+mysqldb://root@127.0.0.1/test",
            "mysql+mysqldb:// is not an asyncio driver; use mysql+asyncmy://",
        ),
        ("mysql://root@127.0.0.1/test", "mysql:// is not an asyncio driver; use mysql+asyncmy://"),
        (
            "postgresql://postgres@127.0.0.1/test",
            "postgresql:// is not an asyncio driver; use postgresql+asyncpg://",
        ),
        (
            "oracle9+x://h/db",
            "unknown database 'oracle9+x': use sqlite+aiosqlite://, postgresql+asyncpg://"
            " or mysql+asyncmy://",
        ),
        (
            "mariadb+asyncmy://root@127.0.0.1/test",
            "for MariaDB write mysql+asyncmy:// (the same driver serves it)",
        ),
        ("not a url", "not a database URL (e.g. postgresql+asyncpg://...)"),
    ],
)
def test_an_unusable_url_is_one_line_naming_the_fix(url: str, message: str) -> None:
    with pytest.raises(DatabaseURLError) as caught:
        check_database_url(url)
    assert str(caught.value) == message
    with pytest.raises(DatabaseURLError):
        Database(url)  # a Database built from a bare URL says the same


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///mercato.db",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        "mysql+asyncmy://root@127.0.0.1:3306/test",
    ],
)
def test_the_drivers_mercato_ships_with_are_accepted(url: str) -> None:
    assert check_database_url(url) == url


def test_the_settings_name_the_variable() -> None:
    environ = {"MERCATO_ORDERS_DATABASE_URL": "mysql+aiomysql://root@127.0.0.1/test"}
    with pytest.raises(SettingsError) as caught:
        load_settings(ServiceSettings, "orders", environ)
    assert str(caught.value) == (
        "MERCATO_ORDERS_DATABASE_URL: the database driver 'aiomysql' is not installed:"
        " pip install aiomysql (or use mysql+asyncmy://)"
    )


@pytest.fixture
def environment() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_the_command_line_prints_one_line_and_exits_2(
    environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    os.environ["MERCATO_CATALOG_DATABASE_URL"] = "mysql+aiomysql://root@127.0.0.1/test"
    assert main(["migrate", "catalog"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "mercato: MERCATO_CATALOG_DATABASE_URL: the database driver 'aiomysql' is not"
        " installed: pip install aiomysql (or use mysql+asyncmy://)"
    ]
    assert "Traceback" not in err

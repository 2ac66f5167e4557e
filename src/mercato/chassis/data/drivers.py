"""The database drivers a URL names, checked before any engine is made.

A service's database URL names a dialect and a driver (`mysql+asyncmy://`,
`postgresql+asyncpg://`, `sqlite+aiosqlite://`). SQLAlchemy imports the driver only when
the engine is created, so a driver that is not installed ended a service in a
`ModuleNotFoundError` traceback, and a synchronous driver (`mysql+pymysql://`) in an
`InvalidRequestError` from deep inside the asyncio extension. `check_database_url`
says either in one line, naming the package to install or the URL to write instead;
the settings call it (`chassis.config`), so the command line prints the line and exits
non-zero, and `Database` calls it too for callers that build one from a bare URL.
"""

from __future__ import annotations

import importlib.util

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

__all__ = ["ASYNC_DRIVERS", "DatabaseURLError", "check_database_url"]

# The async driver of each dialect Mercato is tested on: (driver, PyPI package).
ASYNC_DRIVERS = {
    "sqlite": ("aiosqlite", "aiosqlite"),
    "postgresql": ("asyncpg", "asyncpg"),
    "mysql": ("asyncmy", "asyncmy"),
}
# The module each driver is imported as, and the package that provides it, where
# either differs from the driver's name in the URL.
_MODULES = {"mysqldb": "MySQLdb", "psycopg2": "psycopg2", "mysqlconnector": "mysql.connector"}
_PACKAGES = {
    "mysqldb": "mysqlclient",
    "pymysql": "PyMySQL",
    "psycopg2": "psycopg2-binary",
    "mysqlconnector": "mysql-connector-python",
    "psycopg": "psycopg[binary]",
}


class DatabaseURLError(ValueError):
    """A database URL that cannot be used; the message is one line."""


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing (`mysql` of mysql.connector)
        return False


def check_database_url(url: str) -> str:
    """`url` itself when its dialect and an async driver for it are usable; else raise."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError("not a database URL (e.g. postgresql+asyncpg://...)") from None
    backend = parsed.get_backend_name()
    if backend == "mariadb":
        # One dialect name (`mysql`) for both servers: the dialect-specific code and
        # DDL of the services are written for it, and it speaks to MariaDB alike.
        raise DatabaseURLError("for MariaDB write mysql+asyncmy:// (the same driver serves it)")
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise DatabaseURLError(
            f"unknown database {parsed.drivername!r}: use sqlite+aiosqlite://, "
            "postgresql+asyncpg:// or mysql+asyncmy://"
        ) from None
    driver = dialect.driver
    if not getattr(dialect, "is_async", False):
        hint = ASYNC_DRIVERS.get(backend)
        instead = f"; use {backend}+{hint[0]}://" if hint else ""
        raise DatabaseURLError(f"{parsed.drivername}:// is not an asyncio driver{instead}")
    module = _MODULES.get(driver, driver)
    if not _installed(module):
        package = _PACKAGES.get(driver, driver)
        raise DatabaseURLError(
            f"the database driver {driver!r} is not installed: "
            f"pip install {package} (or use {_tested(backend)})"
        )
    return url


def _tested(backend: str) -> str:
    hint = ASYNC_DRIVERS.get(backend)
    return f"{backend}+{hint[0]}://" if hint else "sqlite+aiosqlite://"

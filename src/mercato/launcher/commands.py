"""The commands besides `up`: run one service, and the operator's one-shot tasks.

`run` is what a container runs. The others work on a service's data directly
(`create-admin`, `import-products`, `migrate`) or on the broker (`dead-letters`),
and see the same environment that `mercato up` gives the service's first instance,
so that `--data-dir` and `--port` mean the same everywhere. They are safe while the
system runs: the databases take concurrent writers, and events written here reach
the broker through the service's outbox.

Services and the heavier chassis modules are imported inside the functions that
need them, so that `mercato up` (which imports this module) starts at once.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO, TypeVar

from mercato.chassis.config import ServiceSettings
from mercato.chassis.events.names import OPERATOR
from mercato.launcher.certificates import development_certificates
from mercato.launcher.console import without_password
from mercato.launcher.credentials import broker_users, client_secrets
from mercato.launcher.errors import LauncherError
from mercato.launcher.supervisor import HOLD_VARIABLE
from mercato.launcher.topology import SERVICES, Layout, Service, Wiring, service
from mercato.launcher.topology import broker_users as broker_user_names

__all__ = [
    "create_admin",
    "import_products",
    "list_dead_letters",
    "migrate",
    "operator_url",
    "replay_dead_letter",
    "run",
    "service_named",
]

BROKER_TIMEOUT = 15.0
T = TypeVar("T")


def service_named(name: str) -> Service:
    """The service called `name`, or a LauncherError listing the known ones."""
    try:
        return service(name)
    except KeyError:
        known = ", ".join(s.name for s in SERVICES)
        raise LauncherError(f"unknown service {name!r} (one of {known})") from None


def run(name: str) -> None:
    """Serve one service in this process until SIGINT/SIGTERM (what a container runs).

    Under `mercato up` (with `MERCATO_LAUNCHER_HOLD=1`) the service is imported and
    built at once but served only after the launcher writes a line on stdin, so that
    every process does its slow imports concurrently while the start order holds; at
    end of file (the launcher is gone) it exits instead.
    """
    from mercato.chassis.web.serve import serve  # noqa: PLC0415

    wiring = service_named(name).wiring()
    settings = wiring.load_settings()
    app = wiring.create_app(settings)
    if os.environ.get(HOLD_VARIABLE) == "1" and not sys.stdin.readline():
        return
    serve(app, settings)


def _adopt(layout: Layout, name: str) -> Wiring[Any]:
    """Take the environment `up` gives the service's first instance."""
    svc = service_named(name)
    layout = replace(layout, secrets=client_secrets(layout.data_dir, [s.name for s in SERVICES]))
    if layout.tls_files is not None:
        development_certificates(layout.tls_files.directory, [s.name for s in SERVICES])
    os.environ.update(layout.env(layout.instances(svc)[0]))
    return svc.wiring()


async def _upgrade(wiring: Wiring[Any], settings: ServiceSettings) -> None:
    from mercato.chassis.data.database import Database  # noqa: PLC0415
    from mercato.chassis.data.migrations import upgrade  # noqa: PLC0415

    spec = wiring.spec
    if not spec.uses_database or spec.migrations is None:
        raise LauncherError(f"{spec.name} has no database to migrate")
    db = Database(settings.sqlalchemy_url)
    try:
        await upgrade(db, spec.migrations, spec.name)
    finally:
        await db.dispose()


def migrate(layout: Layout, name: str) -> str:
    """Bring the service's database schema to the newest revision."""
    wiring = _adopt(layout, name)
    settings = wiring.load_settings()
    asyncio.run(_upgrade(wiring, settings))
    return f"{name}: database at the newest revision ({settings.sqlalchemy_url})"


def create_admin(layout: Layout, email: str, password: str) -> str:
    """Create or promote an administrator account (and set its password)."""
    from mercato.auth.service import create_admin as create  # noqa: PLC0415
    from mercato.auth.settings import load_settings  # noqa: PLC0415

    _adopt(layout, "auth")
    try:
        asyncio.run(create(load_settings(), email, password))
    except ValueError as exc:
        raise LauncherError(str(exc)) from None
    return f"administrator {email} is ready"


def import_products(layout: Layout, path: Path) -> str:
    """Import products from a dummyjson-format file into the catalog (upsert by SKU)."""
    from mercato.catalog.loading import import_file  # noqa: PLC0415
    from mercato.catalog.settings import load_settings  # noqa: PLC0415

    if not path.is_file():
        raise LauncherError(f"{path}: no such file")
    _adopt(layout, "catalog")
    result = asyncio.run(import_file(load_settings(), path))
    if result.errors:
        first = result.errors[0]
        where = f"product {first.index}" if first.index is not None else "the file"
        raise LauncherError(
            f"{path}: nothing imported, {len(result.errors)} problem(s);"
            f" first: {where}, {first.field}: {first.message}"
        )
    return (
        f"imported {path}: {result.created} created, {result.updated} updated,"
        f" {result.unchanged} unchanged"
    )


def operator_url(layout: Layout) -> str:
    """The broker URL of the operator: its user on the embedded NATS, else the given URL."""
    if not layout.embedded_broker:
        return layout.broker_url
    users = broker_users(layout.data_dir, broker_user_names())
    passwords = {name: user.password for name, user in users.items()}
    return replace(layout, broker_passwords=passwords).broker_url_for(OPERATOR)


def list_dead_letters(layout: Layout, out: TextIO) -> int:
    """Print the dead letters on the broker; returns how many there are."""
    from mercato.chassis.events import admin  # noqa: PLC0415

    url = operator_url(layout)
    letters = _on_broker(
        layout, lambda: admin.list_dead_letters(url, namespace=layout.bus_namespace)
    )
    if not letters:
        out.write("no dead letters\n")
        return 0
    for letter in letters:
        when = letter.failed_at.isoformat(timespec="seconds")
        error = " ".join(letter.error.split())[:120]
        out.write(
            f"{letter.id}  {when}  {letter.consumer}  {letter.event_type}"
            f"  attempts={letter.attempts}  {error}\n"
        )
    return len(letters)


def replay_dead_letter(layout: Layout, dead_letter_id: str) -> str:
    """Publish a dead letter's event again and remove it from the dead letters."""
    from mercato.chassis.events import DeadLetterNotFound, admin  # noqa: PLC0415

    url = operator_url(layout)
    try:
        _on_broker(
            layout,
            lambda: admin.replay_dead_letter(url, dead_letter_id, namespace=layout.bus_namespace),
        )
    except DeadLetterNotFound:
        raise LauncherError(f"no dead letter with id {dead_letter_id!r}") from None
    return f"replayed {dead_letter_id}"


def _on_broker(layout: Layout, call: Callable[[], Awaitable[T]]) -> T:
    from mercato.chassis.events import BusUnavailable  # noqa: PLC0415

    async def _bounded() -> T:
        async with asyncio.timeout(BROKER_TIMEOUT):
            return await call()

    try:
        return asyncio.run(_bounded())
    except (BusUnavailable, OSError, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        raise LauncherError(
            f"cannot reach the broker at {without_password(layout.broker_url)} ({reason}); "
            "is `mercato up` running?"
        ) from None

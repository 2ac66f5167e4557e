"""The commands besides `up`: run one service, and the operator's one-shot tasks.

`run` is what a container runs. The others work on a service's data directly
(`create-admin`, `import-products`, `migrate`) or on the broker (`dead-letters`),
and see the same environment that `mercato up` gives the service's first instance,
so that `--data-dir` and `--port` mean the same everywhere. They are safe while the
system runs: the databases take concurrent writers, and events written here reach
the broker through the service's outbox.

The long ones (`import-products`, `migrate`, replaying every dead letter) report to
a `launcher.progress.Progress`: a bar on a terminal, nothing elsewhere.

Services and the heavier chassis modules are imported inside the functions that
need them, so that `mercato up` (which imports this module) starts at once.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO, TypeVar

from mercato.chassis.config import ServiceSettings
from mercato.chassis.events.names import OPERATOR
from mercato.launcher.certificates import development_certificates
from mercato.launcher.console import without_password
from mercato.launcher.credentials import broker_users, client_secrets
from mercato.launcher.errors import CommandFailed, LauncherError
from mercato.launcher.progress import Progress
from mercato.launcher.supervisor import HOLD_VARIABLE
from mercato.launcher.topology import SERVICES, Layout, Service, Wiring, service
from mercato.launcher.topology import broker_users as broker_user_names

__all__ = [
    "create_admin",
    "import_products",
    "list_dead_letters",
    "migrate",
    "operator_url",
    "replay_all_dead_letters",
    "replay_dead_letter",
    "run",
    "service_named",
]

BROKER_TIMEOUT = 15.0
MIGRATION_WIDTH = 60  # characters of a migration's description on its progress line
REPLAY_ALL_LIMIT = 10_000  # dead letters `replay --all` takes in one run
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


async def _upgrade(wiring: Wiring[Any], settings: ServiceSettings, progress: Progress) -> int:
    from mercato.chassis.data.database import Database  # noqa: PLC0415
    from mercato.chassis.data.migrations import upgrade  # noqa: PLC0415

    spec = wiring.spec
    if not spec.uses_database or spec.migrations is None:
        raise LauncherError(f"{spec.name} has no database to migrate")
    applied = [0]

    def step(done: int, pending: Sequence[str]) -> None:
        # A stage per migration: the one running shows its spinner and time.
        applied[0] = done
        if done < len(pending):
            progress.stage(f"{spec.name} {_shortened(pending[done])}")

    db = Database(settings.sqlalchemy_url)
    try:
        await upgrade(db, spec.migrations, spec.name, on_step=step)
    finally:
        await db.dispose()
    return applied[0]


def _shortened(text: str, width: int = MIGRATION_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def migrate(layout: Layout, name: str, progress: Progress | None = None) -> str:
    """Bring the service's database schema to the newest revision."""
    wiring = _adopt(layout, name)
    settings = wiring.load_settings()
    asyncio.run(_upgrade(wiring, settings, progress or Progress()))
    # Without its password: a Kubernetes Job's output is kept in the cluster's logs.
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    shown = make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)
    return f"{name}: database at the newest revision ({shown})"


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


def import_products(layout: Layout, path: Path, progress: Progress | None = None) -> str:
    """Import products from a dummyjson-format file into the catalog (upsert by SKU)."""
    from mercato.catalog.file_import import ImportStopped  # noqa: PLC0415
    from mercato.catalog.loading import import_file  # noqa: PLC0415
    from mercato.catalog.settings import load_settings  # noqa: PLC0415

    if not path.is_file():
        raise LauncherError(f"{path}: no such file")
    _adopt(layout, "catalog")
    try:
        result = asyncio.run(import_file(load_settings(), path, progress=progress))
    except ImportStopped as stopped:
        raise LauncherError(f"{path}: stopped, {stopped.message}") from None
    if result.errors:
        first = result.errors[0]
        where = f"product {first.index}" if first.index is not None else "the file"
        line = f" (line {first.line})" if first.line is not None else ""
        raise LauncherError(
            f"{path}: nothing imported, {len(result.errors)} problem(s);"
            f" first: {where}{line}, {first.field}: {first.message}"
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


def replay_all_dead_letters(layout: Layout, progress: Progress | None = None) -> str:
    """Replay every dead letter (the oldest `REPLAY_ALL_LIMIT`); CommandFailed if any failed.

    The letters are listed first and exactly those are replayed: one that fails
    again meanwhile comes back as a new dead letter, not into this run.
    """
    from mercato.chassis.events import admin  # noqa: PLC0415

    url = operator_url(layout)
    namespace = layout.bus_namespace
    progress = progress or Progress()
    progress.stage("listing dead letters")
    letters = _on_broker(
        layout, lambda: admin.list_dead_letters(url, namespace=namespace, limit=REPLAY_ALL_LIMIT)
    )
    if not letters:
        return "no dead letters"
    ids = [letter.id for letter in letters]
    progress.stage("replaying dead letters", len(ids), "letters")
    failed = _on_broker(
        layout,
        lambda: admin.replay_dead_letters(
            url, ids, namespace=namespace, on_replayed=progress.update
        ),
        timeout=BROKER_TIMEOUT + len(ids),
    )
    more = " (there may be more: run it again)" if len(ids) == REPLAY_ALL_LIMIT else ""
    if failed:
        first, reason = next(iter(failed.items()))
        raise CommandFailed(
            f"replayed {len(ids) - len(failed)} of {len(ids)} dead letters;"
            f" {len(failed)} failed, first {first}: {reason}{more}"
        )
    return f"replayed {len(ids)} dead letters{more}"


def _on_broker(
    layout: Layout, call: Callable[[], Awaitable[T]], timeout: float = BROKER_TIMEOUT
) -> T:
    from mercato.chassis.events import BusUnavailable  # noqa: PLC0415

    async def _bounded() -> T:
        async with asyncio.timeout(timeout):
            return await call()

    try:
        return asyncio.run(_bounded())
    except (BusUnavailable, OSError, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        raise LauncherError(
            f"cannot reach the broker at {without_password(layout.broker_url)} ({reason}); "
            "is `mercato up` running?"
        ) from None

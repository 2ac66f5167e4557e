"""The operator's one-shot commands: create-admin, import-products, migrate,
dead-letters, certificates, broker-config.

Each is a typer command function returning its exit code (`launcher.cli` registers
them); the work is `launcher.commands`'. The long ones show a progress bar on a
terminal (`launcher.progress`) and print their one-line result either way.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from mercato.launcher import commands
from mercato.launcher.certificates import development_certificates
from mercato.launcher.errors import LauncherError
from mercato.launcher.options import build_layout
from mercato.launcher.params import (
    DataDir,
    Port,
    choice_argument,
    flag,
    migratable,
    service_names,
    shared,
    unknown_service,
)
from mercato.launcher.progress import progress_for
from mercato.launcher.topology import SERVICES, Layout

__all__ = [
    "broker_config",
    "certificates",
    "create_admin",
    "dead_letters",
    "import_products",
    "migrate",
]

dead_letters = typer.Typer(
    name="dead-letters",
    help="List or replay events that failed.",
    no_args_is_help=True,
    add_completion=False,
)


MIGRATABLE = migratable()


def _no_database(name: str) -> str:
    if name in service_names():
        return f"{name} has no database to migrate (one of {', '.join(MIGRATABLE)})"
    return unknown_service(MIGRATABLE)(name)


def _layout(ctx: typer.Context, port: int | None, data_dir: str | None) -> Layout:
    options = shared(ctx, port, data_dir)
    return build_layout(port=options.port, data_dir=options.data_dir, environ=os.environ)


def create_admin(
    ctx: typer.Context,
    email: Annotated[str, typer.Option("--email", help="the administrator's email")],
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help="else MERCATO_ADMIN_PASSWORD, else a prompt",
            show_default=False,
        ),
    ] = None,
    port: Port = None,
    data_dir: DataDir = None,
) -> int:
    """Create an administrator account (or make an account one, with this password)."""
    layout = _layout(ctx, port, data_dir)
    secret = password or os.environ.get("MERCATO_ADMIN_PASSWORD", "")
    if not secret and sys.stdin.isatty():
        secret = getpass.getpass(f"password for {email}: ")
    if not secret:
        raise LauncherError("a password is needed: --password, MERCATO_ADMIN_PASSWORD or a tty")
    print(commands.create_admin(layout, email, secret))
    return 0


def import_products(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="a JSON file of products (dummyjson format)")
    ],
    port: Port = None,
    data_dir: DataDir = None,
) -> int:
    """Import products from a file into the catalog (upserted by SKU)."""
    layout = _layout(ctx, port, data_dir)
    with progress_for() as progress:
        result = commands.import_products(layout, path, progress)
    print(result)
    return 0


def migrate(
    ctx: typer.Context,
    service: Annotated[
        str, choice_argument("SERVICE", MIGRATABLE, "a service with a database", _no_database)
    ],
    port: Port = None,
    data_dir: DataDir = None,
) -> int:
    """Bring a service's database schema up to date."""
    layout = _layout(ctx, port, data_dir)
    with progress_for() as progress:
        result = commands.migrate(layout, service, progress)
    print(result)
    return 0


@dead_letters.callback()
def _dead_letters(ctx: typer.Context, port: Port = None, data_dir: DataDir = None) -> None:
    """List or replay events that failed (as the broker's operator user)."""
    shared(ctx, port, data_dir)


@dead_letters.command("list")
def list_letters(ctx: typer.Context, port: Port = None, data_dir: DataDir = None) -> int:
    """List the dead letters, the oldest first."""
    commands.list_dead_letters(_layout(ctx, port, data_dir), sys.stdout)
    return 0


@dead_letters.command("replay")
def replay(
    ctx: typer.Context,
    dead_letter_id: Annotated[
        str | None, typer.Argument(metavar="ID", help="the dead letter", show_default=False)
    ] = None,
    replay_all: Annotated[bool, flag("--all", "replay every dead letter (listed first)")] = False,
    port: Port = None,
    data_dir: DataDir = None,
) -> int:
    """Publish a dead letter's event again (or every one's, with --all)."""
    layout = _layout(ctx, port, data_dir)
    if replay_all == (dead_letter_id is not None):
        raise LauncherError("name one dead letter ID, or --all (see `mercato dead-letters list`)")
    if dead_letter_id is not None:
        print(commands.replay_dead_letter(layout, dead_letter_id))
        return 0
    with progress_for() as progress:
        result = commands.replay_all_dead_letters(layout, progress)
    print(result)
    return 0


def certificates(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="where to write them (0700)")],
) -> int:
    """Write a development CA and a certificate per service (e.g. for compose)."""
    files = development_certificates(directory, [s.name for s in SERVICES])
    print(f"development CA and certificates in {files.directory} (CA: {files.ca})")
    return 0


def broker_config(
    ctx: typer.Context,
    broker: Annotated[Literal["nats", "rabbitmq"], typer.Argument(help="the broker")],
    vhost: Annotated[str, typer.Option("--vhost", help="the RabbitMQ vhost")] = "/",
    port: Port = None,
    data_dir: DataDir = None,
) -> int:
    """Print the broker's users and rights for production (passwords from the env)."""
    from mercato.launcher import broker_config as config  # noqa: PLC0415

    namespace = _layout(ctx, port, data_dir).bus_namespace
    if broker == "nats":
        sys.stdout.write(config.production_nats_authorization(namespace))
        return 0
    definitions = config.production_rabbit_definitions(os.environ, namespace=namespace, vhost=vhost)
    sys.stdout.write(json.dumps(definitions, indent=2) + "\n")
    return 0

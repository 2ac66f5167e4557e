"""The `mercato` command line (argparse): parse, call the launcher, report in one line.

    mercato up [--port 8000] [--data-dir .mercato] [--replicas catalog=3 ...] [--no-demo] [--tls]
               [--observe]
    mercato run SERVICE
    mercato create-admin --email E [--password P]
    mercato import-products PATH
    mercato migrate SERVICE
    mercato dead-letters list | replay ID
    mercato certificates DIR
    mercato broker-config nats | rabbitmq [--vhost V]   (RabbitMQ: passwords from the env)

Every problem the user can fix is reported as one line `mercato: <message>` on
stderr, without a traceback: exit code 2 for bad options and configuration, 1 when
the system fails to start.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from mercato import __version__
from mercato.chassis.config import SettingsError
from mercato.launcher import commands
from mercato.launcher.certificates import development_certificates
from mercato.launcher.errors import LauncherError
from mercato.launcher.options import DEFAULT_DATA_DIR, DEFAULT_PORT, build_layout
from mercato.launcher.topology import SERVICES, Layout
from mercato.launcher.up import up

__all__ = ["main"]

EXIT_USAGE = 2
PRIVATE_UMASK = 0o077
Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line."""

    def error(self, message: str) -> NoReturn:
        """Print `mercato: <message>` and exit 2."""
        self.exit(EXIT_USAGE, f"mercato: {message} (see `{self.prog} --help`)\n")


def _layout(args: argparse.Namespace) -> Layout:
    return build_layout(
        port=args.port,
        data_dir=args.data_dir,
        replicas=getattr(args, "replicas", None) or (),
        demo=not getattr(args, "no_demo", False),
        tls=getattr(args, "tls", False),
        observe=getattr(args, "observe", False),
        environ=os.environ,
    )


def _up(args: argparse.Namespace) -> int:
    return up(_layout(args))


def _run(args: argparse.Namespace) -> int:
    commands.run(args.service)
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    password = args.password or os.environ.get("MERCATO_ADMIN_PASSWORD", "")
    if not password and sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.email}: ")
    if not password:
        raise LauncherError("a password is needed: --password, MERCATO_ADMIN_PASSWORD or a tty")
    print(commands.create_admin(_layout(args), args.email, password))
    return 0


def _import_products(args: argparse.Namespace) -> int:
    print(commands.import_products(_layout(args), Path(args.path)))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    print(commands.migrate(_layout(args), args.service))
    return 0


def _dead_letters(args: argparse.Namespace) -> int:
    layout = _layout(args)
    if args.action == "list":
        commands.list_dead_letters(layout, sys.stdout)
    else:
        print(commands.replay_dead_letter(layout, args.id))
    return 0


def _certificates(args: argparse.Namespace) -> int:
    files = development_certificates(Path(args.dir), [s.name for s in SERVICES])
    print(f"development CA and certificates in {files.directory} (CA: {files.ca})")
    return 0


def _broker_config(args: argparse.Namespace) -> int:
    from mercato.launcher import broker_config  # noqa: PLC0415

    namespace = _layout(args).bus_namespace
    if args.broker == "nats":
        sys.stdout.write(broker_config.production_nats_authorization(namespace))
        return 0
    definitions = broker_config.production_rabbit_definitions(
        os.environ, namespace=namespace, vhost=args.vhost
    )
    sys.stdout.write(json.dumps(definitions, indent=2) + "\n")
    return 0


def _common() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--port",
        type=int,
        help=f"the gateway's port P; services use P+110.. (env MERCATO_PORT, {DEFAULT_PORT})",
    )
    common.add_argument(
        "--data-dir",
        metavar="DIR",
        help=f"databases, broker store, secrets (env MERCATO_DATA_DIR, {DEFAULT_DATA_DIR})",
    )
    return common


def _parser() -> argparse.ArgumentParser:
    names = ", ".join(s.name for s in SERVICES)
    parser = _Parser(prog="mercato", description="Run and operate the Mercato backend.")
    parser.add_argument("--version", action="version", version=f"mercato {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [_common()]

    def _command(name: str, handler: Handler, text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, parents=common, help=text, description=text)
        cmd.set_defaults(handler=handler)
        return cmd

    up = _command("up", _up, "start the broker and every service; Ctrl-C stops them")
    up.add_argument(
        "--replicas",
        nargs="+",
        action="extend",
        metavar="SERVICE=N",
        help="run N instances of a service (env MERCATO_REPLICAS=catalog=3,users=2)",
    )
    up.add_argument("--no-demo", action="store_true", help="do not load the demo catalog")
    up.add_argument(
        "--tls",
        action="store_true",
        help="HTTPS, and mutual TLS between services, with a development CA (env MERCATO_TLS)",
    )
    up.add_argument(
        "--observe",
        action="store_true",
        help="also run the machine's Prometheus on P+290, scraping every process, with the"
        " alert rules (env MERCATO_OBSERVE)",
    )

    run = sub.add_parser("run", help="run one service (what a container runs)")
    run.add_argument("service", metavar="SERVICE", help=names)
    run.set_defaults(handler=_run)

    admin = _command("create-admin", _create_admin, "create an administrator account")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", help="(else MERCATO_ADMIN_PASSWORD, else a prompt)")

    products = _command("import-products", _import_products, "import products from a file")
    products.add_argument("path", metavar="PATH", help="a JSON or CSV file of products")

    migrate = _command("migrate", _migrate, "bring a service's database schema up to date")
    migrate.add_argument("service", metavar="SERVICE", help=names)

    letters = _command("dead-letters", _dead_letters, "list or replay events that failed")
    actions = letters.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="list the dead letters")
    replay = actions.add_parser("replay", help="publish a dead letter's event again")
    replay.add_argument("id", metavar="ID")

    certificates = sub.add_parser(
        "certificates",
        help="write a development CA and a certificate per service (e.g. for compose)",
    )
    certificates.add_argument("dir", metavar="DIR", help="where to write them (made 0700)")
    certificates.set_defaults(handler=_certificates)
    config = _command(
        "broker-config", _broker_config, "print the broker users and rights for production"
    )
    config.add_argument("broker", choices=["nats", "rabbitmq"])
    config.add_argument("--vhost", default="/", help="the RabbitMQ vhost (default /)")
    return parser


def _fail(message: str, code: int) -> int:
    print(f"mercato: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `mercato` command; returns the exit code."""
    args = _parser().parse_args(argv)
    handler: Handler = args.handler
    # Whatever a command creates (databases, secrets, pid files, the broker's store,
    # also in the processes `up` starts) is its user's alone.
    umask = os.umask(PRIVATE_UMASK)
    try:
        return handler(args)
    except LauncherError as exc:
        return _fail(str(exc), exc.exit_code)
    except SettingsError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        if exc.filename is None:
            raise
        # A data directory (or file) that cannot be made or opened: the user's to fix.
        return _fail(f"cannot use {exc.filename}: {exc.strerror}", EXIT_USAGE)
    except KeyboardInterrupt:
        return 130
    finally:
        os.umask(umask)  # main() may be called in-process (tests)

"""The `mercato` command line (typer): parse, call the launcher, report in one line.

    mercato up [--port 8000] [--data-dir .mercato] [--replicas catalog=3|all=2 ...] [--no-demo]
               [--tls] [--observe] [--log-format pretty|json]
    mercato status [--json]          mercato stop [--timeout S]
    mercato logs [SERVICE] [-f] [-n N] [--raw]
    mercato open [shop|console]
    mercato run SERVICE
    mercato create-admin --email E [--password P]
    mercato import-products PATH
    mercato migrate SERVICE
    mercato dead-letters list | replay ID | replay --all
    mercato certificates DIR
    mercato broker-config nats | rabbitmq [--vhost V]   (RabbitMQ: passwords from the env)
    mercato --install-completion      (bash, zsh, fish or PowerShell: the shell it runs in)

`--port` and `--data-dir` go anywhere (`launcher.params`). Help is coloured by rich.
Every problem the user can fix is reported as one line `mercato: <message>` on
stderr, without a traceback: exit code 2 for bad options and configuration, 1 when
the system fails to start or a command fails, 3 when a command needs a running
system and none runs (`launcher.errors`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

# typer vendors click and exports none of its exceptions but BadParameter.
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from mercato import __version__
from mercato.chassis.config import SettingsError
from mercato.launcher import cli_system, cli_tasks
from mercato.launcher.errors import LauncherError
from mercato.launcher.params import DataDir, Port, shared

__all__ = ["PROG", "app", "main"]

PROG = "mercato"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PRIVATE_UMASK = 0o077

app = typer.Typer(
    name=PROG,
    help="Run and operate the Mercato backend.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"mercato {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    port: Port = None,
    data_dir: DataDir = None,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version", metavar=" "
    ),
) -> None:
    """Run and operate the Mercato backend."""
    shared(ctx, port, data_dir)


SYSTEM = "The system"
TASKS = "Operator tasks"
app.command("up", rich_help_panel=SYSTEM)(cli_system.up)
app.command("status", rich_help_panel=SYSTEM)(cli_system.status_command)
app.command("logs", rich_help_panel=SYSTEM)(cli_system.logs)
app.command("stop", rich_help_panel=SYSTEM)(cli_system.stop)
app.command("open", rich_help_panel=SYSTEM)(cli_system.open_page)
app.command("run", rich_help_panel=SYSTEM)(cli_system.run)
app.command("create-admin", rich_help_panel=TASKS)(cli_tasks.create_admin)
app.command("import-products", rich_help_panel=TASKS)(cli_tasks.import_products)
app.command("migrate", rich_help_panel=TASKS)(cli_tasks.migrate)
app.add_typer(cli_tasks.dead_letters, rich_help_panel=TASKS)
app.command("certificates", rich_help_panel=TASKS)(cli_tasks.certificates)
app.command("broker-config", rich_help_panel=TASKS)(cli_tasks.broker_config)


def _fail(message: str, code: int) -> int:
    print(f"mercato: {message}", file=sys.stderr)
    return code


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _usage(exc: UsageError) -> int:
    where = exc.ctx.command_path if exc.ctx is not None else PROG
    return _fail(f"{_one_line(exc.format_message())} (see `{where} --help`)", EXIT_USAGE)


def _invoke(args: list[str]) -> int:
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name=PROG, standalone_mode=False)
    except NoArgsIsHelpError:  # `mercato`, `mercato dead-letters`: the help, already
        return EXIT_USAGE  # printed by typer's rich help when the error was made
    except UsageError as exc:
        return _usage(exc)
    except ClickException as exc:
        return _fail(_one_line(exc.format_message()), exc.exit_code)
    except typer.Abort:
        return EXIT_INTERRUPTED
    return result if isinstance(result, int) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `mercato` command; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # Whatever a command creates (databases, secrets, pid files, the broker's store,
    # also in the processes `up` starts) is its user's alone.
    umask = os.umask(PRIVATE_UMASK)
    try:
        return _invoke(args)
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
        return EXIT_INTERRUPTED
    finally:
        os.umask(umask)  # main() may be called in-process (tests)

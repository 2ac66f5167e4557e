"""The commands that run the system and look at it: up, run, status, stop, logs, open.

Each is a typer command function returning its exit code; `launcher.cli` registers
them. What they show on a terminal and off it:

- `up`: the live table, the URL panel and readable logs (`launcher.dashboard`), or
  the JSON lines as they have always been (`launcher.console`), by `--log-format`;
- `status`: a table and a summary line either way, `--json` for scripts; exit 0 when
  every process is ready, 1 when one is not, 3 when nothing runs;
- `logs`: the readable form on a terminal, the prefixed lines elsewhere;
- `stop`, `open`: one line (and a spinner on a terminal while `stop` waits).

rich is imported by the commands that draw with it, so that `mercato run` (every
process `mercato up` starts) does not load it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TextIO

import typer

from mercato.launcher import commands, control, tailing
from mercato.launcher.console import Console
from mercato.launcher.errors import LauncherError
from mercato.launcher.logbook import log_names
from mercato.launcher.options import build_layout, data_directory
from mercato.launcher.params import (
    DataDir,
    LogFormat,
    LogFormatOption,
    Port,
    Shared,
    choice_argument,
    flag,
    service_names,
    shared,
    unknown_service,
)
from mercato.launcher.state import running_launcher
from mercato.launcher.up import LOG_DIR, RUN_DIR
from mercato.launcher.up import up as run_system

if TYPE_CHECKING:
    from rich.console import Console as RichConsole

__all__ = ["logs", "open_page", "run", "status_command", "stop", "up"]

WIDE = 120  # columns of a table written off a terminal, where nothing tells the width


def _data_dir(options: Shared) -> Path:
    return data_directory(options.data_dir, os.environ)


def _rich(stream: TextIO | None = None) -> RichConsole:
    from rich.console import Console as RichConsole  # noqa: PLC0415

    out = stream or sys.stdout
    return RichConsole(file=out, highlight=False, width=None if out.isatty() else WIDE)


def _pretty(log_format: LogFormat | None) -> bool:
    return log_format == "pretty" or (log_format is None and sys.stdout.isatty())


def up(
    ctx: typer.Context,
    *,
    port: Port = None,
    data_dir: DataDir = None,
    replicas: Annotated[
        list[str] | None,
        typer.Option(
            "--replicas",
            metavar="SERVICE=N",
            help="run N instances of a service; repeat it, or catalog=3,users=2;"
            " all=2 for every service, the gateway's second on P+1 (env MERCATO_REPLICAS)",
            show_default=False,
        ),
    ] = None,
    no_demo: Annotated[bool, flag("--no-demo", "do not load the demo catalog")] = False,
    tls: Annotated[
        bool,
        flag(
            "--tls",
            "HTTPS, and mutual TLS between services, with a development CA (env MERCATO_TLS)",
        ),
    ] = False,
    observe: Annotated[
        bool,
        flag(
            "--observe",
            "also run the machine's Prometheus on P+290, scraping every process, with the"
            " alert rules (env MERCATO_OBSERVE)",
        ),
    ] = False,
    log_format: LogFormatOption = None,
    more_replicas: Annotated[
        list[str] | None, typer.Argument(metavar="SERVICE=N", hidden=True)
    ] = None,
) -> int:
    """Start the broker and every service; Ctrl-C (or `mercato stop`) stops them."""
    options = shared(ctx, port, data_dir)
    stray = [item for item in more_replicas or [] if "=" not in item]
    if stray:  # `--replicas catalog=3 users=2` is still read as two replicas
        raise LauncherError(f"unexpected argument {stray[0]!r} (see `mercato up --help`)")
    layout = build_layout(
        port=options.port,
        data_dir=options.data_dir,
        replicas=[*(replicas or []), *(more_replicas or [])],
        demo=not no_demo,
        tls=tls,
        observe=observe,
        environ=os.environ,
    )
    if _pretty(log_format):
        from mercato.launcher.dashboard import Dashboard  # noqa: PLC0415

        console: Console = Dashboard()
    else:
        console = Console()
    return run_system(layout, console=console)


def run(
    ctx: typer.Context,
    service: Annotated[
        str,
        choice_argument(
            "SERVICE", service_names(), "the service", unknown_service(service_names())
        ),
    ],
) -> int:
    """Run one service in this process (what a container runs)."""
    given = ctx.meta.get("mercato.shared", Shared())
    if given != Shared():
        raise LauncherError(
            "`mercato run` takes its settings from MERCATO_* variables, not --port or --data-dir"
        )
    commands.run(service)
    return 0


def status_command(
    ctx: typer.Context,
    data_dir: DataDir = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="the status as one JSON document")
    ] = False,
) -> int:
    """Every process of the running system: pid, port, health, uptime, memory, restarts."""
    from mercato.launcher import status  # noqa: PLC0415

    directory = _data_dir(shared(ctx, None, data_dir))
    launcher = control.require_launcher(directory / RUN_DIR, directory)
    found = status.system_status(launcher, directory / RUN_DIR)
    if as_json:
        sys.stdout.write(json.dumps(found.as_json(), indent=2) + "\n")
    else:
        out = _rich()
        out.print(status.status_table(found))
        out.print(found.summary(), style="green" if found.ready else "yellow")
    if not found.ready:
        raise typer.Exit(1)  # an exit code, not an error: the summary said why
    return 0


def stop(
    ctx: typer.Context,
    data_dir: DataDir = None,
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="SECONDS", help="how long to wait")
    ] = control.STOP_TIMEOUT,
) -> int:
    """Stop the running system (as Ctrl-C does) and wait until it has stopped."""
    directory = _data_dir(shared(ctx, None, data_dir))
    launcher = running_launcher(directory / RUN_DIR)
    if launcher is None:
        print(f"nothing runs from {directory}")
        return 0
    waiting = f"stopping Mercato (launcher pid {launcher.pid})"
    if sys.stderr.isatty():
        with _rich(sys.stderr).status(waiting):
            seconds = control.stop(launcher, timeout)
    else:
        seconds = control.stop(launcher, timeout)
    print(f"stopped Mercato (launcher pid {launcher.pid}) in {seconds:.1f} s")
    return 0


def _complete_logs(ctx: typer.Context, incomplete: str) -> list[str]:
    directory = _data_dir(Shared(data_dir=ctx.params.get("data_dir")))
    found = directory / LOG_DIR
    names = log_names(found) if found.is_dir() else []
    services = {name.rpartition("-")[0] for name in names} - {""}
    return [n for n in sorted(services | set(names)) if n.startswith(incomplete)]


def logs(
    ctx: typer.Context,
    *,
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="SERVICE",
            help="a service (catalog), one process (catalog-2), nats, prometheus, or mercato"
            " (the launcher); every process when left out",
            autocompletion=_complete_logs,
            show_default=False,
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="go on printing new lines until Ctrl-C", metavar=" "),
    ] = False,
    lines: Annotated[
        int, typer.Option("--lines", "-n", metavar="N", help="the last N lines (0: all)", min=0)
    ] = 100,
    raw: Annotated[bool, flag("--raw", "the lines as written, without the process's name")] = False,
    data_dir: DataDir = None,
    log_format: LogFormatOption = None,
) -> int:
    """Print what the processes logged (kept in the data directory), and follow it."""
    directory = _data_dir(shared(ctx, None, data_dir)) / LOG_DIR
    names = tailing.select(directory, name)
    printer = tailing.Printer(pretty=_pretty(log_format) and not raw, raw=raw)
    printer.register(names)
    try:
        printer.show(tailing.recent(directory, names, lines))
        if follow:
            tailing.follow(directory, name, names, printer)
    except KeyboardInterrupt:
        return 0  # how following ends
    except BrokenPipeError:
        return 0  # `mercato logs | head`
    return 0


def open_page(
    ctx: typer.Context,
    page: Annotated[
        Literal["shop", "console"],
        typer.Argument(help="the shop, or the operations console (/ops)"),
    ] = "shop",
    data_dir: DataDir = None,
) -> int:
    """Open the shop (or the console) of the running system in a browser."""
    directory = _data_dir(shared(ctx, None, data_dir))
    launcher = control.require_launcher(directory / RUN_DIR, directory)
    url = control.page_url(launcher, page)
    if control.open_in_browser(url):
        print(f"opened {url}")
    else:
        print(f"no browser found here; the {page} is at {url}")
    return 0

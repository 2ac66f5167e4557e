"""The `mercato` command: the composition root that declares and runs the whole system.

`topology` declares the services (ports, start order, environment, app factories);
`supervisor` runs them as separate processes, `nats` the embedded broker, and
`cli` is the typer front end (`mercato up`, `status`, `logs`, `run SERVICE`, ...;
`cli_system` and `cli_tasks` hold its commands, `params` their shared options).
What `up` shows is the `console` (JSON lines, as always, off a terminal) or the
`dashboard` (a live table, the URLs, readable lines from `pretty`); what it keeps for
the other commands is in the data directory: `logbook` (a log file per process) and
`state` (pid and state files), read by `status`, `tailing` and `control`.
This is the only package allowed to import every service.
"""

from __future__ import annotations

from collections.abc import Sequence

from mercato.launcher.errors import LauncherError, StartupError

__all__ = ["LauncherError", "StartupError", "main"]

EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """The `mercato` command: `launcher.cli.main`, imported here so that a Ctrl-C
    while its code loads (a second or so) ends it quietly, as one afterwards does."""
    try:
        from mercato.launcher.cli import main as run  # noqa: PLC0415

        # Called inside the try too: a Ctrl-C between the import's end and the
        # command's own handler (a few instructions) would otherwise escape as a
        # traceback-less death by SIGINT (exit -2, seen once in the tests).
        return run(argv)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED

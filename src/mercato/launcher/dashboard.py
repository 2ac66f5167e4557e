"""`mercato up` on a terminal: a live table while starting, the URLs, then readable logs.

    ⠹ Starting Mercato: 5 of 9 ready, 4.1 s
      process     state       pid    port   since
    ✓ nats        ready       4711   8242   4.1 s
    ⠹ catalog-1   migrating   4714   8130   3.9 s
    ...
    ╭──────────── Mercato is ready in 7.3 s ────────────╮
    │ shop       http://127.0.0.1:8000/                  │
    │ console    http://127.0.0.1:8000/ops               │
    │ ...                                                │
    ╰─ data in .mercato · Ctrl-C or `mercato stop` stops ─╯
    catalog-1  │ 10:41:02 INF GET /api/catalog/products 200 3.1 ms

While the system starts, only what deserves a look is printed above the table: a
warning or an error, and any line that is not a log line (a configuration error,
the generated admin password); the rest is in the log files (`mercato logs`). Once
it is ready, every line is shown in the readable form of `launcher.pretty`. The
generated admin password, if auth printed one, is repeated in the panel.

`Dashboard` is what `--log-format pretty` chooses (the default on a terminal); off
a terminal it shows no live table (a pipe cannot redraw) but the same lines and panel.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TextIO

from rich.console import Console as RichConsole
from rich.console import Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from mercato.launcher.console import LAUNCHER, Announcement, Console
from mercato.launcher.logbook import SHOWN_ONCE
from mercato.launcher.pretty import Level, PrettyLines, level_of
from mercato.launcher.state import Phase, ProcessState

__all__ = ["Dashboard", "status_style"]

REFRESH_PER_SECOND = 8
_STYLES = {
    Phase.STARTING: "cyan",
    Phase.MIGRATING: "magenta",
    Phase.READY: "green",
    Phase.RESTARTING: "yellow",
    Phase.FAILED: "bold red",
    Phase.STOPPING: "dim",
}
_MARKS = {Phase.READY: "✓", Phase.FAILED: "✗", Phase.RESTARTING: "↻"}


def status_style(phase: str) -> str:
    """The colour of a phase (or of a health such as `down`) in tables."""
    try:
        return _STYLES[Phase(phase)]
    except ValueError:
        return "bold red"


class Dashboard(Console):
    """The readable view of the launcher's output (module docstring)."""

    def __init__(
        self, stream: TextIO | None = None, *, color: bool | None = None, live: bool | None = None
    ) -> None:
        super().__init__(stream, color=color)
        self.pretty = PrettyLines(color=self.color, launcher=LAUNCHER)
        self.rich = RichConsole(file=self.stream, highlight=False, no_color=not self.color)
        self.live = self.stream.isatty() if live is None else live
        self.admin: tuple[str, str] | None = None
        self._states: dict[str, ProcessState | None] = {}
        self._spinners: dict[str, Spinner] = {}
        self._began = time.monotonic()
        self._live: Live | None = None
        self._ready = False

    def register(self, names: Iterable[str]) -> None:
        """Reserve a prefix, a colour and a row of the table for each name."""
        names = list(names)
        super().register(names)
        self.pretty.register(names)
        for name in names:
            self._states.setdefault(name, None)

    def begin(self) -> None:
        """Show the live table (on a terminal)."""
        self._began = time.monotonic()
        if self.live and self._live is None:
            self._live = Live(
                console=self.rich,
                get_renderable=self._table,
                refresh_per_second=REFRESH_PER_SECOND,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()

    def changed(self, state: ProcessState) -> None:
        """Update the process's row."""
        self._states[state.name] = state

    def end(self) -> None:
        """Leave the table as it last was, and print below it from now on."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    def show(self, name: str, texts: Sequence[str]) -> None:
        """`name`'s lines, readable; before the system is ready, only the notable ones."""
        if self.admin is None:
            self._catch_admin(texts)
        if not self._ready:
            texts = [t for t in texts if Level.rank(level_of(t)) >= Level.RANKS["warning"]]
        if texts:
            self._emit("".join(f"{self.pretty.line(name, text)}\n" for text in texts))

    def say(self, text: str, *, routine: bool = False) -> None:
        """A line of the launcher's own; a routine one is left to the live table."""
        if self.logbook is not None:
            self.logbook.note(text)
        if not (routine and self._live is not None):
            self._emit(self.pretty.note(LAUNCHER, text) + "\n")

    def announce(self, announcement: Announcement) -> None:
        """Stop the table, print the URLs in a panel, and show every line from now on."""
        if self.logbook is not None:
            for text in announcement.lines:
                self.logbook.note(text)
        self.end()
        self.rich.print(self._panel(announcement))
        self._ready = True

    def _emit(self, text: str) -> None:
        if self._live is not None:  # printed above the live table
            self.rich.print(Text.from_ansi(text.rstrip("\n")), soft_wrap=True)
        else:
            self.write(text)

    def _catch_admin(self, texts: Sequence[str]) -> None:
        for text in texts:
            match = SHOWN_ONCE.search(text) if "with password " in text else None
            if match is not None and not text.startswith("{"):
                self.admin = (match["email"], match["password"])

    def _table(self) -> RenderableType:
        rows = list(self._states.items())
        ready = sum(1 for _, s in rows if s is not None and s.phase is Phase.READY)
        elapsed = time.monotonic() - self._began
        table = Table(box=None, padding=(0, 2, 0, 0), header_style="bold")
        for column in ("", "process", "state", "pid", "port", "since"):
            table.add_column(column, justify="right" if column in ("pid", "port") else "left")
        now = time.time()
        for name, state in rows:
            table.add_row(*self._row(name, state, now))
        title = Text.assemble(
            ("Starting Mercato: ", "bold"), f"{ready} of {len(rows)} ready, {elapsed:.1f} s"
        )
        spinner = self._spinners.setdefault("", Spinner("dots", style="cyan"))
        heading = Table.grid(padding=(0, 1))
        heading.add_row(spinner, title)
        return Group(heading, table)

    def _row(self, name: str, state: ProcessState | None, now: float) -> list[RenderableType]:
        if state is None:
            return [Text(" "), Text(name), Text("waiting", style="dim"), "", "", ""]
        style = _STYLES[state.phase]
        mark = _MARKS.get(state.phase)
        icon: RenderableType = (
            Text(mark, style=style)
            if mark is not None
            else self._spinners.setdefault(name, Spinner("dots", style=style))
        )
        since = f"{max(0.0, now - state.started_at):.1f} s"
        return [
            icon,
            Text(name),
            Text(state.phase.value, style=style),
            str(state.pid or ""),
            str(state.port or ""),
            since,
        ]

    def _panel(self, announcement: Announcement) -> Panel:
        grid = Table.grid(padding=(0, 3))
        grid.add_column(style="bold")
        grid.add_column()
        for what, where in announcement.urls:
            grid.add_row(what, Text(where, style="cyan" if "://" in where else ""))
        if self.admin is not None:
            email, password = self.admin
            grid.add_row(
                "admin",
                Text.assemble(email, "  password ", (password, "bold yellow"), "  (shown once)"),
            )
        return Panel(
            grid,
            title=Text(f"Mercato is ready in {announcement.seconds:.1f} s", style="bold green"),
            subtitle=Text(announcement.footer, style="dim") if announcement.footer else None,
            border_style="green",
            expand=False,
        )

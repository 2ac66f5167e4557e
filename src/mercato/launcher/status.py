"""`mercato status`: every process of a running system, and whether each is ready.

It reads what the launcher writes to `<data_dir>/run` (`launcher.state`), asks each
process what its probe asks (`GET /health/ready`; the broker's or the mail sink's
greeting) with a short timeout, all at once, and reads each one's memory (VmRSS) from
`/proc/<pid>/status`.
A process's health is `ready` when it answers so; otherwise what the supervisor
says of it (`starting`, `migrating`, `restarting`, `failed`, `stopping`) or, for
one that should be serving, `down` (no answer) or `not ready` (another answer).
The system is ready when every process is.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.table import Table
from rich.text import Text

from mercato.chassis.security.tls import client_context
from mercato.launcher.certificates import LAUNCHER, TLS_DIR, TlsFiles
from mercato.launcher.dashboard import status_style
from mercato.launcher.probe import http_status, nats_ok, smtp_ok
from mercato.launcher.state import LauncherState, Phase, ProcessState, process_states
from mercato.launcher.topology import SERVICES

__all__ = [
    "PROBE_TIMEOUT",
    "ProcessStatus",
    "SystemStatus",
    "duration",
    "memory_of",
    "size",
    "status_table",
    "system_status",
]

PROBE_TIMEOUT = 1.0
READY = "ready"
_WAITING = (Phase.STARTING, Phase.MIGRATING)
_SAID = (Phase.RESTARTING, Phase.FAILED, Phase.STOPPING)


@dataclass(frozen=True)
class ProcessStatus:
    """One process as `mercato status` shows it."""

    name: str
    service: str
    pid: int | None
    port: int | None
    health: str
    uptime: float | None  # seconds
    memory: int | None  # bytes
    restarts: int

    @property
    def ready(self) -> bool:
        """Whether it answers that it is ready."""
        return self.health == READY

    def as_json(self) -> dict[str, Any]:
        """Its fields for `--json`."""
        return {
            "name": self.name,
            "service": self.service,
            "pid": self.pid,
            "port": self.port,
            "health": self.health,
            "ready": self.ready,
            "uptime_seconds": None if self.uptime is None else round(self.uptime, 1),
            "memory_bytes": self.memory,
            "restarts": self.restarts,
        }


@dataclass(frozen=True)
class SystemStatus:
    """The launcher and every process it supervises."""

    launcher: LauncherState
    processes: Sequence[ProcessStatus]
    now: float

    @property
    def ready(self) -> bool:
        """Whether every process is ready."""
        return bool(self.processes) and all(p.ready for p in self.processes)

    def as_json(self) -> dict[str, Any]:
        """The whole status for `--json`."""
        gateway = self.launcher.gateway
        return {
            "ready": self.ready,
            "launcher": {
                "pid": self.launcher.pid,
                "uptime_seconds": round(self.now - self.launcher.started_at, 1),
                "gateway": gateway,
                "shop": f"{gateway}/",
                "console": f"{gateway}/ops",
                "operator": self.launcher.operator,
                "data_dir": self.launcher.data_dir,
            },
            "processes": [p.as_json() for p in self.processes],
        }

    def summary(self) -> str:
        """One line: all ready, or which are not."""
        if not self.processes:
            return "no process has started yet"
        waiting = [p for p in self.processes if not p.ready]
        if not waiting:
            return f"all {len(self.processes)} processes are ready"
        named = ", ".join(f"{p.name} ({p.health})" for p in waiting)
        return f"{len(waiting)} of {len(self.processes)} processes are not ready: {named}"


def memory_of(pid: int) -> int | None:
    """The resident memory of `pid` in bytes (None where /proc cannot tell)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


def _order(state: ProcessState) -> tuple[int, str]:
    names = [s.name for s in SERVICES]
    if state.service in names:
        return names.index(state.service) + 1, state.name
    return (0 if state.health.startswith("nats:") else len(names) + 1), state.name


def _tls(data_dir: Path) -> ssl.SSLContext | None:
    files = TlsFiles(data_dir / TLS_DIR)
    try:
        return client_context(files.ca, (files.certificate(LAUNCHER), files.key(LAUNCHER)))
    except (OSError, ValueError):
        return None  # its processes will not answer us: `down`


async def _answer(state: ProcessState, tls: ssl.SSLContext | None) -> str:
    """What the process's probe says: `ready`, `down` or `not ready`."""
    url = urlsplit(state.health)
    host, port = url.hostname or "127.0.0.1", url.port
    if port is None:
        return "unknown"
    if url.scheme == "nats":
        return READY if await nats_ok(host, port, PROBE_TIMEOUT) else "down"
    if url.scheme == "smtp":  # the development mail sink
        return READY if await smtp_ok(host, port, PROBE_TIMEOUT) else "down"
    context = tls if url.scheme == "https" else None
    code = await http_status(host, port, url.path or "/", PROBE_TIMEOUT, context)
    if code is None:
        return "down"
    return READY if code == 200 else "not ready"


async def _health(state: ProcessState, tls: ssl.SSLContext | None) -> str:
    if state.phase in _SAID:
        return state.phase.value
    if state.pid is None:
        return "down"
    answer = await _answer(state, tls)
    return state.phase.value if answer != READY and state.phase in _WAITING else answer


async def _probe_all(states: Sequence[ProcessState], data_dir: Path) -> list[str]:
    tls = _tls(data_dir) if any(s.health.startswith("https:") for s in states) else None
    return list(await asyncio.gather(*(_health(state, tls) for state in states)))


def system_status(launcher: LauncherState, run_dir: Path) -> SystemStatus:
    """Ask every process of the running system how it is."""
    states = sorted(process_states(run_dir), key=_order)
    healths = asyncio.run(_probe_all(states, Path(launcher.data_dir)))
    now = time.time()
    processes = [
        ProcessStatus(
            name=state.name,
            service=state.service,
            pid=state.pid,
            port=state.port,
            health=health,
            uptime=None if state.pid is None else max(0.0, now - state.started_at),
            memory=None if state.pid is None else memory_of(state.pid),
            restarts=state.restarts,
        )
        for state, health in zip(states, healths, strict=True)
    ]
    return SystemStatus(launcher, processes, now)


def duration(seconds: float) -> str:
    """`42 s`, `4m 03s`, `2h 05m`, `3d 04h`."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def size(count: int) -> str:
    """Bytes as MiB (or GiB), one decimal."""
    mib = count / (1 << 20)
    return f"{mib:.1f} MiB" if mib < 1024 else f"{mib / 1024:.2f} GiB"


def status_table(status: SystemStatus) -> Table:
    """The processes as a table."""
    launcher = status.launcher
    title = (
        f"Mercato at {launcher.gateway} (launcher pid {launcher.pid},"
        f" up {duration(status.now - launcher.started_at)})"
    )
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in ("process", "service", "pid", "port", "health", "uptime", "memory", "restarts"):
        numeric = column in ("pid", "port", "uptime", "memory", "restarts")
        table.add_column(column, justify="right" if numeric else "left")
    for p in status.processes:
        table.add_row(
            p.name,
            p.service,
            "-" if p.pid is None else str(p.pid),
            "-" if p.port is None else str(p.port),
            Text(p.health, style="green" if p.ready else status_style(p.health)),
            "-" if p.uptime is None else duration(p.uptime),
            "-" if p.memory is None else size(p.memory),
            Text(str(p.restarts), style="yellow" if p.restarts else ""),
        )
    return table

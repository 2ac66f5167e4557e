"""What a running `mercato up` says about itself, in small files of `<data_dir>/run`.

    run/mercato.lock      the launcher's lock (flock) and pid, while it runs
    run/mercato.json      the launcher: pid, start time, gateway URL, operator URL
    run/<name>.pid        a process's pid (what tests and benchmarks read)
    run/<name>.json       a process: service, pid, port, health URL, start time,
                          restarts and its phase (below)

The supervisor rewrites a process's file whenever its phase changes, atomically
(a new file renamed over the old), and removes both of its files once it has
stopped; the launcher writes its own at start and removes it at exit. `mercato
status`, `stop` and `open` read them and nothing else, so they need no connection to
the launcher. A launcher killed with SIGKILL leaves its files behind:
`running_launcher` therefore believes `mercato.json` only while its pid is a live
`mercato` process.

Phases: `starting` (spawned: importing its code, or waiting for its turn),
`migrating` (it logged a schema migration), `ready` (its readiness probe answered),
`restarting` (it exited; the supervisor starts it again), `failed` (it will not be
started again), `stopping`.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from mercato.chassis.security.private_files import private_directory

__all__ = [
    "LAUNCHER_FILE",
    "LauncherState",
    "Phase",
    "ProcessState",
    "is_alive",
    "process_states",
    "remove_state",
    "running_launcher",
    "write_json",
    "write_state",
]

LAUNCHER_FILE = "mercato.json"


class Phase(StrEnum):
    """Where a supervised process is in its life (module docstring)."""

    STARTING = "starting"
    MIGRATING = "migrating"
    READY = "ready"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPING = "stopping"


@dataclass(frozen=True)
class ProcessState:
    """One supervised process, as `run/<name>.json` holds it."""

    name: str  # `catalog-2`, `nats`, `prometheus`
    service: str  # `catalog`; the name for the broker and Prometheus
    pid: int | None
    port: int | None
    health: str  # what shows it ready: `http(s)://host:port/path` or `nats://host:port`
    started_at: float  # when its current process started (seconds since the epoch)
    restarts: int
    phase: Phase

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ProcessState:
        """The state a file holds; KeyError, TypeError or ValueError if it is not one."""
        pid, port = doc["pid"], doc["port"]
        return cls(
            name=str(doc["name"]),
            service=str(doc["service"]),
            pid=None if pid is None else int(pid),
            port=None if port is None else int(port),
            health=str(doc["health"]),
            started_at=float(doc["started_at"]),
            restarts=int(doc["restarts"]),
            phase=Phase(doc["phase"]),
        )


@dataclass(frozen=True)
class LauncherState:
    """The running launcher, as `run/mercato.json` holds it."""

    pid: int
    started_at: float
    gateway: str  # the public URL, e.g. http://127.0.0.1:8000
    operator: str  # the gateway's operator URL (metrics, health, docs)
    data_dir: str

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> LauncherState:
        """The state a file holds; KeyError, TypeError or ValueError if it is not one."""
        return cls(
            pid=int(doc["pid"]),
            started_at=float(doc["started_at"]),
            gateway=str(doc["gateway"]),
            operator=str(doc["operator"]),
            data_dir=str(doc["data_dir"]),
        )


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Replace `path` with `doc` at once (owner-only): a reader sees the old or the new."""
    private_directory(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(doc, out)
    os.replace(temporary, path)


def write_state(run_dir: Path, state: ProcessState) -> None:
    """Write a process's state file."""
    write_json(run_dir / f"{state.name}.json", asdict(state))


def remove_state(run_dir: Path, name: str) -> None:
    """Remove a process's state file (it has stopped)."""
    (run_dir / f"{name}.json").unlink(missing_ok=True)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def process_states(run_dir: Path) -> list[ProcessState]:
    """Every process's state in `run_dir` (files that are not states are skipped)."""
    found: list[ProcessState] = []
    for path in sorted(run_dir.glob("*.json")):
        if path.name == LAUNCHER_FILE:
            continue
        doc = _read(path)
        if doc is None:
            continue
        with contextlib.suppress(KeyError, TypeError, ValueError):
            found.append(ProcessState.from_json(doc))
    return found


def is_alive(pid: int, *, command: bytes = b"") -> bool:
    """Whether `pid` is a live process (not a zombie) whose command line holds `command`."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return not command  # someone else's: not ours to call a launcher
    proc = Path("/proc") / str(pid)
    try:
        status = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        line = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return True  # no /proc (macOS): the signal test is all there is
    return status != "Z" and command in line


def running_launcher(run_dir: Path) -> LauncherState | None:
    """The launcher that runs from this data directory, if one does."""
    doc = _read(run_dir / LAUNCHER_FILE)
    if doc is None:
        return None
    try:
        state = LauncherState.from_json(doc)
    except (KeyError, TypeError, ValueError):
        return None
    return state if is_alive(state.pid, command=b"mercato") else None

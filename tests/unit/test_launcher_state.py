"""What a running launcher writes about itself (`run/*.json`) and how it is read back.

The supervisor runs real child processes here; the console that is told of each
phase is a real `Console` that also keeps what it was told.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mercato.launcher.console import Console
from mercato.launcher.errors import StartupError
from mercato.launcher.state import (
    LAUNCHER_FILE,
    Phase,
    ProcessState,
    is_alive,
    process_states,
    running_launcher,
    write_json,
    write_state,
)
from mercato.launcher.supervisor import Probe, ProcessSpec, Supervisor

SLEEPER = "import time; print('up', flush=True); time.sleep(60)"
MIGRATING = (
    "import json, time\n"
    "line = {'ts': '2026-01-01T00:00:00.000Z', 'level': 'info', 'service': 'x',"
    " 'logger': 'alembic.runtime.migration', 'msg': 'Running upgrade  -> 0001, first'}\n"
    "print(json.dumps(line, separators=(',', ':')), flush=True)\n"
    "time.sleep(60)\n"
)


class PhaseLog(Console):
    """A console that also keeps every phase it is told of."""

    def __init__(self) -> None:
        super().__init__(io.StringIO(), color=False)
        self.told: list[tuple[str, Phase]] = []

    def changed(self, state: ProcessState) -> None:
        self.told.append((state.name, state.phase))


def gate(path: Path) -> Probe:
    """A readiness probe that answers yes once `path` exists."""

    async def probe() -> bool:
        return os.path.exists(path)  # noqa: ASYNC240 (a stat of a local file)

    return probe


def spec(name: str, code: str, ready: Path, port: int = 8130) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        argv=[sys.executable, "-c", code],
        env=dict(os.environ),
        probe=gate(ready),
        service="catalog",
        port=port,
        health=f"http://127.0.0.1:{port}/health/ready",
    )


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def state_of(run_dir: Path, name: str) -> dict[str, object] | None:
    try:
        loaded: dict[str, object] = json.loads((run_dir / f"{name}.json").read_text())
    except FileNotFoundError:
        return None
    return loaded


async def test_each_phase_is_written_to_the_state_file_and_told(tmp_path: Path) -> None:
    run_dir, ready = tmp_path / "run", tmp_path / "ready"
    console = PhaseLog()
    supervisor = Supervisor(console, run_dir)
    child = supervisor.launch(spec("catalog-1", SLEEPER, ready))
    await eventually(lambda: child.pid is not None)
    first = child.pid

    starting = state_of(run_dir, "catalog-1")
    assert starting is not None
    assert {k: starting[k] for k in ("name", "service", "pid", "port", "health", "restarts")} == {
        "name": "catalog-1",
        "service": "catalog",
        "pid": first,
        "port": 8130,
        "health": "http://127.0.0.1:8130/health/ready",
        "restarts": 0,
    }
    assert starting["phase"] == "starting"
    assert abs(float(str(starting["started_at"])) - time.time()) < 30
    assert (run_dir / "catalog-1.json").stat().st_mode & 0o777 == 0o600

    ready.touch()
    await child.wait_ready(10)
    assert state_of(run_dir, "catalog-1") == {**starting, "phase": "ready"}

    assert first is not None
    os.kill(first, signal.SIGKILL)
    await eventually(lambda: (state_of(run_dir, "catalog-1") or {}).get("restarts") == 1)
    await eventually(lambda: console.told[-1] == ("catalog-1", Phase.READY))
    again = state_of(run_dir, "catalog-1")
    assert again is not None
    assert again["pid"] == child.pid != first
    assert again["phase"] == "ready"

    await supervisor.stop(grace=5)
    assert state_of(run_dir, "catalog-1") is None
    assert not (run_dir / "catalog-1.pid").exists()
    assert [phase for _, phase in console.told] == [
        Phase.STARTING,
        Phase.READY,
        Phase.RESTARTING,  # it exited
        Phase.RESTARTING,  # its new process started
        Phase.READY,
        Phase.STOPPING,
    ]


async def test_a_schema_migration_in_its_log_shows_it_migrating(tmp_path: Path) -> None:
    run_dir, ready = tmp_path / "run", tmp_path / "ready"
    console = PhaseLog()
    supervisor = Supervisor(console, run_dir)
    child = supervisor.launch(spec("orders-1", MIGRATING, ready))

    await eventually(lambda: (state_of(run_dir, "orders-1") or {}).get("phase") == "migrating")
    ready.touch()
    await child.wait_ready(10)
    await supervisor.stop(grace=5)
    assert [phase for _, phase in console.told][:3] == [
        Phase.STARTING,
        Phase.MIGRATING,
        Phase.READY,
    ]


async def test_a_process_that_cannot_start_is_failed(tmp_path: Path) -> None:
    console = PhaseLog()
    supervisor = Supervisor(console, tmp_path / "run")
    child = supervisor.launch(spec("auth-1", "raise SystemExit(2)", tmp_path / "never"))

    with pytest.raises(StartupError):
        await child.wait_ready(10)
    await supervisor.stop(grace=5)
    assert console.told[-1] == ("auth-1", Phase.FAILED)
    assert process_states(tmp_path / "run") == []


def test_states_are_read_back_and_what_is_not_one_is_skipped(tmp_path: Path) -> None:
    state = ProcessState("nats", "nats", 42, 8242, "nats://127.0.0.1:8242", 1.5, 2, Phase.READY)
    write_state(tmp_path, state)
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text('{"name": "x"}')
    write_json(tmp_path / LAUNCHER_FILE, {"pid": 1})

    assert process_states(tmp_path) == [state]


@pytest.fixture
def stand_in() -> Iterator[subprocess.Popen[bytes]]:
    """A live process whose command line names `mercato`, as a launcher's does."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "mercato"])
    yield process
    process.kill()
    process.wait()


def launcher_file(run_dir: Path, pid: int) -> None:
    write_json(
        run_dir / LAUNCHER_FILE,
        {
            "pid": pid,
            "started_at": time.time(),
            "gateway": "http://127.0.0.1:8000",
            "operator": "http://127.0.0.1:8100",
            "data_dir": str(run_dir.parent),
        },
    )


def test_the_launcher_is_believed_while_its_pid_is_a_live_mercato(
    tmp_path: Path, stand_in: subprocess.Popen[bytes]
) -> None:
    run_dir = tmp_path / "run"
    assert running_launcher(run_dir) is None  # no file

    launcher_file(run_dir, stand_in.pid)
    found = running_launcher(run_dir)
    assert found is not None
    assert (found.pid, found.gateway) == (stand_in.pid, "http://127.0.0.1:8000")

    stand_in.kill()  # not waited for: a zombie until the fixture reaps it
    deadline = time.monotonic() + 5
    while is_alive(stand_in.pid, command=b"mercato") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_launcher(run_dir) is None


def test_a_pid_that_is_not_a_launcher_is_not_believed(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        launcher_file(tmp_path / "run", other.pid)
        assert is_alive(other.pid)
        assert running_launcher(tmp_path / "run") is None
    finally:
        other.kill()
        other.wait()

"""`mercato status`'s health of each process, against real local servers."""

from __future__ import annotations

import os
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mercato.launcher.state import LauncherState, Phase, ProcessState, write_state
from mercato.launcher.status import duration, memory_of, size, status_table, system_status


class Health(BaseHTTPRequestHandler):
    """Answers 200 on /ok and 503 on anything else."""

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class Greeting(socketserver.BaseRequestHandler):
    """Greets as a NATS server does."""

    def handle(self) -> None:
        self.request.sendall(b'INFO {"server_id":"test"}\r\n')


@pytest.fixture
def http_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def nats_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Greeting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launcher(tmp_path: Path) -> LauncherState:
    return LauncherState(
        pid=os.getpid(),
        started_at=time.time() - 75,
        gateway="http://127.0.0.1:8000",
        operator="http://127.0.0.1:8100",
        data_dir=str(tmp_path),
    )


def state(name: str, health: str, phase: Phase = Phase.READY, pid: int | None = 0) -> ProcessState:
    service = name.rpartition("-")[0] or name
    return ProcessState(
        name=name,
        service=service,
        pid=os.getpid() if pid == 0 else pid,
        port=int(health.rsplit(":", 1)[1].split("/", maxsplit=1)[0]),
        health=health,
        started_at=time.time() - 65,
        restarts=1 if name == "payments-1" else 0,
        phase=phase,
    )


def test_each_process_says_what_it_is(tmp_path: Path, http_port: int, nats_port: int) -> None:
    run_dir, down = tmp_path / "run", closed_port()
    web = f"http://127.0.0.1:{http_port}"
    for each in [
        state("catalog-2", f"{web}/fail"),
        state("catalog-1", f"{web}/ok"),
        state("orders-1", f"http://127.0.0.1:{down}/health/ready", Phase.STARTING),
        state("users-1", f"http://127.0.0.1:{down}/health/ready"),
        state("payments-1", f"{web}/ok", Phase.RESTARTING),
        state("logs-1", f"{web}/ok", pid=None),
        state("nats", f"nats://127.0.0.1:{nats_port}"),
    ]:
        write_state(run_dir, each)

    found = system_status(launcher(tmp_path), run_dir)

    health = {p.name: p.health for p in found.processes}
    assert list(health.items()) == [  # the broker first, then the topology's order
        ("nats", "ready"),
        ("users-1", "down"),
        ("catalog-1", "ready"),
        ("catalog-2", "not ready"),
        ("payments-1", "restarting"),
        ("logs-1", "down"),
        ("orders-1", "starting"),
    ]
    assert not found.ready
    assert found.summary() == (
        "5 of 7 processes are not ready: users-1 (down), catalog-2 (not ready),"
        " payments-1 (restarting), logs-1 (down), orders-1 (starting)"
    )
    catalog = found.processes[2]
    assert catalog.memory is not None and catalog.memory > 1 << 20
    assert catalog.uptime is not None and 64 <= catalog.uptime < 120
    doc = found.as_json()
    assert doc["ready"] is False
    assert doc["launcher"]["shop"] == "http://127.0.0.1:8000/"
    assert doc["launcher"]["console"] == "http://127.0.0.1:8000/ops"
    assert doc["processes"][4] | {"uptime_seconds": 0, "memory_bytes": 0} == {
        "name": "payments-1",
        "service": "payments",
        "pid": os.getpid(),
        "port": http_port,
        "health": "restarting",
        "ready": False,
        "uptime_seconds": 0,
        "memory_bytes": 0,
        "restarts": 1,
    }
    assert doc["processes"][5]["uptime_seconds"] is None  # no process: no uptime


def test_ready_when_every_process_answers(tmp_path: Path, http_port: int, nats_port: int) -> None:
    run_dir = tmp_path / "run"
    write_state(run_dir, state("gateway-1", f"http://127.0.0.1:{http_port}/ok"))
    write_state(run_dir, state("nats", f"nats://127.0.0.1:{nats_port}"))

    found = system_status(launcher(tmp_path), run_dir)

    assert found.ready
    assert found.summary() == "all 2 processes are ready"
    assert status_table(found).row_count == 2


def test_nothing_to_show_is_not_ready(tmp_path: Path) -> None:
    found = system_status(launcher(tmp_path), tmp_path / "run")
    assert not found.ready
    assert found.summary() == "no process has started yet"


def test_durations_and_sizes_read_well() -> None:
    assert [duration(s) for s in (5, 65, 3725, 90000)] == ["5 s", "1m 05s", "1h 02m", "1d 01h"]
    assert size(150 << 20) == "150.0 MiB"
    assert size(3 << 30) == "3.00 GiB"
    assert memory_of(2**22 + 12345) is None  # no such process


def test_the_mail_sink_is_ready_when_it_greets(tmp_path: Path) -> None:
    """The development mail sink's health is its SMTP greeting (`smtp://` in its state)."""
    run_dir, down = tmp_path / "run", closed_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(listener.getsockname()[1])

        def greet() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"220 sink ESMTP\r\n")

        threading.Thread(target=greet, daemon=True).start()
        write_state(run_dir, state("mail", f"smtp://127.0.0.1:{port}"))
        write_state(run_dir, state("mail-2", f"smtp://127.0.0.1:{down}"))
        found = system_status(launcher(tmp_path), run_dir)
    assert {p.name: p.health for p in found.processes} == {"mail": "ready", "mail-2": "down"}

"""A service process stopped with SIGTERM writes its last log lines before it exits.

Log lines are written in batches (`chassis.telemetry.logs`), and uvicorn ends a graceful
shutdown by raising the signal again; `chassis.web.serve` writes what is batched first.
Runs `mercato run users` as a real process on a free port, without a broker.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson

from tests.support.servers import closed_port


def _wait_until_served(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the service exited before it served"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {port} within {timeout}s")


def test_sigterm_stops_the_service_with_its_shutdown_lines_written(tmp_path: Path) -> None:
    port = closed_port()
    env = {
        **os.environ,
        "MERCATO_USERS_PORT": str(port),
        "MERCATO_USERS_DATA_DIR": str(tmp_path),
        "MERCATO_USERS_BROKER_URL": "",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mercato", "run", "users"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_served(port, process, timeout=30)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == -signal.SIGTERM
    lines = [orjson.loads(line) for line in output.splitlines() if line.startswith(b"{")]
    messages = [str(line["msg"]) for line in lines]
    assert "Application shutdown complete." in messages
    assert messages[-1].startswith("Finished server process"), messages[-3:]

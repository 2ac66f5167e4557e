"""Start and stop the systems under test: Mercato (`mercato up`) and the naive baseline."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Mercato", "free_base_port", "naive_system", "rss_mb", "start_mercato"]

OFFSETS = {"auth": 110, "users": 120, "catalog": 130}


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_base_port() -> int:
    """A gateway port whose whole block of service ports is free."""
    for base in range(21000, 60000, 500):
        if all(
            _port_free(base + off) for off in (0, 110, 120, 130, 131, 140, 150, 160, 242, 300, 301)
        ):
            return base
    raise RuntimeError("no free port block")


def wait_http(url: str, timeout: float = 60.0) -> None:
    """Wait until `url` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer in {timeout}s")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Mercato:
    """A running `mercato up`."""

    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    ready_seconds: float
    log: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        """The gateway's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def direct(self, service: str) -> str:
        """A service's base URL, bypassing the gateway."""
        return f"http://127.0.0.1:{self.port + OFFSETS[service]}"

    def pids(self) -> dict[str, int]:
        """The process ids the launcher wrote, by process name."""
        run = self.data_dir / "run"
        return {p.stem: int(p.read_text().strip()) for p in sorted(run.glob("*.pid"))}


@contextlib.contextmanager
def start_mercato(env: dict[str, str] | None = None) -> Iterator[Mercato]:
    """Run `mercato up` on free ports in a fresh data directory."""
    port = free_base_port()
    with tempfile.TemporaryDirectory(prefix="mercato-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        log = Path(tmp) / "mercato.log"
        started = time.perf_counter()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mercato",
                    "up",
                    "--port",
                    str(port),
                    "--data-dir",
                    str(data_dir),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        try:
            try:
                wait_http(f"http://127.0.0.1:{port}/health", timeout=90)
            except TimeoutError:
                sys.stderr.write(log.read_text()[-5000:])
                raise
            yield Mercato(port, data_dir, process, time.perf_counter() - started, log)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.contextmanager
def naive_system(auth_url: str, port: int) -> Iterator[str]:
    """The naive gateway on `port` in front of the naive service on `port + 1`."""
    with tempfile.TemporaryDirectory(prefix="mercato-naive-") as tmp:
        service = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.naive.service",
                str(port + 1),
                auth_url,
                f"{tmp}/naive.db",
            ]
        )
        gateway = subprocess.Popen(
            [sys.executable, "-m", "bench.naive.gateway", str(port), f"http://127.0.0.1:{port + 1}"]
        )
        try:
            deadline = time.monotonic() + 20
            while _port_free(port) or _port_free(port + 1):
                if time.monotonic() > deadline:
                    raise TimeoutError("the naive system did not start")
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            for process in (gateway, service):
                process.terminate()
                process.wait(10)

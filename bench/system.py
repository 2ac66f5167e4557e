"""Start and stop the systems under test: Mercato (`mercato up`) and the naive baseline."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Mercato",
    "Naive",
    "cpu_seconds",
    "free_base_port",
    "naive_system",
    "rss_mb",
    "start_mercato",
]

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


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); index 0 here is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


SERVICES_WITH_DATABASES = ("auth", "users", "catalog", "orders", "payments", "logs", "shipping")


@contextlib.contextmanager
def postgres_databases(server: str, prefix: str = "mercato_bench") -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database per service on `server` (dropped afterwards).

    Yields the `MERCATO_<SERVICE>_DATABASE_URL` variables pointing at them.
    """
    import asyncio  # noqa: PLC0415

    import asyncpg  # noqa: PLC0415

    tag = secrets.token_hex(4)
    names = {svc: f"{prefix}_{svc}_{tag}" for svc in SERVICES_WITH_DATABASES}

    async def each(statement: str) -> None:
        conn = await asyncpg.connect(f"postgresql://{server}/postgres")
        try:
            for name in names.values():
                await conn.execute(statement.format(name=name))
        finally:
            await conn.close()

    asyncio.run(each('CREATE DATABASE "{name}"'))
    try:
        yield {
            f"MERCATO_{svc.upper()}_DATABASE_URL": f"postgresql+asyncpg://{server}/{name}"
            for svc, name in names.items()
        }
    finally:
        asyncio.run(each('DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def mariadb_databases(server: str, prefix: str = "mercato_bench") -> Iterator[dict[str, str]]:
    """A fresh MariaDB (or MySQL) database per service (web's too) on `server`, dropped after.

    `server` is `user[:password]@host:port`. Yields the `MERCATO_<SERVICE>_DATABASE_URL`
    variables pointing at them (`mysql+asyncmy://`).
    """
    import asyncio  # noqa: PLC0415

    import asyncmy  # noqa: PLC0415

    credentials, _, address = server.rpartition("@")
    user, _, password = credentials.partition(":")
    host, _, port = address.partition(":")
    tag = secrets.token_hex(4)
    names = {svc: f"{prefix}_{svc}_{tag}" for svc in (*SERVICES_WITH_DATABASES, "web")}

    async def each(statement: str) -> None:
        conn = await asyncmy.connect(
            host=host, port=int(port or 3306), user=user, password=password, autocommit=True
        )
        try:
            async with conn.cursor() as cursor:
                for name in names.values():
                    await cursor.execute(statement.format(name=name))
        finally:
            conn.close()

    asyncio.run(each("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield {
            f"MERCATO_{svc.upper()}_DATABASE_URL": f"mysql+asyncmy://{server}/{name}"
            for svc, name in names.items()
        }
    finally:
        asyncio.run(each("DROP DATABASE IF EXISTS `{name}`"))


@contextlib.contextmanager
def start_mercato(
    env: dict[str, str] | None = None, settle: float = 15.0, args: Sequence[str] = ()
) -> Iterator[Mercato]:
    """Run `mercato up` on free ports in a fresh data directory.

    After it is ready, wait `settle` seconds: the first start imports the demo
    catalog, whose events flow through the relay, the broker and the audit log for a
    while, and would otherwise be measured too.
    """
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
                    *args,
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
            ready = time.perf_counter() - started
            time.sleep(settle)
            yield Mercato(port, data_dir, process, ready, log)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


@dataclass
class Naive:
    """The running naive baseline: its gateway's URL and its processes."""

    url: str
    pids: dict[str, int]


@contextlib.contextmanager
def naive_system(auth_url: str, port: int) -> Iterator[Naive]:
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
            yield Naive(
                f"http://127.0.0.1:{port}",
                {"naive-gateway": gateway.pid, "naive-service": service.pid},
            )
        finally:
            for process in (gateway, service):
                process.terminate()
                process.wait(10)

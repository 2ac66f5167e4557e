"""A small HTTP load generator: closed loop for throughput, fixed rate for latency.

Closed loop: N connections each send the next request when the previous answers;
that measures throughput at saturation. Fixed rate: requests are scheduled at a
constant rate and latency is counted from the time each was *due*, not sent, so a
stalled server cannot hide its tail (coordinated omission). `wrk` is used for the
closed loop when it is installed, being far lighter than a Python client.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import orjson
import uvloop

__all__ = ["Request", "Result", "closed_loop", "fixed_rate"]


@dataclass(frozen=True)
class Request:
    """What each iteration sends.

    With `paths`, the iterations take these paths (and query strings) in turn, on the
    host of `url`: a mix of requests rather than one repeated.
    """

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None
    paths: tuple[str, ...] = ()

    def urls(self) -> list[str]:
        """The URLs the iterations send to, in turn."""
        if not self.paths:
            return [self.url]
        parts = urlsplit(self.url)
        return [f"{parts.scheme}://{parts.netloc}{path}" for path in self.paths]


@dataclass(frozen=True)
class Result:
    """Figures of one run."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    tool: str

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def _percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _send(session: aiohttp.ClientSession, request: Request, url: str = "") -> bool:
    """Send `request` (to `url`, if given) and read the whole answer; whether it succeeded."""
    try:
        async with session.request(
            request.method, url or request.url, headers=request.headers, data=request.body
        ) as response:
            await response.read()
            return response.status < 400
    except aiohttp.ClientError:
        return False


async def _closed_loop_python(request: Request, connections: int, seconds: float) -> Result:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(first: int) -> None:
            nonlocal errors
            urls = itertools.islice(itertools.cycle(request.urls()), first, None)
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                if not await _send(session, request, next(urls)):
                    errors += 1
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(connections)))
        elapsed = time.perf_counter() - started
    return Result(
        len(latencies),
        errors,
        elapsed,
        _percentile(latencies, 0.5),
        _percentile(latencies, 0.99),
        "python",
    )


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_paths(paths: tuple[str, ...]) -> str:
    """A wrk `request` function taking `paths` in turn (nothing without paths)."""
    if not paths:
        return ""
    listed = ", ".join(orjson.dumps(path).decode() for path in paths)
    return (
        f"local paths = {{{listed}}}\nlocal turn = math.random(#paths)\n"
        "request = function()\n  turn = turn % #paths + 1\n"
        "  return wrk.format(nil, paths[turn])\nend\n"
    )


def _wrk_ms(text: str, label: str) -> float:
    match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    return float(match.group(1)) * _WRK_UNITS[match.group(2)] if match else float("nan")


def _closed_loop_wrk(
    wrk: str, request: Request, connections: int, seconds: float, timeout: float
) -> Result:
    script = "wrk.method = {m}\nwrk.body = {b}\n{h}\n{p}".format(
        m=orjson.dumps(request.method).decode(),
        b=orjson.dumps((request.body or b"").decode()).decode(),
        h="\n".join(
            f"wrk.headers[{orjson.dumps(k).decode()}] = {orjson.dumps(v).decode()}"
            for k, v in request.headers.items()
        ),
        p=_wrk_paths(request.paths),
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        lua = handle.name
    try:
        out = subprocess.run(
            [
                wrk,
                f"-t{min(2, connections)}",
                f"-c{connections}",
                f"-d{int(seconds)}s",
                "--latency",
                f"--timeout={timeout:g}s",
                "-s",
                lua,
                request.url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(lua).unlink(missing_ok=True)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Result(total, errors, total / rps, _wrk_ms(out, "50%"), _wrk_ms(out, "99%"), "wrk")


def closed_loop(
    request: Request, *, connections: int = 16, seconds: float = 10.0, timeout: float = 2.0
) -> Result:
    """Throughput at saturation with `connections` concurrent connections.

    wrk counts an answer slower than `timeout` as an error (the Python fallback waits).
    """
    wrk = shutil.which("wrk")
    if wrk:
        return _closed_loop_wrk(wrk, request, connections, seconds, timeout)
    return asyncio.run(_closed_loop_python(request, connections, seconds))


async def _fixed_rate(request: Request, rate: float, seconds: float, connections: int) -> Result:
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Open every connection first (and the gateway's to its backends): opening 16
        # at once is a start-up cost, not the latency of a system under steady load.
        await asyncio.gather(*(_send(session, request) for _ in range(connections)))

        async def one(due: float) -> None:
            nonlocal errors
            if not await _send(session, request):
                errors += 1
            latencies.append(time.perf_counter() - due)

        # Each request is started when it is due, not all created up front: thousands of
        # sleeping tasks made this generator itself the tail (a p99 of 26 ms at 1800/s
        # against a server answering in microseconds).
        in_flight: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(due))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.gather(*in_flight)
        elapsed = time.perf_counter() - start
    return Result(
        total,
        errors,
        elapsed,
        _percentile(latencies, 0.5),
        _percentile(latencies, 0.99),
        "python-fixed-rate",
    )


def fixed_rate(
    request: Request, *, rate: float, seconds: float = 5.0, connections: int = 16
) -> Result:
    """Latency at a constant request rate, counted from each request's due time."""
    return uvloop.run(_fixed_rate(request, rate, seconds, connections))


def median(values: list[float]) -> float:
    """The median of `values`."""
    return statistics.median(values)

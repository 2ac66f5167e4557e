"""Readiness probes the supervisor polls: an HTTP GET and the NATS greeting.

Plain asyncio streams, so that the launcher needs no HTTP client library and a probe
costs one short-lived local connection.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["http_ok", "nats_ok"]


async def _exchange(host: str, port: int, request: bytes, timeout: float) -> bytes:
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            if request:
                writer.write(request)
                await writer.drain()
            return await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def http_ok(host: str, port: int, path: str, timeout: float = 2.0) -> bool:
    """Whether `GET path` answers 200."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "User-Agent: mercato-launcher\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        line = await _exchange(host, port, request, timeout)
    except (OSError, TimeoutError):
        return False
    parts = line.split(maxsplit=2)
    return len(parts) >= 2 and parts[1] == b"200"


async def nats_ok(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a NATS server greets on `host:port`."""
    try:
        line = await _exchange(host, port, b"", timeout)
    except (OSError, TimeoutError):
        return False
    return line.startswith(b"INFO ")

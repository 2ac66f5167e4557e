"""Readiness probes the supervisor polls: an HTTP GET, the NATS and the SMTP greetings.

Plain asyncio streams, so that the launcher needs no HTTP client library and a probe
costs one short-lived local connection. Under `mercato up --tls` the HTTP probe
speaks TLS with the launcher's context: the development CA, and the launcher's own
client certificate, which services under mutual TLS require of every caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

__all__ = ["http_ok", "http_status", "nats_ok", "smtp_ok"]


async def _exchange(
    host: str, port: int, request: bytes, timeout: float, tls: ssl.SSLContext | None = None
) -> bytes:
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port, ssl=tls)
        try:
            if request:
                writer.write(request)
                await writer.drain()
            return await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def http_status(
    host: str, port: int, path: str, timeout: float = 2.0, tls: ssl.SSLContext | None = None
) -> int | None:
    """The status `GET path` answers with, or None without an answer (or TLS handshake)."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "User-Agent: mercato-launcher\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        line = await _exchange(host, port, request, timeout, tls)
    except (OSError, TimeoutError):  # ssl.SSLError is an OSError
        return None
    parts = line.split(maxsplit=2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    return int(parts[1])


async def http_ok(
    host: str, port: int, path: str, timeout: float = 2.0, tls: ssl.SSLContext | None = None
) -> bool:
    """Whether `GET path` answers 200 (over TLS with `tls`; a failed handshake is a no)."""
    return await http_status(host, port, path, timeout, tls) == 200


async def nats_ok(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a NATS server greets on `host:port`."""
    try:
        line = await _exchange(host, port, b"", timeout)
    except (OSError, TimeoutError):
        return False
    return line.startswith(b"INFO ")


async def smtp_ok(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether an SMTP server greets on `host:port` (a `220` line)."""
    try:
        line = await _exchange(host, port, b"", timeout)
    except (OSError, TimeoutError):
        return False
    return line.startswith(b"220")

"""Run one service's ASGI app with uvicorn (httptools + uvloop), as a container would.

The connections are served by `chassis.web.http_protocol.BoundedHttpProtocol` with the
settings' `http_*` bounds. uvicorn's own reading of `X-Forwarded-For` is off: it
believes any peer on 127.0.0.1 by default, and who the client is is the chassis'
rule to apply (`trusted_proxies`), not the web server's.
"""

from __future__ import annotations

import gc
import logging
import resource
import signal
import socket
from types import FrameType

import uvicorn
from fastapi import FastAPI

from mercato.chassis.config import ServiceSettings
from mercato.chassis.web.http_protocol import HttpLimits, bounded_protocol

__all__ = ["http_limits", "serve"]

# File descriptors kept back from connections: the database, the broker, logs, and
# the upstream connections of a service calling others.
_RESERVED_FILES = 256


def _open_file_limit() -> int:
    """Raise this process's open-file limit to its hard limit; the soft limit then."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def http_limits(settings: ServiceSettings, open_files: int | None = None) -> HttpLimits:
    """The connection bounds of `settings`, the total kept under the open-file limit."""
    files = _open_file_limit() if open_files is None else open_files
    return HttpLimits(
        head_timeout=settings.http_head_timeout_seconds,
        body_timeout=settings.http_body_timeout_seconds,
        keepalive_timeout=settings.http_keepalive_timeout_seconds,
        linger_timeout=settings.http_linger_seconds,
        max_request_line_bytes=settings.http_max_request_line_bytes,
        max_header_bytes=settings.http_max_header_bytes,
        max_headers=settings.http_max_headers,
        max_head_bytes=settings.http_max_head_bytes,
        max_drain_bytes=settings.max_body_bytes,
        linger_bytes=settings.http_linger_bytes,
        max_connections=max(1, min(settings.http_max_connections, files - _RESERVED_FILES)),
        max_connections_per_client=settings.http_max_connections_per_client,
        trusted_proxies=settings.trusted_proxies,
    )


def _flush_logs_then_terminate(signum: int, _: FrameType | None) -> None:
    """Write the log lines still batched, then die of `signum` as by default."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Serve `app` until SIGINT/SIGTERM, then drain in-flight requests and stop."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=bounded_protocol(http_limits(settings)),
        ws="none",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) or None,
        backlog=2048,
        # HTTPS when given a certificate; mutual TLS when a service is given a CA too
        # (`ServiceSettings.tls_*`). No cipher string: Python's defaults (forward
        # secrecy, no SHA-1 MACs, TLS 1.2 at least), not older uvicorns' "TLSv1".
        ssl_certfile=settings.tls_certfile,
        ssl_keyfile=settings.tls_keyfile,
        ssl_ca_certs=settings.tls_clients_ca,
        ssl_cert_reqs=settings.tls_cert_reqs,
        ssl_ciphers=None,
    )
    # The JSON lines never show the caller's file, thread or process, so a served
    # process's records need not collect them: the logging HOWTO's "Optimization"
    # switches, a stack walk and three lookups saved on each access line. (Set here,
    # not with the log format, so that tests running apps in-process keep them.)
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # The modules, schemas and the app built so far live as long as the process; frozen,
    # the collector's full passes skip them (such a pass took ~60 ms on the reference
    # machine, a pause every request in flight would wait out).
    gc.collect()
    gc.freeze()
    # After a graceful shutdown uvicorn restores the SIGTERM handler it found and
    # raises the signal again; the default action would end the process before the
    # batched log lines (`chassis.telemetry.logs`) of the shutdown are written.
    signal.signal(signal.SIGTERM, _flush_logs_then_terminate)
    ports = settings.listen_ports()
    sockets = [_listen(settings.host, p) for p in ports] if len(ports) > 1 else None
    uvicorn.Server(config).run(sockets=sockets)


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port`, as uvicorn binds its own (uvicorn listens on it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"mercato: cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock

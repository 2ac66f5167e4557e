"""Run one service's ASGI app with uvicorn (httptools + uvloop), as a container would."""

from __future__ import annotations

import gc
import logging
import signal
from types import FrameType

import uvicorn
from fastapi import FastAPI

from mercato.chassis.config import ServiceSettings

__all__ = ["serve"]


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
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) or None,
        timeout_keep_alive=30,
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
    # batched log lines (`chassis.logs`) of the shutdown are written.
    signal.signal(signal.SIGTERM, _flush_logs_then_terminate)
    uvicorn.Server(config).run()

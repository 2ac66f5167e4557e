"""Run one service's ASGI app with uvicorn (httptools + uvloop), as a container would."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from mercato.chassis.config import ServiceSettings

__all__ = ["serve"]


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
    )
    uvicorn.Server(config).run()

"""A service's app run in-process: its lifespan, and an httpx client talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from tests.support.tokens import TokenFactory


@asynccontextmanager
async def running(
    app: FastAPI, tokens: TokenFactory | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """Run `app`'s lifespan and give an HTTP client talking to it in-process.

    With `tokens`, the app verifies tokens against the test key instead of fetching
    auth's JWKS, which a service test does not run.
    """
    if tokens is not None:
        app.state.runtime.verifier.keys = tokens.keys
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client

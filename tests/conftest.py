"""Fixtures shared by every test level."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.support import TokenFactory, running


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    """One signing key for the whole run (RSA key generation is slow)."""
    return TokenFactory()


@pytest.fixture
async def client(app: FastAPI, tokens: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the module's `app` fixture, started (a module may override it)."""
    async with running(app, tokens) as client:
        yield client

"""Fixtures shared by every test level."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.e2e.system import REPORTS, admin, customer, otlp_receiver, shop, system
from tests.support.apps import running
from tests.support.event_store import db, tables
from tests.support.mail_server import smtp
from tests.support.tokens import TokenFactory

# The running system's fixtures, for every level that drives it (see tests.e2e.system),
# a service's event tables on SQLite (tests.support.event_store), and a real SMTP
# server (tests.support.mail_server).
__all__ = ["admin", "customer", "db", "otlp_receiver", "shop", "smtp", "system", "tables"]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each phase's report on the item, for `print_launcher_log`."""
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep the imported code's objects out of every later garbage collection.

    Service tests run several apps and their clients in one event loop, some with
    sub-second deadlines. A full collection walks every tracked object: with the
    whole suite imported that is ~180k of them before any test runs, and such a
    collection stalled the loop for up to 450 ms mid-test on a busy machine, long
    enough for a healthy instance to miss an attempt's deadline. What is alive now
    lives for the whole run anyway, so it is frozen out of the collector's work.
    """
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    """One signing key for the whole run (RSA key generation is slow)."""
    return TokenFactory()


@pytest.fixture
async def client(app: FastAPI, tokens: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the module's `app` fixture, started (a module may override it)."""
    async with running(app, tokens) as client:
        yield client

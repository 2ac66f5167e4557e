"""Fixtures of the catalog's inventory tests: the app in-process and two callers.

The catalog runs on SQLite in `tmp_path` without a broker, so its events stay in
the outbox table (see `tests.support.catalog_inventory.outbox`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from mercato.catalog.app import create_app
from mercato.catalog.settings import load_settings
from tests.support.catalog_inventory import Headers, service_headers
from tests.support.tokens import TokenFactory


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """The catalog app, not yet started."""
    return create_app(load_settings(data_dir=tmp_path, broker_url=""))


@pytest.fixture
def admin(tokens: TokenFactory) -> Headers:
    """An admin's headers."""
    return tokens.headers(roles=["admin"])


@pytest.fixture
def svc(tokens: TokenFactory) -> Headers:
    """The orders service's headers, as it calls the catalog."""
    return service_headers(tokens)

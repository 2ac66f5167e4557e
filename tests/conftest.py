"""Fixtures shared by every test level."""

from __future__ import annotations

import pytest

from tests.support import TokenFactory


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    """One signing key for the whole run (RSA key generation is slow)."""
    return TokenFactory()

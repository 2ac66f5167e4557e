"""The security level: each attack of the hardening work, tried and refused.

A test that drives the running system (the `system` fixture of `tests.e2e.system`,
shared with the e2e level) prints the launcher's log when it fails; the others run
without starting it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.system import print_launcher_log


@pytest.fixture(autouse=True)
def _launcher_log_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print what the launcher wrote while a failing test that used the system ran."""
    if "system" not in request.fixturenames:
        yield
        return
    yield from print_launcher_log(request, request.getfixturevalue("system"))

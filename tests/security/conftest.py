"""Fixtures of the security tests: the e2e system, driven through the real gateway.

The tests of an area that shows at the edge take the e2e fixtures, imported here so
that pytest finds them for this directory: `system` (a whole `mercato up` per
broker, session-scoped), `shop` (the client helper on its gateway), `customer`, `admin`,
and the hooks that print the launcher's log when a test fails. A session that runs
both tests/e2e and tests/security gets one definition of each from each conftest,
so it would start a second system; run the two levels in separate sessions.
"""

from __future__ import annotations

from tests.e2e.conftest import (
    _launcher_log_on_failure,
    admin,
    customer,
    pytest_runtest_makereport,
    shop,
    system,
)

__all__ = [
    "_launcher_log_on_failure",
    "admin",
    "customer",
    "pytest_runtest_makereport",
    "shop",
    "system",
]

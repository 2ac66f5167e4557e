"""End-to-end fixtures: the whole system from `mercato up`, driven only through the gateway.

The system and its fixtures (`system`, `shop`, `customer`, `admin`) are in
`tests.e2e.system`, shared with the security level; here every e2e test prints the
launcher's log when it fails, and the fuzzing runs last on each system.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.client import System
from tests.e2e.scale_out import SUMMARY
from tests.e2e.system import print_launcher_log

LAST_ON_EACH_SYSTEM = "test_fuzz.py"  # it leaves random products, carts and cards behind
# Systems of their own (on a terminal; scaled out): run before the shared one starts
# (never beside it).
FIRST = ("test_command_line.py", "test_scale_out.py")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the fuzzing module's tests after every other test on the same system,
    and the command line's (with a system of its own) before all of them.

    Runs after pytest has grouped the tests by the `system` parameter, and keeps
    that grouping, so that each system still starts once.
    """

    def system_of(item: pytest.Item) -> object:
        callspec = getattr(item, "callspec", None)
        return callspec.params.get("system") if callspec else None

    first = [item for item in items if item.path.name in FIRST]
    last = [item for item in items if item.path.name == LAST_ON_EACH_SYSTEM]
    ordered = [item for item in items if item.path.name not in (*FIRST, LAST_ON_EACH_SYSTEM)]
    for item in last:
        same = [k for k, other in enumerate(ordered) if system_of(other) == system_of(item)]
        ordered.insert(same[-1] + 1 if same else len(ordered), item)
    # Before the first test on a shared system (the browser tests' come before tests/e2e).
    here = next((k for k, item in enumerate(ordered) if system_of(item) is not None), len(ordered))
    items[:] = ordered[:here] + first + ordered[here:]


@pytest.fixture(autouse=True)
def _launcher_log_on_failure(request: pytest.FixtureRequest, system: System) -> Iterator[None]:
    """Print what the launcher (and every service) wrote while a failing test ran."""
    yield from print_launcher_log(request, system)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """The figures of the scale-out test (`test_scale_out.py`), when it ran."""
    lines = config.stash.get(SUMMARY, [])
    if lines:
        terminalreporter.section("scale-out")
        for line in lines:
            terminalreporter.write_line(line)

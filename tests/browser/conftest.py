"""Browser tests: Chromium driven by Playwright against the whole system from `mercato up`.

One system serves the whole session: the e2e `system` fixture (`tests.e2e.system`) on
the embedded NATS and SQLite, shared with the e2e tests when both run. Every test here
is marked `browser`; each module says `pytestmark = ON_NATS` (`tests.support.browser`),
so that the e2e fixture's other brokers are left out; and every test gets:

    browser      Chromium (Debian's `/usr/bin/chromium`), one per package run; a skip
                 with the reason without it, a failure under MERCATO_REQUIRE_SERVERS=1
    page         a fresh context (no cookies) with JavaScript on, at the shop's URL
    page_nojs    the same with JavaScript off: what works before any script runs
    screenshots  where pictures go (`docs/screenshots/` under MERCATO_SCREENSHOTS=1)

The UI's steps (`register`, `log_in`, `log_out`) and the axe audit (`audit`) are in
`tests.support.browser`. A failing test prints what the launcher wrote meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.e2e.client import System
from tests.e2e.system import print_launcher_log
from tests.support.browser import Screenshots, require_chromium

TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder `browser` (select with -m browser, or leave out)."""
    for item in items:
        if "tests/browser/" in item.path.as_posix():
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver, for the browser tests only."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    chromium = playwright.chromium.launch(executable_path=require_chromium(), headless=True)
    yield chromium
    chromium.close()


def _context(browser: Browser, system: System, *, javascript: bool) -> BrowserContext:
    context = browser.new_context(
        base_url=system.base_url, java_script_enabled=javascript, locale="en-GB"
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def page(browser: Browser, system: System) -> Iterator[Page]:
    """A page in a fresh context (no cookies), JavaScript on."""
    context = _context(browser, system, javascript=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def page_nojs(browser: Browser, system: System) -> Iterator[Page]:
    """A page in a fresh context with JavaScript off."""
    context = _context(browser, system, javascript=False)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="package")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    """Where the tests' pictures of pages go."""
    return Screenshots.for_session(tmp_path_factory.mktemp("screenshots"))


@pytest.fixture(autouse=True)
def _launcher_log_on_failure(request: pytest.FixtureRequest, system: System) -> Iterator[None]:
    """Print what the launcher (and every service) wrote while a failing test ran."""
    yield from print_launcher_log(request, system)

"""The browser tests' tools: Chromium found (or a skip), an axe audit, the UI's first steps.

`require_chromium` gives the path of Debian's Chromium, skips without it, and fails
instead under MERCATO_REQUIRE_SERVERS=1 (as CI runs). `audit` runs axe-core on a page
and fails on a serious or critical violation, printing every violation found.
`Screenshots` saves pictures of pages: to `docs/screenshots/` (the README's) when
MERCATO_SCREENSHOTS=1, else to the test session's temporary directory. `register`
and `log_in` are a customer's steps through the forms, as a person takes them
(by label and button name, the way Playwright's guides recommend).
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.support.servers import REQUIRE_SERVERS

CHROMIUM = Path("/usr/bin/chromium")
# Every browser module's mark: the e2e system on the embedded NATS (SQLite), only.
ON_NATS = pytest.mark.parametrize("system", ["nats"], indirect=True)
SCREENSHOTS = "MERCATO_SCREENSHOTS"
README_PICTURES = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "Browser-Passw0rd!"
BLOCKING = ("serious", "critical")
_AXE = Axe()


def require_chromium() -> str:
    """The path of Chromium; skip the test (fail under MERCATO_REQUIRE_SERVERS=1) without it."""
    if CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK):
        return str(CHROMIUM)
    reason = f"{CHROMIUM} is not installed (Debian's package 'chromium')"
    if os.environ.get(REQUIRE_SERVERS) == "1":
        pytest.fail(f"{reason}; {REQUIRE_SERVERS}=1 requires it", pytrace=False)
    pytest.skip(reason)


def audit(page: Page) -> None:
    """Fail on any serious or critical accessibility violation axe-core finds on `page`."""
    results = _AXE.run(page)
    violations = results.response["violations"]
    if violations:
        print(f"axe on {page.url}:\n{results.generate_report()}")
    blocking = [v["id"] for v in violations if v.get("impact") in BLOCKING]
    assert not blocking, f"serious or critical accessibility violations on {page.url}: {blocking}"


@dataclass(frozen=True)
class Screenshots:
    """Where pictures of pages go (`docs/screenshots/` only when asked for)."""

    directory: Path

    @classmethod
    def for_session(cls, scratch: Path) -> Screenshots:
        """The README's directory under MERCATO_SCREENSHOTS=1, else `scratch`."""
        if os.environ.get(SCREENSHOTS) == "1":
            README_PICTURES.mkdir(parents=True, exist_ok=True)
            return cls(README_PICTURES)
        return cls(scratch)

    def take(self, page: Page, name: str, *, full_page: bool = True) -> Path:
        """Save a picture of `page` as `<name>.png`; its path."""
        path = self.directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


@dataclass(frozen=True)
class Customer:
    """A customer the tests made through the UI."""

    name: str
    email: str
    password: str = PASSWORD


def new_customer(name: str = "Ada Browser") -> Customer:
    """A customer no test has used yet (not registered)."""
    return Customer(name, f"ada-{uuid.uuid4().hex[:12]}@example.com")


def register(page: Page, customer: Customer) -> None:
    """Create the account through the register form; the shop then shows its name."""
    page.goto("/register")
    page.get_by_label("Name").fill(customer.name)
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(customer.password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def log_in(page: Page, customer: Customer, *, next_path: str | None = None) -> None:
    """Log in through the login form; the shop then shows the Log out button."""
    page.goto("/login" if next_path is None else f"/login?next={next_path}")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(customer.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def log_out(page: Page) -> None:
    """Log out with the header's button; the shop then offers to log in."""
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name=re.compile(r"^Log in$"))).to_be_visible()
